#!/usr/bin/env bash
# Creates bench/.venv and installs the pinned Splink reference environment.
#   bash bench/setup.sh            # from the repository root (or anywhere)
# PYTHON=python3.12 bash bench/setup.sh   to pick the interpreter (≥ 3.10).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${PYTHON:-python3}"
if [ ! -x "$here/.venv/bin/python" ]; then
    "$python" -m venv "$here/.venv"
fi
"$here/.venv/bin/python" -m pip install --quiet --upgrade pip
"$here/.venv/bin/python" -m pip install --quiet -r "$here/requirements.txt"
"$here/.venv/bin/python" -c 'import splink, duckdb, pandas, recordlinkage; print("splink", splink.__version__, "duckdb", duckdb.__version__, "pandas", pandas.__version__)'
