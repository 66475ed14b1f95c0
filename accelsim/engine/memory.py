"""DRAM channel and on-chip SRAM buffer: the memory levels every chip composes.

Time is in core cycles. A transfer is one simpy event per tile (never per word).
"""

from __future__ import annotations

import math
from collections.abc import Generator

import simpy

from accelsim.engine.stats import Stats


class DRAM:
    """One DRAM channel: fixed latency plus size / bandwidth, rounded up to whole bursts.

    Transfers are serialised on the channel (a simpy Resource of capacity 1), so concurrent
    requesters queue; counts ``dram:read``/``dram:write`` in bits and bytes moved at level ``dram``.
    """

    def __init__(self, env: simpy.Environment, stats: Stats, *, bytes_per_cycle: float,
                 latency_cycles: int = 0, burst_bytes: int = 64, name: str = "dram"):
        if bytes_per_cycle <= 0:
            raise ValueError("DRAM bandwidth must be positive")
        self.env, self.stats, self.name = env, stats, name
        self.bytes_per_cycle = bytes_per_cycle
        self.latency_cycles = latency_cycles
        self.burst_bytes = burst_bytes
        self.channel = simpy.Resource(env, capacity=1)

    def transfer_cycles(self, nbytes: int) -> int:
        if nbytes <= 0:
            return 0
        padded = math.ceil(nbytes / self.burst_bytes) * self.burst_bytes
        return self.latency_cycles + math.ceil(padded / self.bytes_per_cycle)

    def transfer(self, nbytes: int, *, write: bool = False) -> Generator:
        """simpy process: move ``nbytes`` over the channel."""
        if nbytes <= 0:
            return
        with self.channel.request() as req:
            yield req
            yield self.env.timeout(self.transfer_cycles(nbytes))
        self.stats.count(self.name, "write" if write else "read", nbytes * 8)
        self.stats.moved(self.name, nbytes)


class SRAMBuffer:
    """An on-chip buffer of ``capacity_bytes`` in ``banks`` banks, optionally double-buffered.

    With double buffering, each half holds one tile, so the next tile loads while the current one
    is consumed (``slots`` = 2); otherwise loading and computing alternate (``slots`` = 1). Access
    counts are in words of ``width_bits`` under ``<name>:read``/``<name>:write``.

    Timed accesses (:meth:`access`) go through ``ports`` ports; each port moves one word per bank
    per cycle, so a burst of ``words`` holds a port for ``ceil(words / banks)`` cycles and a third
    requester waits while two ports are busy.
    """

    def __init__(self, env: simpy.Environment, stats: Stats, *, name: str, capacity_bytes: int,
                 width_bits: int = 64, banks: int = 1, ports: int = 1, double_buffered: bool = True):
        if banks < 1 or ports < 1:
            raise ValueError("an SRAM needs at least one bank and one port")
        self.env, self.stats, self.name = env, stats, name
        self.capacity_bytes = capacity_bytes
        self.width_bits = width_bits
        self.banks = banks
        self.ports = simpy.Resource(env, capacity=ports)
        self.double_buffered = double_buffered
        self.slots = simpy.Container(env, capacity=2 if double_buffered else 1, init=2 if double_buffered else 1)

    @property
    def tile_bytes(self) -> int:
        """Largest tile one slot holds."""
        return self.capacity_bytes // (2 if self.double_buffered else 1)

    def fits(self, nbytes: int) -> bool:
        return nbytes <= self.tile_bytes

    def _words(self, nbytes: float) -> int:
        return math.ceil(nbytes * 8 / self.width_bits)

    def read(self, nbytes: float) -> None:
        self.stats.count(self.name, "read", self._words(nbytes))
        self.stats.moved(self.name, nbytes)

    def write(self, nbytes: float) -> None:
        self.stats.count(self.name, "write", self._words(nbytes))
        self.stats.moved(self.name, nbytes)

    def access(self, nbytes: float, *, write: bool = False) -> Generator:
        """simpy process: a timed burst through one port (waits for a free port), counted like read/write."""
        words = self._words(nbytes)
        with self.ports.request() as req:
            yield req
            yield self.env.timeout(math.ceil(words / self.banks))
        (self.write if write else self.read)(nbytes)

    def acquire(self) -> simpy.events.Event:
        """Claim a free slot (waits while both halves hold unconsumed tiles)."""
        return self.slots.get(1)

    def release(self) -> simpy.events.Event:
        return self.slots.put(1)
