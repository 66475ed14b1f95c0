"""Closed-form compute cycles of a dense systolic array, matching SCALE-Sim v3 exactly.

These functions reproduce the "Total Cycles" column of SCALE-Sim v3's ``COMPUTE_REPORT.csv``
(``scalesim`` 3.0.0 on PyPI) for a stall-free run (``InterfaceBandwidth = CALC``, SRAMs large
enough), for the OS, WS and IS dataflows, any array ``rows x cols`` and any layer shape, plus
SCALE-Sim's layer-wise N:M weight-sparsity mode for WS. They were derived by reading
SCALE-Sim's source (no code copied) and are checked against live SCALE-Sim runs in
``tests/test_systolic_timing.py``.

Operand matrices (``scalesim/compute/operand_matrix.py``, ``scalesim/topology_utils.py``)
-----------------------------------------------------------------------------------------
SCALE-Sim lowers every layer to ``ofmap[Sr, Sc] = ifmap[Sr, T] @ filter[T, Sc]`` (im2col):

- conv: ``Sr = N*P*Q`` output pixels (SCALE-Sim fixes N = 1; a batch is equivalent to more
  output pixels), ``Sc = K`` filters, ``T = R*S*C`` the reduction (window) length. SCALE-Sim
  has no padding (give it the padded ifmap) and rounds the output size *up*:
  ``P = ceil((H - R) / stride) + 1`` (``topology_utils.topo_calc_hyperparams``), so when
  ``stride`` does not divide ``H - R`` it computes one extra, partly out-of-bounds window per
  row/column (its addresses are -1, but it still costs a row of the ifmap operand). A real
  convolution has ``P = (H - R) // stride + 1``; :func:`conv_operand_dims` gives either
  (``ceil_mode=True`` for SCALE-Sim's, like PyTorch's pooling ``ceil_mode``).
- GEMM ``(M x K) @ (K x N)``: SCALE-Sim's MNK topology turns row ``M, N, K`` into a conv with
  ifmap ``M x K``, one channel, ``N`` filters of ``1 x K`` and stride 1, so ``Sr = M``,
  ``Sc = N``, ``T = K``.

Dataflows (``scalesim/compute/systolic_compute_{os,ws,is}.py``)
----------------------------------------------------------------
Each dataflow puts two of (Sr, Sc, T) on the array and streams the third through it in
time; ``topology_utils.calc_spatio_temporal_params`` names them (s_row, s_col, t):

====  ================  ===================  =================  =============================
df    s_row (on rows)   s_col (on cols)      t (streamed)       cycles per fold ``L``
====  ================  ===================  =================  =============================
os    Sr  (outputs)     Sc  (filters)        T  (reduction)     ``t + rows + cols - 2``
ws    T   (reduction)   Sc  (filters)        Sr (outputs)       ``t + 2*rows + cols - 2``
is    T   (reduction)   Sr  (outputs)        Sc (filters)       ``t + 2*rows + cols - 2``
====  ================  ===================  =================  =============================

The layer is cut into ``ceil(s_row / rows) * ceil(s_col / cols)`` folds. A partial fold is
padded with idle PEs and costs as much as a full one, and folds do not overlap (each fold's
outputs drain before the next starts). Per fold, SCALE-Sim's OFMAP demand matrix has:

- OS: ``t - 1`` cycles before the first partial sums are complete, ``rows`` cycles to shift the
  stationary outputs out of the bottom edge, and ``cols - 1`` cycles of column skew: ``L = t +
  rows + cols - 2``. (The ifmap/filter feeds give the same length: ``t`` operands per row or
  column, ``rows - 1`` / ``cols - 1`` of fill skew and the other edge's drain.)
- WS and IS: ``rows`` cycles to load the stationary operand, ``rows - 1`` cycles for the first
  partial sum to ripple down a column, ``t`` streamed vectors, and ``cols - 1`` cycles of column
  skew: ``L = t + 2*rows + cols - 2``. IS is WS with ifmap and filter swapped.

SCALE-Sim services one demand row per cycle and reports the (0-based) cycle of the last
OFMAP write (``scalesim/memory/double_buffered_scratchpad_mem.py``,
``service_memory_requests``), so with no stalls::

    total_cycles = ceil(s_row / rows) * ceil(s_col / cols) * L - 1

N:M weight sparsity (``operand_matrix.create_filter_matrix``)
-------------------------------------------------------------
With ``SparsitySupport = true`` and ``OptimizedMapping = false``, a topology row's ``N:M``
keeps the first N of every M consecutive weights along the reduction dimension, the same
fixed pattern in every filter column (no randomness, no seed involved). The kept weights are
compacted and the ifmap drops the matching columns, so the reduction shrinks to
``T' = (T // M) * N + min(T % M, N)``. WS then folds ``T'`` over the rows
(``systolic_compute_ws.row_fold_demand_matrices``) and the formula above applies with
``s_row = T'``; OS and IS (not advertised for sparsity) likewise just see ``T'``. Cycles
depend only on T, N and M, never on a mask. ``OptimizedMapping = true`` (a random N per
filter column from ``RandomNumberGeneratorSeed``, two blocks per row) is not modelled.
"""

