"""Mapping a conv layer onto the planar-tiled PE array: bands, PE tiles, accumulator windows, Kc.

SCNN's PT (planar tiling, Parashar et al. §III-B): the W x H input plane is cut into one Wt x Ht tile
per PE, each spanning all input channels; products that land outside a PE's own outputs are *output
halos*, exchanged with neighbours at the end of an output-channel group. The accumulator buffer of a
PE must hold the group's Kc x (own outputs + halo) partial sums; Kc is chosen per layer so it does
(§III-B, §IV).

Choices where the paper is silent:

* Tiles are balanced: a dimension of n over m PEs gets tiles of ``ceil(n/m)`` or ``floor(n/m)``
  (like ``numpy.array_split``); 7 rows over 8 PE rows leave one PE row idle.
* Output ownership: output row ``o`` belongs to the tile holding its centre input row
  ``o·stride - pad + (R-1)//2`` (clamped into the band). A PE's accumulator *window* is every
  output its inputs can reach (its owned outputs plus its halo), clipped to the valid outputs.
* ``Kc = min(K/groups, floor(A·entries / largest window area))``, one value per band.
* Temporal (DRAM) tiling, for layers whose input does not fit in the IARAMs (§VI, "temporal
  tiling"): the input rows are split into the fewest equal, disjoint *bands* whose per-PE share
  fits half an IARAM (double buffering); each band is planar-tiled over the PEs. Output halos
  extend across bands: an output row belongs to the band holding the *last* input row it reads,
  so a band's partial sums for the next band's rows are spilled to DRAM at the group's end and
  reloaded with the next band (no input is fetched twice and no product is wasted). A layer
  whose whole input fits in the IARAMs needs no DRAM input traffic (it is the previous layer's
  OARAM contents, laid out by band). Bands are also added until every window fits the
  accumulators at Kc = 1 -- and, for DCNN, until Kc reaches F so its dot-product lanes over
  output channels can be filled (``min_kc``); SCNN keeps the paper's rule.
* The input-fit test counts the entries each PE stores, non-zeros only for a compressed operand
  (placeholder entries, rare at these densities, are not counted in the fit test).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from accelsim.errors import AccelsimError


def split_bounds(n: int, parts: int) -> np.ndarray:
    """``parts + 1`` bounds cutting ``n`` into balanced pieces (sizes differ by at most one)."""
    q, r = divmod(n, parts)
    sizes = np.array([q + 1] * r + [q] * (parts - r), dtype=np.int64)
    return np.concatenate([[0], np.cumsum(sizes)])


def _ceil_div(a: int, b: int) -> int:
    return -((-a) // b)


@dataclass(frozen=True)
class Axis:
    """One spatial axis of a conv: input length, output length, kernel, stride and padding."""

    n_in: int
    n_out: int
    kernel: int
    stride: int
    pad: int

    def centre(self, o: np.ndarray) -> np.ndarray:
        """The input index whose tile owns output ``o`` (before clamping)."""
        return o * self.stride - self.pad + (self.kernel - 1) // 2

    def reach(self, lo: int, hi: int) -> tuple[int, int]:
        """Outputs [o_lo, o_hi) that products of inputs [lo, hi) can land on (unclipped)."""
        if hi <= lo:
            return 0, 0
        return _ceil_div(lo + self.pad - (self.kernel - 1), self.stride), (hi - 1 + self.pad) // self.stride + 1

    def band_owned(self, i_lo: int, i_hi: int) -> tuple[int, int]:
        """Outputs whose last input row (the last one read) lies in [i_lo, i_hi)."""
        o = np.arange(self.n_out)
        last = np.minimum(self.n_in - 1, o * self.stride - self.pad + self.kernel - 1)
        hit = np.flatnonzero((last >= i_lo) & (last < i_hi))
        return (int(hit[0]), int(hit[-1]) + 1) if hit.size else (0, 0)

    def owned(self, lo: int, hi: int, o_lo: int, o_hi: int, i_lo: int, i_hi: int) -> tuple[int, int]:
        """Outputs in [o_lo, o_hi) owned by the tile of inputs [lo, hi) (inputs of the band: [i_lo, i_hi))."""
        if hi <= lo or o_hi <= o_lo:
            return 0, 0
        o = np.arange(o_lo, o_hi)
        c = np.clip(self.centre(o), i_lo, i_hi - 1)
        hit = np.flatnonzero((c >= lo) & (c < hi))
        return (int(o[hit[0]]), int(o[hit[-1]]) + 1) if hit.size else (0, 0)

    def window(self, lo: int, hi: int, o_lo: int, o_hi: int, own: tuple[int, int]) -> tuple[int, int]:
        """Accumulator window of a tile: reachable outputs in [o_lo, o_hi), joined with its owned outputs."""
        r_lo, r_hi = self.reach(lo, hi)
        r_lo, r_hi = max(r_lo, o_lo), min(r_hi, o_hi)
        if own[1] > own[0]:
            r_lo, r_hi = (min(r_lo, own[0]), max(r_hi, own[1])) if r_hi > r_lo else own
        return (r_lo, r_hi) if r_hi > r_lo else (0, 0)


@dataclass(frozen=True)
class BandPlan:
    """One temporal band: its output rows, the input rows it loads, and every PE's tile."""

    out_rows: tuple[int, int]       # output rows [p_lo, p_hi) this band finishes (owns)
    in_rows: tuple[int, int]        # input rows [i_lo, i_hi) loaded for it
    tiles: np.ndarray               # int64[npe, 4]: input tile (y0, y1, x0, x1)
    win: np.ndarray                 # int64[npe, 4]: accumulator window (oy0, oy1, ox0, ox1)
    own: np.ndarray                 # int64[npe, 4]: owned outputs (oy0, oy1, ox0, ox1)
    kc: int                         # output channels per group

    @property
    def window_shape(self) -> tuple[int, int]:
        return (int((self.win[:, 1] - self.win[:, 0]).max()), int((self.win[:, 3] - self.win[:, 2]).max()))


