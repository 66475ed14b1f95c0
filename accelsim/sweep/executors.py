"""Executors that run sweep points: in this process, a local process pool, or Dask."""

from __future__ import annotations

import collections
import logging
import os
import sys
import threading
import time
from collections.abc import Generator, Iterator
from typing import Any

from accelsim.errors import AccelsimError
from accelsim.sweep.worker import run_point

log = logging.getLogger(__name__)


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _orphan_watchdog(parent_pid: int, inherited_fds: tuple[int, ...] = ()) -> None:
    """Pool worker initializer: exit when the parent is gone (a SIGKILLed sweep leaves no orphans).

    Also closes the forked copies of ``inherited_fds`` (the store's lock), so only the parent holds them,
    and exits quietly on Ctrl-C (the parent reports the interruption; finished points are committed).
    """
    import signal

    signal.signal(signal.SIGINT, lambda *_: os._exit(130))
    for fd in inherited_fds:
        try:
            os.close(fd)
        except OSError:
            pass

    def watch() -> None:
        while True:
            if os.getppid() != parent_pid:
                os._exit(0)
            time.sleep(0.5)

    threading.Thread(target=watch, daemon=True, name="accelsim-orphan-watchdog").start()


def _run_serial(payloads: list[dict]) -> Iterator[dict]:
    for p in payloads:
        yield run_point(p)


def _pool_pass(queue: collections.deque, width: int, ctx,
               inherited_fds: tuple[int, ...] = ()) -> Generator[dict, None, list[dict]]:
    """Run points off the front of ``queue`` on a fresh pool until it is empty or the pool breaks.

    Yields outcomes; returns the points that were in flight when a worker died.
    """
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    pool = ProcessPoolExecutor(max_workers=width, mp_context=ctx, initializer=_orphan_watchdog,
                               initargs=(os.getpid(), inherited_fds))
    pending: dict[Any, dict] = {}
    try:
        while queue or pending:
            # a bounded number in flight: a broken pool loses little and memory stays flat
            while queue and len(pending) < 2 * width:
                p = queue.popleft()
                try:
                    pending[pool.submit(run_point, p, True)] = p
                except BrokenProcessPool:
                    return [*pending.values(), p]
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            broken = False
            for fut in finished:
                try:
                    out = fut.result()
                except BrokenProcessPool:
                    broken = True
                    continue
                del pending[fut]
                yield out
            if broken:
                return list(pending.values())
        return []
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _run_local(payloads: list[dict], workers: int, inherited_fds: tuple[int, ...] = ()) -> Iterator[dict]:
    """A process pool over the points, robust to workers that die (segfault, out-of-memory kill).

    When a worker dies, the points that were in flight are re-run one at a time, each alone in its
    own pool, so the one that kills its worker is recorded as failed and the others complete.
    Linux forks the workers (they inherit the imported, JIT-loaded accelsim, and scripts need no
    ``__main__`` guard); other platforms spawn them.
    """
    import multiprocessing

    ctx = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    queue = collections.deque(payloads)
    while queue:
        lost = yield from _pool_pass(queue, min(workers, len(queue)), ctx, inherited_fds)
        if lost:
            log.warning("a sweep worker process died; re-running its %d in-flight points one by one", len(lost))
        for p in lost:
            if (yield from _pool_pass(collections.deque([p]), 1, ctx, inherited_fds)):
                yield {"id": p["id"], "ok": False, "traceback": "",
                       "error": "the worker process died while running this point (crash or out of memory)"}


def dask_client(address: str, workers: int | None = None):
    """A dask.distributed Client: ``"local"`` starts a LocalCluster (one single-threaded worker per core)."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise AccelsimError("--dask needs dask.distributed: pip install 'accelsim[dask]'") from None
    if not log.isEnabledFor(logging.INFO):  # distributed logs its start-up and shut-down at INFO
        for name in ("distributed", "distributed.scheduler", "distributed.nanny", "distributed.core"):
            logging.getLogger(name).setLevel(logging.WARNING)
    if address == "local":
        try:
            cluster = LocalCluster(n_workers=workers or default_workers(), threads_per_worker=1, processes=True,
                                   dashboard_address=None)
        except RuntimeError as exc:
            raise AccelsimError(f"--dask local: the LocalCluster did not start ({exc}); from a script, call the "
                                "sweep under `if __name__ == '__main__':`") from None
        return Client(cluster)
    if not address.startswith(("tcp://", "tls://", "ucx://", "inproc://", "ws://", "wss://")):
        raise AccelsimError(f"--dask {address!r}: expected 'local' or a scheduler address like tcp://HOST:PORT")
    try:
        return Client(address, timeout="20s")
    except (OSError, TimeoutError) as exc:
        raise AccelsimError(f"--dask {address}: cannot reach the Dask scheduler ({exc})") from None


def _run_dask(payloads: list[dict], address: str, workers: int | None) -> Iterator[dict]:
    from dask.distributed import as_completed

    client = dask_client(address, workers)
    try:
        futures = client.map(run_point, payloads, single_threaded=True, pure=False,
                             key=[f"accelsim-point-{p['id']}" for p in payloads])
        by_key = {f.key: p for f, p in zip(futures, payloads, strict=True)}
        for fut in as_completed(futures):
            p = by_key[fut.key]
            try:
                yield fut.result()
            except Exception as exc:  # KilledWorker and the like: the point failed, the sweep goes on
                yield {"id": p["id"], "ok": False, "traceback": "", "error": f"{type(exc).__name__}: {exc}"}
            fut.release()
    finally:
        cluster = client.cluster if address == "local" else None
        client.close()
        if cluster is not None:
            cluster.close()


def run_points(payloads: list[dict], *, workers: int, dask: str | None,
               inherited_fds: tuple[int, ...] = ()) -> Iterator[dict]:
    """Outcomes of :func:`run_point` for ``payloads``, in completion order, on the executor asked for.

    ``dask``: a Dask cluster (``"local"`` or a scheduler address); else a local process pool of
    ``workers`` processes, or this process when ``workers`` is 1 or there is one point.
    ``inherited_fds``: descriptors forked pool workers must close (the store's lock).
    """
    if not payloads:
        return iter(())
    if dask:
        return _run_dask(payloads, dask, workers)
    if workers == 1 or len(payloads) == 1:
        return _run_serial(payloads)
    return _run_local(payloads, workers, inherited_fds)
