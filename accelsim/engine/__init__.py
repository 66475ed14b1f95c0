"""simpy building blocks shared by all chips: DRAM, SRAM buffer, FIFO, broadcast bus, barrier, Stats,
plus the double-buffered tile pipeline most chips use."""

from accelsim.engine.memory import DRAM, SRAMBuffer
from accelsim.engine.pipeline import Tile, run_tile_pipeline
from accelsim.engine.stats import Stats
from accelsim.engine.sync import FIFO, Barrier, BroadcastBus

__all__ = ["DRAM", "FIFO", "Barrier", "BroadcastBus", "SRAMBuffer", "Stats", "Tile", "run_tile_pipeline"]
