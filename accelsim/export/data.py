"""Real example data for the exporter's models, from what ships inside installed packages.

scikit-learn's digits (:func:`load_digits_tensors`) feed LeNet-5 and the LSTM of
:mod:`accelsim.export.torch_zoo` and the training task of :mod:`accelsim.export.digits`. Kept apart
from both so that the zoo (models) and the task (training) each depend on the data, not on each other.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def load_digits_tensors(size: int = 32, normalise: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """All 1,797 digits as (N, 1, size, size) float32 and int64 labels."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = torch.from_numpy(digits.images.astype(np.float32) / 16.0).unsqueeze(1)
    if size != 8:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    if normalise:
        x = (x - x.mean()) / x.std()
    return x.contiguous(), torch.from_numpy(digits.target.astype(np.int64))
