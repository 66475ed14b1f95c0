"""SCNN's numba datapath against a plain-Python reference, and a hand-worked PE group.

The reference below restates SCNN's PE (Parashar et al. ISCA 2017 §IV) independently of the
kernel: it walks the vector pairs in the same loop order, computes every product's output, and
simulates the accumulator banks cycle by cycle with explicit queues (accept what fits, retire one
per bank per cycle), where the kernel uses a closed form (busy-until times).
"""

from __future__ import annotations

import numpy as np
import pytest

from accelsim.accelerators.scnn import kernels as K
from accelsim.accelerators.scnn.streams import activation_streams, weight_streams


def reference_group(w_val, w_crd, w_ptr, a_val, a_crd, a_ptr, win, geom):
    """Plain-Python SCNN PE group: returns (counters [npe, N_COUNTERS], acc dicts, touched sets)."""
    f_len, i_len, banks = int(geom[K.G_F]), int(geom[K.G_I]), int(geom[K.G_A])
    p_lo, p_hi, q_lo, q_hi = (int(geom[i]) for i in (K.G_P_LO, K.G_P_HI, K.G_Q_LO, K.G_Q_HI))
    chunk, queue = int(geom[K.G_CHUNK]), int(geom[K.G_QUEUE])
    npe, nvc = a_ptr.shape[0], w_ptr.size - 1
    counters = np.zeros((npe, K.N_COUNTERS), dtype=np.int64)
    accs = []
    for p in range(npe):
        acc: dict[tuple[int, int, int], float] = {}
        occupancy = [0] * banks           # products waiting in each bank at the start of a cycle
        cycles = pairs = slots = routed = effectual = stalls = fifo = iaram = 0
        for v in range(nvc):
            acts = list(range(a_ptr[p, v], a_ptr[p, v + 1]))
            weights = list(range(w_ptr[v], w_ptr[v + 1]))
            if not acts or not weights:
                continue
            for c0 in range(0, len(weights), chunk):
                chunk_w = weights[c0:c0 + chunk]
                for i0 in range(0, len(acts), i_len):
                    avec = acts[i0:i0 + i_len]
                    iaram += len(avec)
                    for f0 in range(0, len(chunk_w), f_len):
                        wvec = chunk_w[f0:f0 + f_len]
                        fifo += len(wvec)
                        pairs += 1
                        pending = [0] * banks
                        for ia in avec:
                            for iw in wvec:
                                slots += 1
                                if w_crd[iw, 3] != a_crd[ia, 2]:
                                    continue
                                oy = a_crd[ia, 0] - w_crd[iw, 1]
                                ox = a_crd[ia, 1] - w_crd[iw, 2]
                                if not (p_lo <= oy < p_hi and q_lo <= ox < q_hi):
                                    continue
                                k = int(w_crd[iw, 0])
                                ly, lx = int(oy - win[p, 0]), int(ox - win[p, 1])
                                acc[(k, ly, lx)] = acc.get((k, ly, lx), 0.0) + float(a_val[ia]) * float(w_val[iw])
                                routed += 1
                                effectual += int(a_val[ia] != 0 and w_val[iw] != 0)
                                pending[(lx % 4 + 4 * (ly % 2) + 8 * k) % banks] += 1
                        first = True
                        if queue == 0:
                            cycles += 1
                            continue
                        while first or any(pending):
                            for b in range(banks):
                                take = min(pending[b], queue - occupancy[b])
                                occupancy[b] += take
                                pending[b] -= take
                            occupancy = [max(0, o - 1) for o in occupancy]
                            cycles += 1
                            stalls += 0 if first else 1
                            first = False
        while any(occupancy):                   # the group ends when the banks are empty
            occupancy = [max(0, o - 1) for o in occupancy]
            cycles += 1
            stalls += 1
        counters[p] = [cycles, pairs, slots, routed, effectual, stalls, fifo, iaram]
        accs.append(acc)
    return counters, accs


def geometry(f=4, i=4, banks=32, stride=1, pad=0, p=(0, 100), q=(0, 100), chunk=48, queue=4, window=(0, 0)):
    g = np.zeros(K.N_GEOM, dtype=np.int64)
    g[[K.G_F, K.G_I, K.G_A, K.G_STRIDE, K.G_PAD]] = f, i, banks, stride, pad
    g[[K.G_P_LO, K.G_P_HI, K.G_Q_LO, K.G_Q_HI]] = *p, *q
    g[[K.G_CHUNK, K.G_QUEUE, K.G_WH, K.G_WW]] = chunk, queue, *window
    return g


