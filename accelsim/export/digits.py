"""The ``digits`` task: LeNet-5 trained on scikit-learn's digits, then pruned iteratively with fine-tuning.

Data: the 1,797 8x8 images of ``sklearn.datasets.load_digits`` (values 0..16), scaled to [0, 1],
upsampled to 32x32 with bilinear interpolation (LeNet-5's input size) and standardised with the
dataset's mean and standard deviation; a stratified split (``test_fraction`` 0.25, seeded) gives
1,347 training and 450 test images. Accuracy is measured on the test images.

Recipe (:class:`Recipe`; SGD with momentum 0.9, minibatch 64, single-threaded so the result is the
same bit for bit on any machine):

1. train the dense :class:`~accelsim.export.torch_zoo.LeNet5` for ``epochs`` epochs;
2. prune in ``prune_rounds`` rounds to the target on Zhu & Gupta's cubic schedule
   (s_r = s (1 - (1 - r/R)^3)), fine-tuning ``finetune_epochs`` after each round with the masks held
   fixed. N:M has one round (its sparsity is fixed). Dropback instead trains the same initial weights
   from scratch for as many steps as dense training took.

:func:`run` returns the trained, pruned model and its accuracy at every sparsity.
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from accelsim.errors import AccelsimError
from accelsim.export import prune
from accelsim.export.data import load_digits_tensors
from accelsim.export.torch_zoo import LeNet5

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recipe:
    """Training and pruning hyper-parameters of the digits task."""

    epochs: int = 30
    prune_rounds: int = 4
    finetune_epochs: int = 8
    batch_size: int = 64
    lr: float = 0.05
    finetune_lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-4
    test_fraction: float = 0.25
    dropback_lr: float = 0.02

    @classmethod
    def quick(cls) -> Recipe:
        """A few-second variant for tests (lower accuracy)."""
        return cls(epochs=3, prune_rounds=2, finetune_epochs=1)


@dataclass
class DigitsData:
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor


@dataclass
class DigitsResult:
    """A trained (and pruned) digits model with its accuracy history."""

    model: nn.Module
    data: DigitsData
    dense_accuracy: float
    history: list[dict[str, float]] = field(default_factory=list)
    pruning: dict[str, Any] = field(default_factory=dict)
    recipe: Recipe = field(default_factory=Recipe)
    seconds: float = 0.0

    @property
    def final_accuracy(self) -> float:
        return self.history[-1]["accuracy"] if self.history else self.dense_accuracy

    def provenance(self) -> dict[str, Any]:
        return {
            "task": "digits", "dataset": "sklearn.datasets.load_digits (1797 8x8 images, 10 classes)",
            "preprocessing": "upsampled 8x8 -> 32x32 (bilinear), standardised",
            "split": {"train": int(self.data.y_train.numel()), "test": int(self.data.y_test.numel())},
            "accuracy_dense": round(self.dense_accuracy, 6), "accuracy_pruned": round(self.final_accuracy, 6),
            "accuracy_history": [{k: (round(v, 6) if isinstance(v, float) else v) for k, v in h.items()}
                                 for h in self.history],
            "recipe": asdict(self.recipe),
        }


@contextmanager
def _single_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def load_data(seed: int = 0, test_fraction: float = 0.25) -> DigitsData:
    """Stratified, seeded train/test split of the digits at 32x32."""
    from sklearn.model_selection import train_test_split

    x, y = load_digits_tensors(32)
    idx_train, idx_test = train_test_split(np.arange(len(y)), test_size=test_fraction, stratify=y.numpy(),
                                           random_state=seed)
    idx_train, idx_test = torch.from_numpy(idx_train), torch.from_numpy(idx_test)
    return DigitsData(x[idx_train], y[idx_train], x[idx_test], y[idx_test])


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    was = model.training
    model.eval()
    with torch.no_grad():
        acc = float((model(x).argmax(dim=1) == y).float().mean())
    model.train(was)
    return acc


def minibatches(data: DigitsData, batch_size: int, generator: torch.Generator):
    """One epoch of shuffled training minibatches."""
    order = torch.randperm(data.y_train.numel(), generator=generator)
    for i in range(0, order.numel(), batch_size):
        idx = order[i:i + batch_size]
        yield data.x_train[idx], data.y_train[idx]


def train(model: nn.Module, data: DigitsData, epochs: int, lr: float, recipe: Recipe,
          generator: torch.Generator) -> None:
    """SGD with momentum and a cosine learning-rate decay over ``epochs``."""
    if epochs <= 0:
        return
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=recipe.momentum,
                                weight_decay=recipe.weight_decay)
    steps = epochs * -(-data.y_train.numel() // recipe.batch_size)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    model.train()
    for _ in range(epochs):
        for x, y in minibatches(data, recipe.batch_size, generator):
            optimizer.zero_grad()
            F.cross_entropy(model(x), y).backward()
            optimizer.step()
            schedule.step()
    model.eval()


def cubic_schedule(target: float, rounds: int) -> list[float]:
    """Zhu & Gupta (2017) gradual sparsity: s_r = s (1 - (1 - r/R)^3), r = 1..R."""
    return [target * (1.0 - (1.0 - r / rounds) ** 3) for r in range(1, rounds + 1)]


def run(spec: prune.PruneSpec | str = "unstructured", sparsity: float | None = 0.9, *, seed: int = 0,
        recipe: Recipe | None = None) -> DigitsResult:
    """Train LeNet-5 on the digits and prune it with ``spec`` to ``sparsity`` (see the module docstring)."""
    spec = prune.PruneSpec.parse(spec) if isinstance(spec, str) else spec
    recipe = recipe or Recipe()
    if spec.method == "nm":
        sparsity = spec.implied_sparsity
    if spec.method != "none" and sparsity is None:
        raise AccelsimError(f"pruning {spec.method} needs --sparsity")
    start = time.perf_counter()
    with _single_thread():
        data = load_data(seed, recipe.test_fraction)
        torch.manual_seed(seed)
        model = LeNet5()
        initial = {k: v.detach().clone() for k, v in model.state_dict().items()}
        gen = torch.Generator().manual_seed(seed)
        train(model, data, recipe.epochs, recipe.lr, recipe, gen)
        dense = accuracy(model, data.x_test, data.y_test)
        log.info("digits: dense accuracy %.4f", dense)
        history: list[dict[str, float]] = []
        if spec.method == "dropback":
            model.load_state_dict(initial)
            steps = recipe.epochs * -(-data.y_train.numel() // recipe.batch_size)
            batches = _epoch_batches(data, recipe.batch_size, torch.Generator().manual_seed(seed + 1))
            record = prune.dropback(model, lambda _step: next(batches), sparsity=sparsity, steps=steps,
                                    lr=recipe.dropback_lr, momentum=recipe.momentum)
            model.eval()
            history.append({"round": 1, "sparsity": record["achieved_sparsity"],
                            "accuracy": accuracy(model, data.x_test, data.y_test)})
        elif spec.method == "none":
            record = prune.apply(model, spec)
        else:
            targets = [sparsity] if spec.method == "nm" else cubic_schedule(sparsity, recipe.prune_rounds)
            for r, s in enumerate(targets, start=1):
                record = prune.apply(model, spec, s)
                pruned = accuracy(model, data.x_test, data.y_test)
                epochs = recipe.finetune_epochs * (2 if spec.method == "nm" else 1)
                train(model, data, epochs, recipe.finetune_lr, recipe, gen)
                tuned = accuracy(model, data.x_test, data.y_test)
                pruned_weights = prune.prunable_weights(model, exclude=record.get("excluded", ()))
                history.append({"round": r, "sparsity": prune.sparsity_report(pruned_weights)["achieved_sparsity"],
                                "accuracy_before_finetune": pruned, "accuracy": tuned})
                log.info("digits: round %d sparsity %.3f accuracy %.4f -> %.4f", r, history[-1]["sparsity"],
                         pruned, tuned)
            # fine-tuning moved the surviving weights: refresh the record's per-layer figures
            record = {**record, **prune.sparsity_report(pruned_weights)}
            model.accelsim_pruning = record
    return DigitsResult(model, data, dense, history, record, recipe, time.perf_counter() - start)


def _epoch_batches(data: DigitsData, batch_size: int, generator: torch.Generator):
    while True:
        yield from minibatches(data, batch_size, generator)
