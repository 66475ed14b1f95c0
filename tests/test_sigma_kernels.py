"""SIGMA's numba kernels against plain-Python references: FAN (recursive tree), Benes multicast, one fold."""

from __future__ import annotations

import numpy as np
import pytest

from accelsim.accelerators.sigma import kernels as K


# -- plain-Python FAN: the explicit in-order binary tree, walked recursively ---------------------------
def ref_fan(vn: list[int], vals: np.ndarray):
    """Per VN (first multiplier -> sum, exit levels), fired adders {a: level}, forwarded inputs {a: count}.

    A subtree over multipliers [s, s + size) has its adder at s + size/2 - 1, level log2(size) - 1. It
    fires for a VN iff the VN has products in both halves; an input is forwarded unless it is the
    output of the child subtree's own adder (having fired for this VN).
    """
    n = len(vn)
    fired: dict[int, int] = {}
    fwd: dict[int, int] = {}

    def walk(s, size, lo, hi):  # -> (partial or None, produced_by_own_adder, top_level)
        a_lo, a_hi = max(s, lo), min(s + size - 1, hi)
        if a_lo > a_hi:
            return None, False, -1
        if size == 1:
            return np.float32(vals[s]), False, -1
        h = size // 2
        left = walk(s, h, lo, hi)
        right = walk(s + h, h, lo, hi)
        if left[0] is None:
            return right[0], False, right[2]
        if right[0] is None:
            return left[0], False, left[2]
        a, level = s + h - 1, h.bit_length() - 1
        fired[a] = level
        if level >= 1:
            fwd[a] = int(not left[1]) + int(not right[1])
        return np.float32(left[0] + right[0]), True, level

    out = {}
    i = 0
    while i < n:
        if vn[i] < 0:
            i += 1
            continue
        j = i
        while j + 1 < n and vn[j + 1] == vn[i]:
            j += 1
        total, _, top = walk(0, n, i, j)
        out[i] = (total, top + 1)
        i = j + 1
    return out, fired, fwd