@dataclass(frozen=True)
class LayerPlan:
    """The bands of a layer, and whether its input stays on chip (no DRAM input traffic)."""

    bands: list[BandPlan]
    inputs_on_chip: bool
    max_tile_entries: int


def _band(ay: Axis, ax: Axis, in_rows: tuple[int, int], cols: np.ndarray, pe_rows: int, kg: int,
          acc_entries: int) -> BandPlan | None:
    i_lo, i_hi = in_rows
    p_lo, p_hi = ay.band_owned(i_lo, i_hi)
    rows = i_lo + split_bounds(i_hi - i_lo, pe_rows)
    pe_cols = cols.size - 1
    npe = pe_rows * pe_cols
    tiles = np.zeros((npe, 4), dtype=np.int64)
    win = np.zeros((npe, 4), dtype=np.int64)
    own = np.zeros((npe, 4), dtype=np.int64)
    col_own = [ax.owned(int(cols[j]), int(cols[j + 1]), 0, ax.n_out, 0, ax.n_in) for j in range(pe_cols)]
    col_win = [ax.window(int(cols[j]), int(cols[j + 1]), 0, ax.n_out, col_own[j]) for j in range(pe_cols)]
    for i in range(pe_rows):
        y0, y1 = int(rows[i]), int(rows[i + 1])
        row_own = ay.owned(y0, y1, p_lo, p_hi, i_lo, i_hi)
        row_win = ay.window(y0, y1, 0, ay.n_out, row_own)
        for j in range(pe_cols):
            p = i * pe_cols + j
            tiles[p] = (y0, y1, cols[j], cols[j + 1])
            if row_win[1] > row_win[0] and col_win[j][1] > col_win[j][0]:
                win[p] = (*row_win, *col_win[j])
            if row_own[1] > row_own[0] and col_own[j][1] > col_own[j][0]:
                own[p] = (*row_own, *col_own[j])
    area = int(((win[:, 1] - win[:, 0]) * (win[:, 3] - win[:, 2])).max())
    if area > acc_entries:
        return None
    kc = max(1, min(kg, acc_entries // max(area, 1)))
    return BandPlan((p_lo, p_hi), in_rows, tiles, win, own, kc)


def plan_layer(ay: Axis, ax: Axis, kg: int, entries: np.ndarray, *, pe_rows: int, pe_cols: int,
               acc_entries: int, iaram_entries: int, min_kc: int = 1) -> LayerPlan:
    """Choose the bands, tiles, windows and Kc of a layer (see the module docstring).

    ``entries`` int64[H, W] is how many IARAM entries each input position needs (summed over the
    channels, worst image of the batch). ``min_kc`` asks for bands small enough that every group
    has at least that many output channels (DCNN's dot-product lanes; SCNN uses 1).
    """
    integral = np.zeros((entries.shape[0] + 1, entries.shape[1] + 1), dtype=np.int64)
    integral[1:, 1:] = entries.cumsum(0).cumsum(1)
    cols = split_bounds(ax.n_in, pe_cols)
    for nb in range(1, ay.n_in + 1):
        bounds = split_bounds(ay.n_in, nb)
        bands: list[BandPlan] = []
        for b in range(nb):
            band = _band(ay, ax, (int(bounds[b]), int(bounds[b + 1])), cols, pe_rows, kg, acc_entries)
            if band is None:
                break
            bands.append(band)
        if len(bands) < nb or min(bd.kc for bd in bands) < min(min_kc, kg):
            continue
        per_tile = np.stack([integral[bd.tiles[:, 1], bd.tiles[:, 3]] - integral[bd.tiles[:, 0], bd.tiles[:, 3]]
                             - integral[bd.tiles[:, 1], bd.tiles[:, 2]] + integral[bd.tiles[:, 0], bd.tiles[:, 2]]
                             for bd in bands])                     # [band, PE]
        biggest = int(per_tile.max())
        if int(per_tile.sum(axis=0).max()) <= iaram_entries:      # every band's tile stays on chip
            return LayerPlan(bands, True, biggest)
        if biggest <= iaram_entries // 2:
            return LayerPlan(bands, False, biggest)
    raise AccelsimError(f"cannot map the layer: even one input row per band overflows the IARAM "
                        f"({iaram_entries} entries per PE) or the accumulators ({acc_entries} entries); "
                        f"add PEs or buffer capacity")
