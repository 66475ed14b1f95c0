"""Queues, broadcast buses and barriers with back-pressure, on simpy."""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import Any

import simpy

from accelsim.engine.stats import Stats


class FIFO:
    """A bounded FIFO: ``put`` blocks while full (back-pressure), ``get`` blocks while empty."""

    def __init__(self, env: simpy.Environment, depth: int, name: str = "fifo"):
        if depth < 1:
            raise ValueError("FIFO depth must be at least 1")
        self.env, self.name, self.depth = env, name, depth
        self.store = simpy.Store(env, capacity=depth)
        self.max_occupancy = 0
        self._space: simpy.events.Event | None = None

    def put(self, item: Any) -> simpy.events.Event:
        ev = self.store.put(item)  # simpy stores the item at once when there is room
        self.max_occupancy = max(self.max_occupancy, len(self.store.items))
        return ev

    def get(self) -> simpy.events.Event:
        ev = self.store.get()
        ev.callbacks.append(self._freed)
        return ev

    def space(self) -> simpy.events.Event:
        """An event that fires when the next item leaves the FIFO (a slot frees up)."""
        if self._space is None:
            self._space = self.env.event()
        return self._space

    def _freed(self, _event: simpy.events.Event) -> None:
        waiter, self._space = self._space, None
        if waiter is not None:
            waiter.succeed()

    @property
    def full(self) -> bool:
        return len(self.store.items) >= self.depth

    def __len__(self) -> int:
        return len(self.store.items)


class BroadcastBus:
    """One producer broadcasting each item to every consumer FIFO.

    All or nothing: the item goes out only when every FIFO has room, and then all of them take it in
    the same cycle, so one full queue stalls all of them (EIE's rule: "broadcast stalls while any
    PE's queue is full"). The cycles spent waiting are recorded as ``stall.<cause>``.
    """

    def __init__(self, env: simpy.Environment, fifos: Sequence[FIFO], stats: Stats,
                 cause: str = "broadcast_full"):
        self.env, self.fifos, self.stats, self.cause = env, list(fifos), stats, cause

    def send(self, item: Any) -> Generator:
        start = self.env.now
        while full := [f for f in self.fifos if f.full]:
            yield simpy.AnyOf(self.env, [f.space() for f in full])
        for f in self.fifos:
            f.put(item)  # every queue has room: accepted at once
        self.stats.stall(self.cause, self.env.now - start)


class Barrier:
    """A reusable barrier: ``wait(party)`` returns when all ``parties`` have arrived.

    Per-party waiting time is added to ``stall.<cause>`` (inter-PE load imbalance).
    """

    def __init__(self, env: simpy.Environment, parties: int, stats: Stats, cause: str = "barrier"):
        self.env, self.parties, self.stats, self.cause = env, parties, stats, cause
        self._arrived = 0
        self._release = env.event()

    def wait(self) -> Generator:
        start = self.env.now
        release = self._release
        self._arrived += 1
        if self._arrived == self.parties:
            self._arrived = 0
            self._release = self.env.event()
            release.succeed()
        yield release
        self.stats.stall(self.cause, self.env.now - start)
