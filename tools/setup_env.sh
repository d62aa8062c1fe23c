#!/usr/bin/env bash
# One-shot, idempotent environment set-up for autonl_mmseg on a fresh machine.
#
# Creates ONE virtual environment for all clones (default:
# $HOME/.cache/autonl_mmseg/venv, override with AUTONL_VENV), installs the
# pinned OpenMMLab stack from requirements/*.txt and full mmcv 2.1.0 (compiled
# once with CPU ops in a throw-away build environment, the wheel kept in
# $HOME/.cache/autonl_mmseg/wheels for later set-ups).
#
# This package is NOT installed into the environment: tools/*.py and the tests
# import the checkout they belong to, so a second clone neither re-runs pip nor
# changes what another clone imports. The stamp covers requirements/*.txt
# only; once it matches, a run only checks that the stack imports.
#
# Usage: bash tools/setup_env.sh      then enter the environment with
#        source ~/.cache/autonl_mmseg/venv/bin/activate
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${AUTONL_VENV:-$HOME/.cache/autonl_mmseg/venv}
PY=${PYTHON:-python3}
REQ="$ROOT/requirements"

stamp_src() {
  cat "$REQ"/*.txt | sha1sum | cut -d' ' -f1
}
STAMP="$VENV/.autonl_stamp"
if [ -x "$VENV/bin/python" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$(stamp_src)" ] \
   && "$VENV/bin/python" -c "import mmcv.ops, mmseg, mmpretrain" >/dev/null 2>&1; then
  echo "[setup_env] environment up to date: $VENV" \
       "(enter it: source $VENV/bin/activate)" >&2
  exit 0
fi

echo "[setup_env] preparing $VENV" >&2
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)
# --no-warn-conflicts: grad-cam (no-deps.txt) declares an OpenCV we leave out
"${PIP[@]}" install -q --no-warn-conflicts -r "$REQ/runtime.txt" -r "$REQ/tests.txt"
# environments made by older versions held an editable install of one clone,
# which every other clone would then import: remove it
"${PIP[@]}" uninstall -y -q autonl_mmseg >/dev/null 2>&1 || true
# packages whose declared dependencies clash with the pinned stack
"${PIP[@]}" install -q --no-deps -r "$REQ/no-deps.txt"
if ! "$VENV/bin/python" -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '2.1.0'" >/dev/null 2>&1; then
  TORCH_V=$("$VENV/bin/python" -c "import torch; print(torch.__version__.split('+')[0])")
  WHEEL_DIR="$HOME/.cache/autonl_mmseg/wheels/torch-$TORCH_V"
  if ! ls "$WHEEL_DIR"/mmcv-2.1.0-*.whl >/dev/null 2>&1; then
    # mmcv 2.1.0's setup.py compiles with -std=c++14/17, but torch >= 2.10's
    # headers need C++20: build from the PyPI source with the standard raised.
    # Its build needs setuptools<70 (requirements/build.txt), which torch and
    # mmengine cannot run with: those packages go into a temporary folder that
    # only the build sees (PYTHONPATH), never into the environment.
    echo "[setup_env] compiling full mmcv 2.1.0 with CPU ops (first time only, ~15 min on 2 cores)" >&2
    BUILD=$(mktemp -d)
    trap 'rm -rf "$BUILD"' EXIT
    "${PIP[@]}" install -q --no-deps --target "$BUILD/deps" -r "$REQ/build.txt"
    "${PIP[@]}" download -q --no-deps --no-binary :all: -r "$REQ/mmcv.txt" -d "$BUILD"
    tar xzf "$BUILD"/mmcv-2.1.0.tar.gz -C "$BUILD"
    sed -i 's/-std=c++1[47]/-std=c++20/g' "$BUILD/mmcv-2.1.0/setup.py"
    mkdir -p "$WHEEL_DIR"
    PYTHONPATH="$BUILD/deps" PATH="$BUILD/deps/bin:$PATH" MMCV_WITH_OPS=1 FORCE_CUDA=0 \
      MAX_JOBS=${MAX_JOBS:-2} "${PIP[@]}" wheel -q --no-deps --no-build-isolation \
      -w "$WHEEL_DIR" "$BUILD/mmcv-2.1.0"
  fi
  "${PIP[@]}" install -q --no-deps "$WHEEL_DIR"/mmcv-2.1.0-*.whl
fi
"$VENV/bin/python" -c "import mmcv.ops, mmseg, mmpretrain"
PYTHONPATH="$ROOT" "$VENV/bin/python" -c "import autonl_mmseg"
stamp_src > "$STAMP"
echo "[setup_env] ready: $VENV (enter it: source $VENV/bin/activate)" >&2
