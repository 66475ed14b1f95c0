"""The double-buffered tile pipeline: DRAM load -> compute -> DRAM store, overlapped.

Most chips process a layer as a sequence of tiles (folds, groups, batches). Each tile needs
``load_bytes`` from DRAM before its ``compute_cycles`` can start, and writes ``store_bytes``
back afterwards. With a double-buffered on-chip buffer the load of tile i+1 overlaps the
compute of tile i; compute waiting on a load is a memory stall (``stall.dram``). One simpy
event per tile and phase.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import simpy

from accelsim.engine.memory import DRAM, SRAMBuffer
from accelsim.engine.stats import Stats


@dataclass(frozen=True)
class Tile:
    """One unit of work: bytes to fetch, cycles of compute (stall-free), bytes to write back."""

    load_bytes: int
    compute_cycles: int
    store_bytes: int = 0


def run_tile_pipeline(tiles: Sequence[Tile], stats: Stats, *, dram_bytes_per_cycle: float,
                      dram_latency_cycles: int = 0, burst_bytes: int = 64,
                      double_buffered: bool = True, buffer_bytes: int = 1 << 62) -> int:
    """Simulate the tiles and return total cycles (compute plus exposed memory stalls)."""
    env = simpy.Environment()
    dram = DRAM(env, stats, bytes_per_cycle=dram_bytes_per_cycle, latency_cycles=dram_latency_cycles,
                burst_bytes=burst_bytes)
    buf = SRAMBuffer(env, stats, name="buffer", capacity_bytes=buffer_bytes, double_buffered=double_buffered)
    loaded = [env.event() for _ in tiles]
    writers: list[simpy.Process] = []

    def loader():
        for i, tile in enumerate(tiles):
            yield buf.acquire()
            yield from dram.transfer(tile.load_bytes)
            loaded[i].succeed()

    def compute():
        for i, tile in enumerate(tiles):
            start = env.now
            yield loaded[i]
            stats.stall("dram", env.now - start)
            yield env.timeout(tile.compute_cycles)
            buf.release()
            if tile.store_bytes:
                writers.append(env.process(dram.transfer(tile.store_bytes, write=True)))
        if writers:
            start = env.now
            yield simpy.AllOf(env, writers)
            stats.stall("dram_drain", env.now - start)

    env.process(loader())
    done = env.process(compute())
    env.run(until=done)
    return int(env.now)
