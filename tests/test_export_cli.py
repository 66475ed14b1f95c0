"""``accelsim export``: zoo models and the digits task end to end, argument errors, determinism."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

from accelsim.cli import main  # noqa: E402
from accelsim.trace.format import load_trace  # noqa: E402


def test_zoo_model_block_pruned_and_reexport_is_bit_identical(tmp_path, capsys):
    a = tmp_path / "a.safetensors"
    argv = ["export", "--model", "lenet5", "--prune", "block:2x2", "--sparsity", "0.5", "--batch", "2", "--seed", "1",
            "-o", str(a)]
    assert main(argv) == 0
    assert "wrote" in capsys.readouterr().out
    first = a.read_bytes()
    assert main(argv) == 0  # the provenance holds the command line, output path included
    assert a.read_bytes() == first
    trace = load_trace(a)
    prov = trace.provenance
    assert prov["model"] == "lenet5" and prov["seed"] == 1 and prov["batch"] == 2
    assert prov["pruning"]["method"] == "block" and prov["pruning"]["block"] == [2, 2, 1, 1]
    assert "seeded random initialisation" in prov["weights"] and "digits" in prov["input"]
    assert prov["command"].startswith("accelsim export --model lenet5 --prune block:2x2 --sparsity 0.5")
    fc1 = trace["fc1"]
    assert fc1.shape == {"N": 2, "C": 400, "K": 120}
    assert (fc1.weight == 0).mean() == pytest.approx(0.5)


def test_digits_quick_training_trace(tmp_path, capsys):
    path = tmp_path / "d.safetensors"
    rc = main(["export", "--model", "lenet5-digits", "--quick", "--prune", "unstructured", "--sparsity", "0.5",
               "--training", "--batch", "4", "-o", str(path)])
    assert rc == 0
    out = capsys.readouterr().out
    assert "accuracy dense" in out and "training trace, batch 4" in out
    trace = load_trace(path)
    prov = trace.provenance
    assert prov["training"] is True and prov["split"] == {"train": 1347, "test": 450}
    assert 0.1 < prov["accuracy_dense"] <= 1.0 and len(prov["accuracy_history"]) == 2
    assert prov["pruning"]["achieved_sparsity"] == pytest.approx(0.5, abs=1e-3)
    for layer in trace:
        assert layer.grad_output is not None and layer.grad_weight is not None
        assert layer.grad_weight.shape == layer.weight.shape
    assert (trace["conv2"].input == 0).any()  # post-ReLU (and pooled) activations


def test_dropback_and_nm_on_a_zoo_model(tmp_path):
    path = tmp_path / "db.safetensors"
    assert main(["export", "--model", "lenet5", "--prune", "dropback", "--sparsity", "0.8", "--steps", "3",
                 "--training", "--batch", "2", "-o", str(path)]) == 0
    prov = load_trace(path).provenance
    assert prov["pruning"]["method"] == "dropback" and prov["pruning"]["steps"] == 3
    assert prov["pruning"]["achieved_sparsity"] == pytest.approx(0.8, abs=1e-4)
    path = tmp_path / "nm.safetensors"
    assert main(["export", "--model", "lenet5", "--prune", "nm:2:4", "-o", str(path)]) == 0
    w = load_trace(path)["fc2"].weight
    assert ((w.reshape(84, -1, 4) != 0).sum(axis=2) == 2).all()


@pytest.mark.parametrize(("args", "message"), [
    (["--prune", "nm:2:4", "--sparsity", "0.9"], "fixes the sparsity at 0.5"),
    (["--prune", "unstructured"], "needs --sparsity"),
    (["--prune", "sparse", "--sparsity", "0.5"], "unknown pruning 'sparse'"),
    (["--prune", "unstructured", "--sparsity", "1.5"], "must be in [0, 1)"),
    (["--sparsity", "0.5"], "--sparsity needs a --prune method"),
])
def test_bad_arguments_are_one_line_errors(tmp_path, capsys, args, message):
    rc = main(["export", "--model", "lenet5", *args, "-o", str(tmp_path / "x.safetensors")])
    err = capsys.readouterr().err
    assert rc == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.safetensors").exists()


def test_output_must_be_safetensors(tmp_path, capsys):
    assert main(["export", "--model", "lenet5", "-o", str(tmp_path / "x.npz")]) == 2
    assert "end in .safetensors" in capsys.readouterr().err
