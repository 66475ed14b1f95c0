#!/usr/bin/env bash
# Re-make the example figure of every `accelsim plot` kind from real sweeps (configs/sweeps/*.yaml)
# over the chips at their paper defaults. Results go to $RESULTS (default /tmp/accelsim-sweeps),
# started afresh; figures to analysis/sweeps/. About 10 min on 2 cores.
#   analysis/sweeps/make_figures.sh               # sweeps, then figures
#   analysis/sweeps/make_figures.sh --plots-only  # figures from the existing $RESULTS
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
FIG="$REPO/analysis/sweeps"
RESULTS=${RESULTS:-/tmp/accelsim-sweeps}

if [[ "${1:-}" != "--plots-only" ]]; then
  rm -rf "$RESULTS" && mkdir -p "$RESULTS"
  cd "$REPO"  # trace-files.yaml names the shipped traces/ relative to the repository
  for spec in density scaling design-space accelerators trace-files; do
    accelsim sweep "configs/sweeps/$spec.yaml" -o "$RESULTS/$spec"
  done
fi
cd "$RESULTS"

plot() { accelsim plot "$@" --dpi 110; }
plot density -k latency-vs-density -o "$FIG/latency-vs-density.png"
plot density -k energy-vs-density -o "$FIG/energy-vs-density.png"
plot scaling -k scaling -o "$FIG/scaling.png"
plot accelerators -k energy-breakdown --by config -o "$FIG/energy-breakdown.png"
plot accelerators -k energy-breakdown --by layer --where config=scnn -o "$FIG/energy-breakdown-scnn-layers.png"
plot design-space -k pareto -o "$FIG/pareto.png"
plot design-space -k load-heatmap --where accelerator=scnn --where param.pe_rows=8 \
  --where param.sparse_operands=both -o "$FIG/load-heatmap.png"
plot trace-files -k load-heatmap --where "config=eie[pe_count=64]" --where trace=lenet5-digits --layer fc1 \
  -o "$FIG/load-heatmap-eie.png"
plot accelerators -k speedup --baseline dcnn -o "$FIG/speedup.png"
plot trace-files -k speedup --baseline systolic -o "$FIG/speedup-trace-file.png"
for d in density scaling design-space accelerators trace-files; do accelsim results "$d" | head -1; done