def run_kernel(ws, acts, win, geom, kc):
    wh, ww = int(geom[K.G_WH]), int(geom[K.G_WW])
    npe = acts.ptr.shape[0]
    acc = np.zeros((npe, kc * wh * ww), dtype=np.float32)
    touched = np.zeros_like(acc, dtype=np.uint8)
    cnt = K.cartesian_group(ws.val, ws.crd, ws.ptr, acts.val, acts.crd, acts.ptr, win, geom, acc, touched)
    return cnt, acc.reshape(npe, kc, wh, ww), touched.reshape(npe, kc, wh, ww)


# --------------------------------------------------------------------------------------------------
# Hand-worked group: 1 PE, C = 2, K = 2, 3x3 input, 2x2 kernel, stride 1, no padding (P = Q = 2),
# F = I = 2, A = 8 banks.
#
#   input c0 = [[1,0,0],[0,3,0],[0,0,0]]   -> stream a(0,0)=1, a(1,1)=3      (one I-vector)
#   input c1 = [[0,0,0],[0,4,0],[0,0,0]]   -> stream a(1,1)=4                (one I-vector, half full)
#   w[k0,c0] = [[1,0],[0,2]], w[k1,c0] = 0  -> rsk stream (k fastest): w(k0,0,0)=1, w(k0,1,1)=2
#   w[k0,c1] = 0, w[k1,c1] = [[0,5],[6,0]] -> rsk stream: w(k1,0,1)=5 (row 3), w(k1,1,0)=6 (row 4)
#
# Bank of window entry (k, y, x) with A = 8: (x mod 4 + 4·(y mod 2) + 8k) mod 8 = x + 4y here.
#
# c0, one vector pair (4 products):
#   a(0,0) x w(k0,0,0) -> out (k0,0,0) += 1          bank 0
#   a(0,0) x w(k0,1,1) -> out (-1,-1)   wasted (off the output)
#   a(1,1) x w(k0,0,0) -> out (k0,1,1) += 3          bank 5
#   a(1,1) x w(k0,1,1) -> out (k0,0,0) += 6          bank 0  <- second product for bank 0
# c1, one vector pair (2 products, I half empty):
#   a(1,1) x w(k1,0,1) -> out (k1,1,0) += 20         bank 4
#   a(1,1) x w(k1,1,0) -> out (k1,0,1) += 24         bank 1
#
# queue = 1 (pure serialisation): pair 1 takes 2 cycles (bank 0 twice, 1 stall), pair 2 takes 1:
#   3 cycles, 1 conflict stall. queue = 2: bank 0 takes both products at once (one waits a cycle
#   in its queue while pair 2 issues), so 2 cycles and no stall; the bank is empty again when
#   pair 2 finishes (it drains one product per cycle).
# Output: k0 = [[1+6, 0], [0, 3]] = [[7,0],[0,3]]; k1 = [[0,24],[20,0]].
# Slots 6 (4 + 2), routed 5, wasted 1, effectual 5, vector pairs 2, FIFO reads 4, IARAM reads 3.
# --------------------------------------------------------------------------------------------------

HAND_X = np.array([[[1, 0, 0], [0, 3, 0], [0, 0, 0]],
                   [[0, 0, 0], [0, 4, 0], [0, 0, 0]]], dtype=np.float32)
HAND_W = np.zeros((2, 2, 2, 2), dtype=np.float32)
HAND_W[0, 0] = [[1, 0], [0, 2]]
HAND_W[1, 1] = [[0, 5], [6, 0]]
HAND_OUT = np.array([[[7, 0], [0, 3]], [[0, 24], [20, 0]]], dtype=np.float32)


def hand_streams():
    tiles = np.array([[0, 3, 0, 3]], dtype=np.int64)
    acts = activation_streams(HAND_X, tiles, 1, 0, True, True, 4)
    ws = weight_streams(HAND_W, 1, True, "rsk", True, 4)
    return acts, ws


def test_hand_streams_follow_the_zero_run_encoding():
    acts, ws = hand_streams()
    np.testing.assert_array_equal(acts.val, [1, 3, 4])
    np.testing.assert_array_equal(acts.crd[:, :2], [[0, 0], [1, 1], [1, 1]])
    np.testing.assert_array_equal(acts.ptr, [[0, 2, 3]])
    np.testing.assert_array_equal(ws.val, [1, 2, 5, 6])
    np.testing.assert_array_equal(ws.crd[:, :3], [[0, 0, 0], [0, 1, 1], [1, 0, 1], [1, 1, 0]])
    np.testing.assert_array_equal(ws.ptr, [0, 2, 4])


