"""Explicit statistics collector passed into every component (SimPy keeps no statistics itself)."""

from __future__ import annotations

from collections import Counter

import numpy as np


class Stats:
    """Action counts per (component, action), per-PE busy cycles, stall cycles by cause, bytes moved."""

    def __init__(self, num_pes: int = 1):
        self.actions: Counter[tuple[str, str]] = Counter()
        self.pe_busy = np.zeros(num_pes, dtype=np.int64)
        self.stalls: Counter[str] = Counter()
        self.bytes_moved: Counter[str] = Counter()

    def count(self, component: str, action: str, n: float = 1) -> None:
        if n:
            self.actions[(component, action)] += n

    def stall(self, cause: str, cycles: float) -> None:
        if cycles:
            self.stalls[cause] += cycles

    def moved(self, level: str, nbytes: float) -> None:
        if nbytes:
            self.bytes_moved[level] += nbytes

    def busy(self, pe: int | np.ndarray | slice, cycles: float | np.ndarray) -> None:
        self.pe_busy[pe] += cycles