def random_vns(rng, n, idle=0.2):
    vn, v, i = [], 0, 0
    while i < n:
        size = int(rng.integers(1, n // 2 + 1)) if rng.random() < 0.3 else int(rng.integers(1, 9))
        size = min(size, n - i)
        tag = -1 if rng.random() < idle else v
        vn += [tag] * size
        v += 1
        i += size
    return vn


@pytest.mark.parametrize("n, seed", [(8, 0), (16, 1), (128, 2), (128, 3), (64, 4)])
def test_fan_reduce_matches_recursive_tree(n, seed):
    rng = np.random.default_rng(seed)
    for _ in range(20):
        vn = random_vns(rng, n)
        vals = rng.standard_normal(n).astype(np.float32)
        sums, exit_level, fired_level, forwarded = K.fan_reduce(np.array(vn, dtype=np.int64), vals)
        ref, ref_fired, ref_fwd = ref_fan(vn, vals)
        for start, (total, levels) in ref.items():
            assert sums[start] == total  # bit-identical: same adds in the same order
            assert exit_level[start] == levels
            lo, hi = start, start + 1
            while hi < n and vn[hi] == vn[start]:
                hi += 1
            buf = vals.copy()
            assert K.fan_segment_sum(buf, 0, lo, hi) == total
            adders, fwd, lev = K.fan_segment_schedule(lo, hi)
            assert adders == hi - lo - 1 and lev == levels
            assert fwd == sum(ref_fwd.get(a, 0) for a in range(lo, hi - 1))
        assert {a: int(fired_level[a]) for a in range(n - 1) if fired_level[a] >= 0} == ref_fired
        assert {a: int(forwarded[a]) for a in ref_fwd} == ref_fwd
        assert int(forwarded.sum()) == sum(ref_fwd.values())


def test_fan_hand_case():
    # N = 8, one VN on multipliers 1..6. Adders 1..5 fire: 2 and 4 at level 0, 1 and 5 at level 1, 3 at level 2.
    # Level 1: adder 1 takes multiplier 1 over a forwarding link (its left child, adder 0, is outside the VN) and
    # adder 2's sum; adder 5 takes adder 4's sum and multiplier 6 forwarded. Level 2: adder 3 joins adders 1 and 5.
    # Sum = (v1 + (v2 + v3)) + ((v4 + v5) + v6), leaving after 3 levels; 2 forwarded inputs.
    vn = np.array([-1, 0, 0, 0, 0, 0, 0, -1], dtype=np.int64)
    v = np.array([100, 1, 2, 4, 8, 16, 32, 200], dtype=np.float32)
    sums, exit_level, fired_level, forwarded = K.fan_reduce(vn, v)
    assert sums[1] == 63 and exit_level[1] == 3
    assert fired_level.tolist() == [-1, 1, 0, 2, 0, 1, -1]
    assert forwarded.tolist() == [0, 1, 0, 0, 0, 1, 0]
    # two VNs sharing no adder: {0, 1, 2} and {3, 4}; adder 2 (between them) stays idle. {0, 1, 2} needs
    # adders 0 (level 0) and 1 (level 1): 2 levels. {3, 4} needs only adder 3, which sits at level 2 (0b11):
    # its sum leaves after 3 levels, with both inputs forwarded from the multipliers.
    vn2 = np.array([0, 0, 0, 1, 1, -1, -1, -1], dtype=np.int64)
    sums2, exit2, fired2, _ = K.fan_reduce(vn2, v)
    assert sums2[0] == 100 + 1 + 2 and sums2[3] == 4 + 8
    assert fired2[2] == -1 and exit2[0] == 2 and exit2[3] == 3


def test_benes_hand_cases():
    idle = -np.ones(8, dtype=np.int64)
    uni = idle.copy()
    uni[5] = 0
    assert K.benes_multicast(uni) == 7  # 2 log2 8 + 1 levels, one switch each
    assert K.benes_multicast(np.zeros(8, dtype=np.int64)) == 4 + 2 + 4 + 8  # broadcast: tree 1 -> 2 -> 4 -> 8
    two = idle.copy()
    two[[0, 1]] = 0
    two[6] = 1
    # word 0 -> {0, 1}: 4 to the middle, then prefixes {0}, {0}, {0, 1} = 8; word 1 -> {6}: 7
    assert K.benes_multicast(two) == 15
    assert K.benes_multicast(idle) == 0


def ref_benes(dest_port: np.ndarray) -> int:
    size = dest_port.size
    n = size.bit_length() - 1
    total = 0
    for p in set(dest_port.tolist()) - {-1}:
        outs = np.flatnonzero(dest_port == p)
        total += n + 1 + sum(len({int(o) >> (n - i) for o in outs}) for i in range(1, n + 1))
    return total


def test_fold_pass_against_python():
    rng = np.random.default_rng(7)
    dpe, wpc = 16, 8
    rows, k_dim, cols = 9, 40, 5
    s = rng.standard_normal((rows, k_dim)).astype(np.float32) * (rng.random((rows, k_dim)) < 0.3)
    t = rng.standard_normal((k_dim, cols)).astype(np.float32)
    r_idx, k_idx = np.nonzero(s)  # VN by VN, k ascending: the multiplier order
    kset = np.unique(k_idx)
    word = np.searchsorted(kset, k_idx)
    vals = s[r_idx, k_idx]
    out = np.zeros((rows, cols), dtype=np.float32)
    structure, per_block = K.fold_pass(vals, k_idx.astype(np.int64), r_idx.astype(np.int64), word.astype(np.int64),
                                       wpc, dpe, np.ascontiguousarray(t.T), out)
    np.testing.assert_allclose(out, s.astype(np.float64) @ t, rtol=1e-5, atol=1e-5)
    n_blocks = -(-kset.size // wpc)
    assert structure[K.FOLD_BLOCKS] == n_blocks and structure[K.FOLD_WORDS] == kset.size
    # pieces, adders, Benes from the per-cycle views: block j, Flex-DPE d
    blk = word // wpc
    pieces = adders = benes = 0
    for j in range(n_blocks):
        block_pieces = 0
        for d0 in range(0, vals.size, dpe):
            idx = np.arange(d0, min(d0 + dpe, vals.size))
            active = idx[blk[idx] == j]
            vn = -np.ones(dpe, dtype=np.int64)
            vn[active - d0] = r_idx[active]
            vals_j = np.zeros(dpe, dtype=np.float32)
            ref, fired, _ = ref_fan(vn.tolist(), vals_j)
            block_pieces += len(ref)
            adders += len(fired)
            dest = -np.ones(dpe, dtype=np.int64)
            dest[active - d0] = word[active] - j * wpc
            benes += ref_benes(dest)
        assert per_block[j] == block_pieces
        pieces += block_pieces
    assert structure[K.FOLD_SEGMENTS] == pieces == per_block.sum()
    assert structure[K.FOLD_ADDERS] == adders
    assert structure[K.FOLD_BENES] == benes


def test_kmajor_fold_plan_properties():
    from accelsim.accelerators.sigma import mapping

    rng = np.random.default_rng(9)
    for _ in range(30):
        k_dim, mult, wpc = int(rng.integers(5, 400)), int(rng.integers(4, 200)), int(rng.integers(1, 40))
        counts = rng.integers(0, 12, size=k_dim) * (rng.random(k_dim) < 0.8)
        ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        bounds = mapping.plan_kmajor_folds(ptr, mult, wpc, True)
        assert bounds[0] == 0 and bounds[-1] == ptr[-1]
        sizes = np.diff(bounds)
        assert (sizes > 0).all() and (sizes <= mult).all()
        for s, e in zip(bounds[:-2], bounds[1:-1], strict=True):  # all but the last fold
            ks = np.unique(np.searchsorted(ptr, np.arange(s, e), side="right") - 1)
            if ks.size > wpc:  # cut on a column boundary, a multiple of wpc distinct k
                assert e in ptr and ks.size % wpc == 0
        plain = mapping.plan_kmajor_folds(ptr, mult, wpc, False)  # unaligned: every fold full but the last
        assert (np.diff(plain)[:-1] == mult).all()