@pytest.mark.parametrize(("queue", "cycles", "stalls"), [(1, 3, 1), (2, 2, 0), (4, 2, 0)])
def test_hand_worked_group(queue, cycles, stalls):
    acts, ws = hand_streams()
    geom = geometry(f=2, i=2, banks=8, p=(0, 2), q=(0, 2), queue=queue, window=(2, 2))
    win = np.zeros((1, 2), dtype=np.int64)
    cnt, acc, touched = run_kernel(ws, acts, win, geom, kc=2)
    assert cnt[0, K.CYCLES] == cycles
    assert cnt[0, K.CONFLICT] == stalls
    assert cnt[0, K.VEC_PAIRS] == 2
    assert cnt[0, K.SLOTS] == 6
    assert cnt[0, K.ROUTED] == 5
    assert cnt[0, K.EFFECTUAL] == 5
    assert cnt[0, K.FIFO_READS] == 4
    assert cnt[0, K.IARAM_READS] == 3
    np.testing.assert_array_equal(acc[0], HAND_OUT)
    assert touched[0].sum() == 4            # (k0,0,0), (k0,1,1), (k1,1,0), (k1,0,1)


def test_backlog_carries_into_the_next_pair():
    """Bank 0 gets 2 products in pair 1 and 2 more in pair 2; with queue 2 the backlog of pair 1
    (one product) leaves room for one product of pair 2, so pair 2 stalls one cycle."""
    acts, ws = hand_streams()
    # duplicate channel 0 into channel 1 so both pairs hit bank 0 twice
    x = HAND_X.copy()
    x[1] = x[0]
    w = HAND_W.copy()
    w[:, 1] = w[:, 0]
    acts = activation_streams(x, np.array([[0, 3, 0, 3]]), 1, 0, True, True, 4)
    ws = weight_streams(w, 1, True, "rsk", True, 4)
    geom = geometry(f=2, i=2, banks=8, p=(0, 2), q=(0, 2), queue=2, window=(2, 2))
    cnt, _, _ = run_kernel(ws, acts, np.zeros((1, 2), dtype=np.int64), geom, kc=2)
    # pair 1 at cycle 0: bank 0 busy until 2 (no stall); pair 2 at cycle 1: backlog 1, 2 more
    # products -> the second waits one cycle: pair 2 spans cycles 1-2; bank 0 busy until 4 -> tail 1
    assert cnt[0, K.CYCLES] == 4
    assert cnt[0, K.CONFLICT] == 2
    ref, _ = reference_group(ws.val, ws.crd, ws.ptr, acts.val, acts.crd, acts.ptr,
                             np.zeros((1, 2), dtype=np.int64), geom)
    np.testing.assert_array_equal(cnt, ref)


def random_case(rng, stride, pad, phases):
    cin, kc = int(rng.integers(1, 5)), int(rng.integers(1, 7))
    h, w = int(rng.integers(4, 12)), int(rng.integers(4, 12))
    r = int(rng.integers(1, 5))
    x = rng.standard_normal((cin, h, w)).astype(np.float32)
    x[rng.random(x.shape) < rng.uniform(0.2, 0.9)] = 0
    wt = rng.standard_normal((kc, cin, r, r)).astype(np.float32)
    wt[rng.random(wt.shape) < rng.uniform(0.2, 0.9)] = 0
    ys = np.sort(rng.choice(np.arange(1, h), size=1, replace=False))
    xs = np.sort(rng.choice(np.arange(1, w), size=1, replace=False))
    tiles = np.array([[0, ys[0], 0, xs[0]], [0, ys[0], xs[0], w], [ys[0], h, 0, xs[0]], [ys[0], h, xs[0], w]])
    acts = activation_streams(x, tiles, stride, pad, phases, bool(rng.integers(0, 2)), int(rng.integers(2, 5)))
    ws = weight_streams(wt, stride, phases, ["rsk", "krs"][int(rng.integers(0, 2))], bool(rng.integers(0, 2)),
                        int(rng.integers(2, 5)))
    p = (h + 2 * pad - r) // stride + 1
    q = (w + 2 * pad - r) // stride + 1
    return x, wt, acts, ws, p, q, kc


