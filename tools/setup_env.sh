#!/usr/bin/env bash
# One-shot, idempotent environment set-up for autonl_mmseg on a fresh machine.
#
# Creates a virtual environment (default: $HOME/.cache/autonl_mmseg/venv, override
# with AUTONL_VENV), installs the pinned OpenMMLab stack from requirements/*.txt,
# compiles full mmcv 2.1.0 with CPU ops if no wheel is cached, and installs this
# package in editable mode. A second run only checks a stamp and returns.
#
# Usage: bash tools/setup_env.sh        (prints the venv's python path last)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${AUTONL_VENV:-$HOME/.cache/autonl_mmseg/venv}
PY=${PYTHON:-python3}

stamp_src() {
  cat "$ROOT"/requirements/*.txt "$ROOT/setup.py" 2>/dev/null | sha1sum | cut -d' ' -f1
  echo "$ROOT"
}
STAMP="$VENV/.autonl_stamp"
if [ -x "$VENV/bin/python" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$(stamp_src)" ] \
   && "$VENV/bin/python" -c "import mmcv.ops, mmseg, mmpretrain, autonl_mmseg" >/dev/null 2>&1; then
  echo "[setup_env] environment up to date: $VENV" >&2
  exit 0
fi

echo "[setup_env] preparing $VENV" >&2
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)
"${PIP[@]}" install -q -r "$ROOT/requirements/runtime.txt" -r "$ROOT/requirements/tests.txt"
# After the runtime stack: torch pulls a recent setuptools, which cannot build mmcv 2.1.0.
"${PIP[@]}" install -q -r "$ROOT/requirements/build.txt"
if ! "$VENV/bin/python" -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '2.1.0'" >/dev/null 2>&1; then
  # mmcv 2.1.0's setup.py compiles with -std=c++14/17, but torch >= 2.10's
  # headers need C++20: build from the PyPI source with the standard raised,
  # and keep the wheel so that later set-ups (fresh clones, CI) reuse it.
  WHEELS="$HOME/.cache/autonl_mmseg/wheels"
  TORCH_V=$("$VENV/bin/python" -c "import torch; print(torch.__version__.split('+')[0])")
  WHEEL_DIR="$WHEELS/torch-$TORCH_V"
  if ! ls "$WHEEL_DIR"/mmcv-2.1.0-*.whl >/dev/null 2>&1; then
    echo "[setup_env] compiling full mmcv 2.1.0 with CPU ops (first time only, ~15 min on 2 cores)" >&2
    SRC=$(mktemp -d)
    "${PIP[@]}" download -q --no-deps --no-binary :all: -r "$ROOT/requirements/mmcv.txt" -d "$SRC"
    tar xzf "$SRC"/mmcv-2.1.0.tar.gz -C "$SRC"
    sed -i 's/-std=c++1[47]/-std=c++20/g' "$SRC/mmcv-2.1.0/setup.py"
    mkdir -p "$WHEEL_DIR"
    MMCV_WITH_OPS=1 FORCE_CUDA=0 MAX_JOBS=${MAX_JOBS:-2} "${PIP[@]}" wheel -q --no-deps \
      --no-build-isolation -w "$WHEEL_DIR" "$SRC/mmcv-2.1.0"
    rm -rf "$SRC"
  fi
  "${PIP[@]}" install -q --no-deps "$WHEEL_DIR"/mmcv-2.1.0-*.whl
fi
"${PIP[@]}" install -q --no-build-isolation --no-deps -e "$ROOT"
"$VENV/bin/python" -c "import mmcv.ops, mmseg, mmpretrain, autonl_mmseg"
stamp_src > "$STAMP"
echo "[setup_env] ready: $VENV" >&2
