"""Column combining (Kung et al. 2019): the survey's worked example and the authors' greedy loop.

numpy + numba only: runs without torch.
"""

from __future__ import annotations

import numpy as np
import pytest

from accelsim.formats.column_combine import (
    combine_mask,
    group_conflicts,
    max_conflicts,
    pack_columns,
    packed_matrix,
)


def authors_pack(mat, alpha, gamma):
    """Literal numpy transcription of the authors' ``packing.pack_matrix`` (pair matrices, min over dim 0)."""
    nz = (np.asarray(mat) != 0).astype(np.int64)
    groups = [[i] for i in range(nz.shape[1]) if nz[:, i].any()]
    budget = int(gamma * nz.shape[0])
    big = 10**10
    while len(groups) > 1:
        d = np.stack([nz[:, g].sum(axis=1) for g in groups])  # groups x rows
        s = d[:, None, :] + d[None, :, :]
        overlap = np.clip(s - 1, 0, None).sum(axis=2)
        np.fill_diagonal(overlap, big)
        sizes = np.array([len(g) for g in groups])
        overlap[(sizes[:, None] + sizes[None, :]) > alpha] = big
        if overlap.min() > budget:
            break
        metric = np.where(overlap > budget, big, 0) + (s == 0).sum(axis=2)
        vals, idxs = metric.min(axis=0), metric.argmin(axis=0)
        c1 = int(np.flatnonzero(vals < 10**9)[0])
        c2 = int(idxs[c1])
        groups[c1].extend(groups[c2])
        groups.pop(c2)
    return [sorted(g) for g in groups]


# Section 7.2.1 of the sparsity survey, as quoted in shared/reference/column_combining.md
C1, C2, C3, C4 = [0, 2, 0, 3, 0], [1, 0, 2, 1, 0], [1, 2, 0, 1, 0], [0, 0, 0, 0, 4]
SURVEY = np.array([C1, C2, C3, C4], dtype=np.float32).T  # rows = filters, columns = c1..c4


@pytest.mark.parametrize("gamma", [0.2, 0.5])
def test_survey_worked_example(gamma):
    groups = pack_columns(SURVEY, alpha=3, gamma=gamma)
    assert groups == [[0, 1, 3], [2]]  # c1, c2 and c4 packed; c3 alone
    assert group_conflicts(SURVEY, groups) == [1, 0]  # only row 4 (3 vs 1) conflicts
    mask = combine_mask(SURVEY, groups)
    values, source = packed_matrix(SURVEY * mask, groups)
    np.testing.assert_array_equal(values[:, 0], [1, 2, 2, 3, 4])  # the larger value (3) is kept
    np.testing.assert_array_equal(source[:, 0], [1, 0, 1, 0, 3])
    assert SURVEY[3, 1] == 1 and mask[3, 1] == 0 and mask[3, 0] == 1


def test_survey_example_without_conflict_budget():
    # gamma = 0: no conflicts allowed, so c1 can only take c4 (disjoint), and c2, c3 overlap everything
    assert pack_columns(SURVEY, alpha=3, gamma=0.0) == [[0, 3], [1], [2]]
    assert pack_columns(SURVEY, alpha=1, gamma=1.0) == [[0], [1], [2], [3]]


def test_matches_the_authors_loop_on_random_matrices():
    rng = np.random.default_rng(0)
    for _ in range(200):
        rows, cols = int(rng.integers(2, 16)), int(rng.integers(1, 24))
        mat = rng.standard_normal((rows, cols)) * (rng.random((rows, cols)) < rng.uniform(0.05, 0.6))
        alpha, gamma = int(rng.integers(1, 6)), float(rng.choice([0.0, 0.1, 0.25, 0.5, 1.0]))
        assert pack_columns(mat, alpha, gamma) == authors_pack(mat, alpha, gamma)


def test_groups_respect_alpha_and_gamma_on_a_large_matrix():
    rng = np.random.default_rng(1)
    mat = rng.standard_normal((200, 700)) * (rng.random((200, 700)) < 0.08)
    mat[:, 5] = 0  # an all-zero column belongs to no group
    groups = pack_columns(mat, alpha=8, gamma=0.5)
    flat = sorted(c for g in groups for c in g)
    assert flat == sorted(set(np.flatnonzero((mat != 0).any(axis=0))))
    assert max(len(g) for g in groups) <= 8
    assert max(group_conflicts(mat, groups)) <= max_conflicts(200, 0.5) == 100
    pruned = mat * combine_mask(mat, groups)
    assert group_conflicts(pruned, groups) == [0] * len(groups)
    values, source = packed_matrix(pruned, groups)
    assert values.shape == (200, len(groups)) and len(groups) < 700 / 4
    np.testing.assert_array_equal(np.count_nonzero(values), np.count_nonzero(pruned))
