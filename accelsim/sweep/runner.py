"""Running a sweep: expand the spec, resume the store, run the missing points, report progress."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from accelsim.sweep.executors import default_workers, run_points
from accelsim.sweep.spec import Point, SpecError, expand_spec, load_spec
from accelsim.sweep.store import Store, combine

log = logging.getLogger(__name__)


@dataclass
class SweepOutcome:
    """What a sweep did: its table, point counts and failures (each a dict with point, label, error)."""

    frame: pd.DataFrame
    total: int
    already_done: int
    ran: int
    failures: list[dict[str, Any]]
    elapsed_s: float
    skipped: list[tuple[Point, str]] = field(default_factory=list)
    #: points that ran only the layers their chip supports (``unsupported: layers``)
    partial: int = 0


def _execute(todo: list[Point], total: int, already: int, store: Store | None, *, workers: int, dask: str | None,
             progress: bool | None, on_result: Callable[[dict], None] | None,
             inherited_fds: tuple[int, ...]) -> tuple[list[dict[str, Any]], dict[str, pd.DataFrame], float]:
    """Run ``todo`` on the chosen executor, committing each outcome as it arrives.

    Returns the failures, the frames of successful points (when there is no store) and the start time.
    """
    from tqdm.auto import tqdm

    by_id = {p.id: p for p in todo}
    payloads = [p.to_dict() for p in todo]
    results = run_points(payloads, workers=workers, dask=dask, inherited_fds=inherited_fds)
    show = sys.stdout.isatty() if progress is None else progress
    bar = tqdm(total=total, initial=already, unit="pt", desc="sweep", disable=not show, file=sys.stderr,
               dynamic_ncols=True)
    failures: list[dict[str, Any]] = []
    frames: dict[str, pd.DataFrame] = {}
    start = time.perf_counter()
    try:
        for outcome in results:
            point = by_id[outcome["id"]]
            if outcome["ok"]:
                if store is not None:
                    store.commit(outcome)
                else:
                    frames[point.id] = pd.DataFrame(outcome["rows"])
            else:
                log.info("point %s (%s) failed: %s", point.id, point.label(), outcome["error"])
                failures.append({"point": point.to_dict(), "label": point.label(), "error": outcome["error"],
                                 "traceback": outcome.get("traceback", "")})
                if store is not None:
                    store.record_failure(point, outcome["error"], outcome.get("traceback", ""))
            if on_result is not None:
                on_result(outcome)
            bar.update(1)
            bar.set_postfix(left=bar.total - bar.n, failed=len(failures), refresh=False)
    finally:
        bar.close()
        if hasattr(results, "close"):
            results.close()  # shuts the pool / Dask client down if we stop early
    return failures, frames, start


def run_sweep(spec: str | os.PathLike | Mapping[str, Any], out: str | os.PathLike | None = None, *,
              workers: int | None = None, dask: str | None = None, progress: bool | None = None,
              on_result: Callable[[dict], None] | None = None) -> SweepOutcome:
    """Run a sweep; with ``out`` the results directory is created or resumed (see module docstring).

    ``workers``: local processes (default: every core; 1 runs in this process) or LocalCluster
    workers. ``dask``: None (local pool), ``"local"`` or a scheduler address. ``progress``: a
    tqdm bar on stderr; None shows it only when stdout is a terminal.
    """
    doc, _base, text = load_spec(spec)
    expansion = expand_spec(spec)
    points = expansion.points
    if not points:
        why = f" ({len(expansion.skipped)} skipped: {expansion.skipped[0][1]})" if expansion.skipped else ""
        raise SpecError(f"the spec has no runnable points{why}")
    store = Store(out) if out is not None else None
    with contextlib.ExitStack() as stack:
        lock_fd = stack.enter_context(store.locked()) if store is not None else None
        done: set[str] = set()
        if store is not None:
            store.init(doc, points, text)
            done = store.done_ids() & {p.id for p in points}
        todo = [p for p in points if p.id not in done]
        log.info("sweep: %d points, %d already done, %d to run", len(points), len(done), len(todo))
        failures, frames, start = _execute(todo, len(points), len(done), store, workers=workers or default_workers(),
                                           dask=dask, progress=progress, on_result=on_result,
                                           inherited_fds=(lock_fd,) if lock_fd is not None else ())
    elapsed = time.perf_counter() - start
    if store is not None:
        frame = store.load()
    else:
        frame = combine([frames[p.id] for p in points if p.id in frames])
    order = {p.id: i for i, p in enumerate(points)}
    failures.sort(key=lambda f: order[f["point"]["id"]])
    frame.attrs["failures"] = [{k: f[k] for k in ("label", "error")} | {"point": f["point"]["id"]}
                               for f in failures]
    partial = sum(1 for p in points if p.trace.get("skipped_layers"))
    return SweepOutcome(frame, len(points), len(done), len(todo), failures, elapsed, expansion.skipped, partial)