@pytest.mark.parametrize("seed", range(12))
def test_kernel_matches_reference_on_random_cases(seed):
    rng = np.random.default_rng(seed)
    stride = int(rng.integers(1, 4))
    pad = int(rng.integers(0, 3))
    phases = bool(rng.integers(0, 2))
    x, wt, acts, ws, p, q, kc = random_case(rng, stride, pad, phases)
    if p < 1 or q < 1:
        pytest.skip("kernel larger than the padded input")
    # one window covering the whole output for every PE (origin 0, 0)
    f, i = int(rng.integers(1, 5)), int(rng.integers(1, 5))
    banks = int(2 ** rng.integers(2, 6))
    chunk = f * int(rng.integers(1, 4))
    geom = geometry(f=f, i=i, banks=banks, stride=stride, pad=pad, p=(0, p), q=(0, q), chunk=chunk,
                    queue=int(rng.integers(1, 5)), window=(p, q))
    win = np.zeros((4, 2), dtype=np.int64)
    cnt, acc, touched = run_kernel(ws, acts, win, geom, kc)
    ref, ref_acc = reference_group(ws.val, ws.crd, ws.ptr, acts.val, acts.crd, acts.ptr, win, geom)
    np.testing.assert_array_equal(cnt, ref)
    for pe in range(4):
        dense = np.zeros((kc, p, q))
        for (k, y, xx), v in ref_acc[pe].items():
            dense[k, y, xx] = v
        np.testing.assert_allclose(acc[pe], dense, rtol=1e-5, atol=1e-5)
        assert touched[pe].sum() == len(ref_acc[pe])
    # the four PEs' windows sum to the dense convolution of the whole plane
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    r = wt.shape[2]
    conv = np.zeros((kc, p, q))
    for oy in range(p):
        for ox in range(q):
            patch = xp[:, oy * stride:oy * stride + r, ox * stride:ox * stride + r]
            conv[:, oy, ox] = np.tensordot(wt, patch, axes=([1, 2, 3], [0, 1, 2]))
    np.testing.assert_allclose(acc.sum(axis=0), conv, rtol=1e-4, atol=1e-4)
    if phases or stride == 1:
        assert cnt[:, K.ROUTED].sum() == cnt[:, K.SLOTS].sum() - count_off_output(acts, ws, p, q)


def count_off_output(acts, ws, p, q):
    """Products on the stride grid whose output falls off [0, P) x [0, Q) (the edge waste)."""
    off = 0
    for pe in range(acts.ptr.shape[0]):
        for v in range(ws.ptr.size - 1):
            a = acts.crd[acts.ptr[pe, v]:acts.ptr[pe, v + 1]]
            w = ws.crd[ws.ptr[v]:ws.ptr[v + 1]]
            if not a.size or not w.size:
                continue
            same = a[:, None, 2] == w[None, :, 3]
            oy = a[:, None, 0] - w[None, :, 1]
            ox = a[:, None, 1] - w[None, :, 2]
            off += int((same & ~((oy >= 0) & (oy < p) & (ox >= 0) & (ox < q))).sum())
            off += int((~same).sum())
    return off


def test_bank_timing_off_never_stalls():
    rng = np.random.default_rng(5)
    x, wt, acts, ws, p, q, kc = random_case(rng, 1, 1, True)
    geom = geometry(p=(0, p), q=(0, q), queue=0, window=(p, q))
    cnt, _, _ = run_kernel(ws, acts, np.zeros((4, 2), dtype=np.int64), geom, kc)
    np.testing.assert_array_equal(cnt[:, K.CYCLES], cnt[:, K.VEC_PAIRS])
    assert cnt[:, K.CONFLICT].sum() == 0


def test_scatter_counts_halo_and_spill():
    acc = np.ones((1, 1 * 3 * 3), dtype=np.float32)
    touched = np.ones_like(acc, dtype=np.uint8)
    out = np.zeros((1, 4, 4), dtype=np.float32)
    own = np.array([[1, 2, 1, 3]])          # owns row 1, columns 1-2
    res = K.scatter_group(acc, touched, np.array([[0, 0]]), own, np.array([0, 2]), np.array([1, 3, 3]), out, 0)
    # window rows 0-2 x cols 0-2: owned 2 entries; row 2 is the next band's (3 spilled); 4 halo
    np.testing.assert_array_equal(res, [[4, 2, 3]])
    assert out.sum() == 9
