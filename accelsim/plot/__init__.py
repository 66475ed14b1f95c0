"""Figures of sweep results (matplotlib): each function takes a results table and returns a Figure.

The table is the layer-level one of :func:`accelsim.sweep` / ``accelsim results`` (or
``RunResult.to_frame()``); points are summed over their layers with
:func:`accelsim.sweep.totals.point_totals`. Figures are built with ``matplotlib.figure.Figure``
(no pyplot state), so they are safe in scripts and notebooks alike::

    df = accelsim.sweep("configs/sweeps/density.yaml")
    fig = accelsim.plot.latency_vs_density(df)
    fig.savefig("latency.png")

Kinds (``accelsim plot RESULTS -k KIND -o FILE.png|svg``):

* ``latency-vs-density`` / ``energy-vs-density``: whole-trace latency / energy against weight (or
  activation) density, one line per config; seeds are averaged.
* ``scaling``: speedup (over the smallest PE count of the same series) and utilisation against
  PE count. Where several shapes have the same PE count, the fastest is kept.
* ``energy-breakdown``: stacked bars per energy component, per layer of one run or per config;
  a lower panel shows each bar's shares.
* ``pareto``: energy against latency over all points, the Pareto front (no point both faster
  and cheaper) highlighted.
* ``load-heatmap``: per-PE busy fraction (busy cycles / cycles) of one run, as a grid for 2-D
  arrays and as bars for 1-D ones.
* ``speedup``: per-layer speedup of each config over a baseline config, for one workload.

Axes with a range of more than ``LOG_RATIO`` (max / min) use a log scale.

One module per kind (:mod:`~accelsim.plot.density`, ``scaling``, ``breakdown``, ``pareto``,
``heatmap``, ``speedup``) and the shared styling in :mod:`~accelsim.plot.style`; a new kind is one new
module and one line in :data:`KINDS`.
"""

from __future__ import annotations

from accelsim.plot.breakdown import energy_breakdown
from accelsim.plot.density import energy_vs_density, latency_vs_density
from accelsim.plot.heatmap import load_heatmap, pe_frame
from accelsim.plot.pareto import pareto, pareto_front
from accelsim.plot.scaling import scaling
from accelsim.plot.speedup import speedup
from accelsim.plot.style import ENERGY_UNITS, LOG_RATIO, TIME_UNITS, PlotError, save, select

#: kind name (``accelsim plot -k KIND``) -> figure function
KINDS = {
    "latency-vs-density": latency_vs_density,
    "energy-vs-density": energy_vs_density,
    "scaling": scaling,
    "energy-breakdown": energy_breakdown,
    "pareto": pareto,
    "load-heatmap": load_heatmap,
    "speedup": speedup,
}

__all__ = ["ENERGY_UNITS", "KINDS", "LOG_RATIO", "TIME_UNITS", "PlotError", "energy_breakdown",
           "energy_vs_density", "latency_vs_density", "load_heatmap", "pareto", "pareto_front", "pe_frame", "save",
           "scaling", "select", "speedup"]
