"""The resumable results directory of a sweep: one committed file per point, a lock, the table.

See :mod:`accelsim.sweep` for the layout.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from accelsim.errors import AccelsimError
from accelsim.sweep.spec import Point

log = logging.getLogger(__name__)


#: per-point columns placed right after ``point`` in the results table
POINT_COLUMNS = ["point", "preset", "weight_density", "act_density", "structure", "skipped_layers"]


class StoreError(AccelsimError):
    """A results directory is unusable (another sweep's results, unreadable files)."""


def _atomic_write(path: Path, write: Callable[[Path], Any]) -> None:
    """Write through ``write(tmp)`` to a hidden temporary name, fsync, then rename over ``path``."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _write_text(path: Path, text: str) -> None:
    _atomic_write(path, lambda tmp: tmp.write_text(text))


class Store:
    """A results directory: one committed file per point (see the module docstring for the layout)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.points_dir = self.root / "points"
        self.pe_dir = self.root / "pe"
        self.failures_dir = self.root / "failures"

    # -- setup ------------------------------------------------------------------------
    @property
    def meta_path(self) -> Path:
        return self.root / "sweep.json"

    def exists(self) -> bool:
        return self.meta_path.is_file()

    def meta(self) -> dict[str, Any]:
        if not self.exists():
            raise StoreError(f"{self.root}: not a sweep results directory (no sweep.json); "
                             "make one with `accelsim sweep SPEC.yaml -o DIR`")
        try:
            return json.loads(self.meta_path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise StoreError(f"{self.meta_path}: unreadable ({exc})") from None

    def _check_usable(self) -> None:
        if not self.exists() and self.root.exists() and any(p.name != ".lock" for p in self.root.iterdir()):
            raise StoreError(f"{self.root} exists and is not a sweep results directory; use a new or empty one")

    @contextlib.contextmanager
    def locked(self) -> Iterator[int | None]:
        """Hold the directory's lock while a sweep writes to it (one writer at a time).

        Yields the lock's file descriptor (forked workers close their copy), or None without flock.
        The lock dies with the process, so a killed sweep never leaves the directory locked.
        """
        self._check_usable()
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock
            yield None
            return
        fh = open(self.root / ".lock", "a+")  # noqa: SIM115 (held for the whole sweep)
        try:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise StoreError(f"{self.root}: another sweep is writing to this directory; "
                                 "wait for it to finish or use another directory") from None
            yield fh.fileno()
        finally:
            fh.close()

    def init(self, doc: Mapping[str, Any], points: list[Point], spec_text: str | None) -> None:
        """Create the directory, or check that it holds this same sweep (then it is resumed).

        Call it holding :meth:`locked` (it removes temporaries a killed run left behind).
        """
        from accelsim.version import __version__

        ids = [p.id for p in points]
        if self.exists():
            meta = self.meta()
            old = [p["id"] for p in meta.get("points", [])]
            if set(old) != set(ids):
                raise StoreError(f"{self.root} holds results of a different sweep spec "
                                 f"({len(old)} points, {len(set(old) & set(ids))} shared with this spec); "
                                 "use a new results directory")
            if meta.get("accelsim_version") != __version__:
                log.warning("%s was started with accelsim %s, resuming with %s (rows carry accelsim_version)",
                            self.root, meta.get("accelsim_version"), __version__)
        else:
            self._check_usable()
        for d in (self.points_dir, self.pe_dir, self.failures_dir):
            d.mkdir(parents=True, exist_ok=True)
        for tmp in itertools.chain(*(d.glob(".*.tmp") for d in (self.root, self.points_dir, self.pe_dir,
                                                                 self.failures_dir))):
            tmp.unlink(missing_ok=True)  # left by a killed run
        if not self.exists():
            if spec_text is not None:
                _write_text(self.root / "spec.yaml", spec_text)
            meta = {"format": "accelsim-sweep", "version": 1, "accelsim_version": __version__,
                    "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "spec": doc,
                    "points": [p.to_dict() for p in points]}
            _write_text(self.meta_path, json.dumps(meta, indent=1, default=str))

    # -- points -----------------------------------------------------------------------
    def done_ids(self) -> set[str]:
        return {p.stem for p in self.points_dir.glob("*.parquet") if not p.name.startswith(".")}

    def points(self) -> list[Point]:
        return [Point.from_dict(p) for p in self.meta().get("points", [])]

    def commit(self, outcome: Mapping[str, Any]) -> None:
        """Store one finished point: PE data first, then its rows (the commit), then clear any failure."""
        pid = outcome["id"]
        _atomic_write(self.pe_dir / f"{pid}.parquet", lambda tmp: pd.DataFrame(outcome["pe"]).to_parquet(tmp))
        _atomic_write(self.points_dir / f"{pid}.parquet",
                      lambda tmp: pd.DataFrame(outcome["rows"]).to_parquet(tmp, index=False))
        (self.failures_dir / f"{pid}.json").unlink(missing_ok=True)

    def record_failure(self, point: Point, error: str, tb: str) -> None:
        doc = {"point": point.to_dict(), "label": point.label(), "error": error, "traceback": tb,
               "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        _write_text(self.failures_dir / f"{point.id}.json", json.dumps(doc, indent=1, default=str))

    def failures(self) -> list[dict[str, Any]]:
        out = []
        for f in sorted(self.failures_dir.glob("*.json")):
            if f.name.startswith("."):
                continue
            try:
                out.append(json.loads(f.read_text()))
            except (OSError, json.JSONDecodeError) as exc:
                raise StoreError(f"{f}: unreadable failure record ({exc})") from None
        order = {p["id"]: i for i, p in enumerate(self.meta().get("points", []))}
        return sorted(out, key=lambda d: order.get(d["point"]["id"], len(order)))

    def load(self) -> pd.DataFrame:
        """The consolidated table: every committed point's rows, in spec order."""
        order = [p["id"] for p in self.meta().get("points", [])]
        done = self.done_ids()
        frames = [pd.read_parquet(self.points_dir / f"{pid}.parquet") for pid in order if pid in done]
        return combine(frames)

    def load_pe(self) -> pd.DataFrame:
        """Per (point, layer): cycles, PE grid shape and the per-PE busy-cycle list."""
        order = [p["id"] for p in self.meta().get("points", [])]
        frames = [pd.read_parquet(self.pe_dir / f"{pid}.parquet") for pid in order
                  if (self.pe_dir / f"{pid}.parquet").is_file()]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
            columns=["point", "layer", "cycles", "grid_rows", "grid_cols", "busy_cycles"])


def combine(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate per-point frames (columns may differ between chips); missing energy/stall = 0."""
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame(columns=POINT_COLUMNS)
    df = pd.concat(frames, ignore_index=True, sort=False)
    zero_cols = [c for c in df.columns if c.startswith(("energy_pj.", "stall."))]
    df[zero_cols] = df[zero_cols].fillna(0.0)
    for c in ("weight_density", "act_density"):
        df[c] = pd.to_numeric(df[c], errors="coerce").astype("float64")
    trailing = [c for c in df.columns if c.startswith("param.")] + ["accelsim_version"]
    middle = [c for c in df.columns if c not in POINT_COLUMNS and c not in trailing]
    return df[[c for c in POINT_COLUMNS if c in df] + middle + [c for c in trailing if c in df]]


def open_results(path: str | os.PathLike) -> pd.DataFrame:
    """A results table from a sweep directory, or a Parquet/CSV file written by ``accelsim results -o``."""
    from accelsim.results import read_frame

    p = Path(path)
    if p.is_dir():
        return Store(p).load()
    return read_frame(p)

