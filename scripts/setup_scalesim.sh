#!/usr/bin/env bash
# Create (idempotently) a separate virtualenv holding SCALE-Sim v3 for parity tests.
#
# SCALE-Sim 3.0.0 crashes with numpy >= 2.4, while accelsim's main environment uses
# numpy 2.4, so SCALE-Sim lives in its own venv. Only PyPI is needed.
#
# Location: ${ACCELSIM_SCALESIM_VENV:-$HOME/.cache/accelsim/scalesim-venv}
# Usage:    bash scripts/setup_scalesim.sh      (prints the venv's python path last)
set -euo pipefail

VENV="${ACCELSIM_SCALESIM_VENV:-$HOME/.cache/accelsim/scalesim-venv}"
PY="$VENV/bin/python"
SCALESIM_VERSION="3.0.0"
BASE_PYTHON="${PYTHON:-python3}"

installed_ok() {
    [ -x "$PY" ] && "$PY" - "$SCALESIM_VERSION" <<'PYEOF' >/dev/null 2>&1
import sys
from importlib.metadata import version

import numpy

assert version("scalesim") == sys.argv[1]
major, minor = (int(x) for x in numpy.__version__.split(".")[:2])
assert (major, minor) < (2, 4)
import scalesim.scale_sim  # noqa: F401
PYEOF
}

if ! installed_ok; then
    mkdir -p "$(dirname "$VENV")"
    if [ ! -x "$PY" ]; then
        "$BASE_PYTHON" -m venv "$VENV" >&2
    fi
    "$PY" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
    "$PY" -m pip install --quiet --disable-pip-version-check \
        "scalesim==$SCALESIM_VERSION" "numpy<2.4" >&2
    if ! installed_ok; then
        echo "setup_scalesim.sh: scalesim $SCALESIM_VERSION is not importable in $VENV" >&2
        exit 1
    fi
fi

echo "$PY"
