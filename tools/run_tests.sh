#!/usr/bin/env bash
# All set-up, then the test suite (extra arguments go to pytest).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup_env.sh
VENV=${AUTONL_VENV:-$HOME/.cache/autonl_mmseg/venv}
# this checkout's package (the environment holds none of its own)
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
exec "$VENV/bin/python" -m pytest tests -q --durations=15 "$@"
