"""Dask executor: a LocalCluster run gives the same table as the local process pool."""

from __future__ import annotations

import pandas as pd
import pytest

pytest.importorskip("dask.distributed")

from accelsim.errors import AccelsimError  # noqa: E402
from accelsim.sweep import dask_client, run_sweep  # noqa: E402

SPEC = {"traces": [{"synth": {"gemm": [32, 24, 40], "seed": [0, 1]}},
                   {"synth": {"network": "googlenet", "layers": ["fc"], "seed": 2}}],
        "density": {"weight": [0.2, 1.0], "act": [0.5]},
        "accelerators": [{"config": "systolic", "zip": {"rows": [4, 8], "cols": [4, 8]}},
                         # fails on every point (unstructured weights are not 2:4): failures travel back too
                         {"config": "systolic", "set": {"sparsity_n": 2, "sparsity_m": 4}}]}


def test_local_pool_and_dask_localcluster_give_identical_tables(tmp_path):
    local = run_sweep(SPEC, tmp_path / "local", workers=2, progress=False)
    dask = run_sweep(SPEC, tmp_path / "dask", workers=2, dask="local", progress=False)
    assert local.total == dask.total == 18
    assert local.ran == dask.ran == 18
    assert len(local.frame) == 12 and local.frame["point"].is_unique
    pd.testing.assert_frame_equal(local.frame, dask.frame)
    assert [f["point"]["id"] for f in local.failures] == [f["point"]["id"] for f in dask.failures]
    assert len(local.failures) == 6
    assert all(f["error"].startswith("NotNMSparseError") for f in dask.failures)


def test_bad_dask_address_is_an_accelsim_error():
    with pytest.raises(AccelsimError, match="expected 'local' or a scheduler address"):
        dask_client("localhost:8786")


def test_a_running_scheduler_by_address(tmp_path):
    from dask.distributed import LocalCluster

    doc = {"traces": [{"synth": {"gemm": [16, 16, 16], "seed": [0, 1]}}], "accelerators": [{"config": "systolic"}]}
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp://",
                      dashboard_address=None) as cluster:
        assert cluster.scheduler_address.startswith("tcp://")
        remote = run_sweep(doc, tmp_path / "remote", dask=cluster.scheduler_address, progress=False)
    local = run_sweep(doc, tmp_path / "local", workers=1, progress=False)
    assert remote.ran == 2 and not remote.failures
    pd.testing.assert_frame_equal(remote.frame, local.frame)