from __future__ import annotations

from math import ceil

DATAFLOWS: tuple[str, ...] = ("os", "ws", "is")


def _check_positive(**values: int) -> None:
    """Raise ValueError naming the first argument that is not a positive integer."""
    for name, value in values.items():
        if int(value) != value or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _normalize_dataflow(dataflow: str) -> str:
    """Return the dataflow in lower case; raise ValueError if it is not os, ws or is."""
    df = dataflow.lower()
    if df not in DATAFLOWS:
        raise ValueError(f"unknown dataflow {dataflow!r}; use one of {', '.join(DATAFLOWS)}")
    return df


def gemm_operand_dims(m: int, n: int, k: int) -> tuple[int, int, int]:
    """Return SCALE-Sim's ``(Sr, Sc, T)`` for the GEMM ``(m x k) @ (k x n)``."""
    _check_positive(m=m, n=n, k=k)
    return m, n, k


def conv_operand_dims(
    h: int,
    w: int,
    r: int,
    s: int,
    c: int,
    k: int,
    stride: int | tuple[int, int] = 1,
    padding: int = 0,
    batch: int = 1,
    ceil_mode: bool = False,
) -> tuple[int, int, int]:
    """Return ``(Sr, Sc, T)`` of a dense (ungrouped) conv2d in SCALE-Sim's operand terms.

    ``Sr = batch*P*Q``, ``Sc = k``, ``T = r*s*c``. ``padding`` is added to the ifmap on every
    side first (SCALE-Sim itself has no padding; feed it ``h + 2*padding``). ``stride`` is one
    int or ``(stride_h, stride_w)``. ``P = (h + 2*padding - r) // stride_h + 1`` as in a real
    convolution; ``ceil_mode=True`` rounds the division up instead, as SCALE-Sim does.
    """
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    _check_positive(h=h, w=w, r=r, s=s, c=c, k=k, stride_h=sh, stride_w=sw, batch=batch)
    hp, wp = h + 2 * padding, w + 2 * padding
    if r > hp or s > wp:
        raise ValueError(f"filter {r}x{s} is larger than the padded ifmap {hp}x{wp}")
    if ceil_mode:
        p = -(-(hp - r) // sh) + 1
        q = -(-(wp - s) // sw) + 1
    else:
        p = (hp - r) // sh + 1
        q = (wp - s) // sw + 1
    return batch * p * q, k, r * s * c


def spatiotemporal_dims(sr: int, sc: int, t: int, dataflow: str) -> tuple[int, int, int]:
    """Map ``(Sr, Sc, T)`` to ``(s_row, s_col, t_stream)`` for a dataflow (see module doc)."""
    df = _normalize_dataflow(dataflow)
    if df == "os":
        return sr, sc, t
    if df == "ws":
        return t, sc, sr
    return t, sr, sc


def fold_counts(sr: int, sc: int, t: int, rows: int, cols: int, dataflow: str) -> tuple[int, int]:
    """Return ``(row_folds, col_folds)``: how many times the array is refilled along each edge."""
    _check_positive(sr=sr, sc=sc, t=t, rows=rows, cols=cols)
    s_row, s_col, _ = spatiotemporal_dims(sr, sc, t, dataflow)
    return ceil(s_row / rows), ceil(s_col / cols)


def fold_cycles(sr: int, sc: int, t: int, rows: int, cols: int, dataflow: str) -> int:
    """Return the cycles of one fold, including fill, skew and drain (see module doc)."""
    _check_positive(sr=sr, sc=sc, t=t, rows=rows, cols=cols)
    df = _normalize_dataflow(dataflow)
    _, _, t_stream = spatiotemporal_dims(sr, sc, t, df)
    if df == "os":
        return t_stream + rows + cols - 2
    return t_stream + 2 * rows + cols - 2


def compute_cycles(sr: int, sc: int, t: int, rows: int, cols: int, dataflow: str) -> int:
    """Return SCALE-Sim v3's stall-free "Total Cycles" for ``ofmap[sr, sc] = ifmap[sr, t] @ filter[t, sc]``.

    Parameters
    ----------
    sr, sc, t
        Output rows (pixels / GEMM M), output columns (filters / GEMM N) and reduction
        length (R*S*C / GEMM K); see :func:`conv_operand_dims` and :func:`gemm_operand_dims`.
    rows, cols
        Systolic array height and width.
    dataflow
        ``"os"``, ``"ws"`` or ``"is"`` (case-insensitive).
    """
    row_folds, col_folds = fold_counts(sr, sc, t, rows, cols, dataflow)
    return row_folds * col_folds * fold_cycles(sr, sc, t, rows, cols, dataflow) - 1


def nm_sparse_reduction_length(t: int, n: int, m: int) -> int:
    """Return the reduction length left after SCALE-Sim's N:M compaction of ``t`` weights.

    The first ``n`` of every ``m`` weights are kept; a last partial block of length ``L``
    keeps ``min(L, n)``.
    """
    _check_positive(t=t, n=n, m=m)
    if n > m:
        raise ValueError(f"N:M sparsity needs N <= M, got {n}:{m}")
    return (t // m) * n + min(t % m, n)


def nm_sparse_compute_cycles(
    sr: int, sc: int, t: int, rows: int, cols: int, n: int, m: int, dataflow: str = "ws"
) -> int:
    """Return SCALE-Sim v3's "Total Cycles" with layer-wise N:M weight sparsity.

    Same as :func:`compute_cycles` on the compacted reduction length
    :func:`nm_sparse_reduction_length` (``SparsitySupport = true``, ``OptimizedMapping =
    false``). SCALE-Sim presents the mode for WS, but its OS and IS paths consume the same
    compacted operands and follow the same rule, so ``dataflow`` may be any of the three.
    """
    t_kept = nm_sparse_reduction_length(t, n, m)
    return compute_cycles(sr, sc, t_kept, rows, cols, dataflow)


# -- the TPU-like baseline of the SIGMA paper ---------------------------------------------------
#: Per-fold timing models: SCALE-Sim v3 (the default, above) or the one behind the SIGMA paper's TPU column.
FOLD_TIMINGS: tuple[str, ...] = ("scalesim_v3", "sigma_paper")


def sigma_paper_fold_cycles(sr: int, sc: int, t: int, rows: int, cols: int, dataflow: str) -> int:
    """Cycles of one fold in the SIGMA paper's TPU-like baseline (Qin et al., HPCA 2020, §VI).

    The paper simulated its 128 x 128 weight-stationary array with the 2019 SCALE-Sim. Its six
    published TPU times (``shared/reference/sigma.md``) all fit one per-fold length::

        L = t_stream + min(s_row, rows) + cols

    (fill with the rows the stationary operand actually occupies, ``t_stream`` streamed vectors,
    drain over all ``cols`` columns), with ``ceil(s_row / rows) * ceil(s_col / cols)`` folds, a
    partial fold costing as much as a full one, and no ``- 1``. Derivation from the rows, in the
    cheaper orientation (``is``: M x K stationary, N streamed; ``ws``: K x N stationary, M streamed):

    - 128 x 2048 x 4096, is: 32 x 1 folds x (2048 + 128 + 128) = 73,728;
    - 320 x 3072 x 4096, is: 32 x 3 x (3072 + 256) = 319,488;
    - 2048 x 4096 x 32, is: 1 x 16 x (4096 + 32 + 128) = 68,096 -- K = 32 < 128 rows, so the fill
      is 32, not 128 (with 128 it would be 69,632);
    - 1024 x 16 x 500000, ws: 3907 x 1 x (1024 + 128 + 128) = 5,000,960 -- the last row fold holds
      32 rows but costs a full fold, and the 16 used columns still drain over 128;
    - 35 x 8457 x 2560, is: 20 x 1 x (8457 + 256) = 174,260;
    - 84 x 1024 x 4096, is: 32 x 1 x (1024 + 256) = 40,960 (84 of 128 columns used, full drain).

    SCALE-Sim v3's ``t + 2*rows + cols - 2`` per fold (and ``- 1`` overall) gives 77,759 for the
    first row. Only the stationary dataflows (``ws``, ``is``) are defined.
    """
    _check_positive(sr=sr, sc=sc, t=t, rows=rows, cols=cols)
    df = _normalize_dataflow(dataflow)
    if df == "os":
        raise ValueError("the sigma_paper fold timing is defined for the stationary dataflows ws and is, not os")
    s_row, _, t_stream = spatiotemporal_dims(sr, sc, t, df)
    return t_stream + min(s_row, rows) + cols


def sigma_paper_compute_cycles(sr: int, sc: int, t: int, rows: int, cols: int, dataflow: str) -> int:
    """Stall-free cycles of the SIGMA paper's TPU-like baseline: folds x :func:`sigma_paper_fold_cycles`."""
    row_folds, col_folds = fold_counts(sr, sc, t, rows, cols, dataflow)
    return row_folds * col_folds * sigma_paper_fold_cycles(sr, sc, t, rows, cols, dataflow)


def _timing_pair(fold_timing: str):
    """(fold cycles, compute cycles) functions of a fold timing model."""
    pairs = {"scalesim_v3": (fold_cycles, compute_cycles),
             "sigma_paper": (sigma_paper_fold_cycles, sigma_paper_compute_cycles)}
    if fold_timing not in pairs:
        raise ValueError(f"unknown fold timing {fold_timing!r}; use one of {', '.join(FOLD_TIMINGS)}")
    return pairs[fold_timing]


def fold_cycles_for(fold_timing: str, sr: int, sc: int, t: int, rows: int, cols: int, dataflow: str) -> int:
    """:func:`fold_cycles` (``scalesim_v3``) or :func:`sigma_paper_fold_cycles` (``sigma_paper``)."""
    return _timing_pair(fold_timing)[0](sr, sc, t, rows, cols, dataflow)


def compute_cycles_for(fold_timing: str, sr: int, sc: int, t: int, rows: int, cols: int, dataflow: str) -> int:
    """:func:`compute_cycles` (``scalesim_v3``) or :func:`sigma_paper_compute_cycles` (``sigma_paper``)."""
    return _timing_pair(fold_timing)[1](sr, sc, t, rows, cols, dataflow)
