#!/usr/bin/env bash
# All set-up, then the main job on the built-in toy default (no download).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup_env.sh
VENV=${AUTONL_VENV:-$HOME/.cache/autonl_mmseg/venv}
exec "$VENV/bin/python" tools/demo.py "$@"
