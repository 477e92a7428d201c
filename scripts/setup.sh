#!/usr/bin/env bash
# Set up shallownet in ./.venv: PyTorch, the package, the Fashion-MNIST data and the compiled
# softmax step.
#
#   bash scripts/setup.sh          # runtime only
#   bash scripts/setup.sh --dev    # plus the test tools (pytest, hypothesis, ruff)
#
# Safe to run again: each step is skipped when already done.
# Environment: PYTHON (interpreter for the venv, default python3),
#              VENV (default .venv), TORCH_SPEC (what to install when the local
#              CPU build torch==2.13.0 is not available, default "torch>=2.2").
set -euo pipefail
cd "$(dirname "$0")/.."

extras="[kernel]"
for arg in "$@"; do
  case "$arg" in
    --dev) extras="[dev]" ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown option $arg (use --dev or --help)" >&2; exit 2 ;;
  esac
done

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
say() { printf '\033[1msetup:\033[0m %s\n' "$*" >&2; }

if [ ! -x "$VENV/bin/python" ]; then
  say "creating virtual environment $VENV"
  "$PYTHON" -m venv "$VENV" || {
    echo "setup.sh: '$PYTHON -m venv' failed; on Debian/Ubuntu: apt-get install python3-venv" >&2
    exit 1
  }
fi
pip=("$VENV/bin/python" -m pip --disable-pip-version-check -q)

# 1. PyTorch: the pinned CPU build where it lies on this machine, else what suits it.
if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
  # --no-index finds only a wheel on this disk (pip's find-links); its dependencies then
  # come from the index, with torch itself already satisfied.
  if "${pip[@]}" install --no-index --no-deps torch==2.13.0 2>/dev/null; then
    "${pip[@]}" install torch==2.13.0
    say "installed torch 2.13.0 (local CPU build)"
  else
    say "installing ${TORCH_SPEC:-torch>=2.2} from the package index"
    "${pip[@]}" install "${TORCH_SPEC:-torch>=2.2}"
  fi
fi

# 2. The package (editable), with the test tools when --dev. Source-only dependencies are
# built with the setuptools they need (scripts/build-constraints.txt) unless told otherwise.
say "installing shallownet$extras"
PIP_CONSTRAINT="${PIP_CONSTRAINT:-$PWD/scripts/build-constraints.txt}" "${pip[@]}" install -e ".$extras"

# 3. Fashion-MNIST: Debian's package when apt and root are there, else a verified download.
if "$VENV/bin/shallownet" data info fashion-mnist >/dev/null 2>&1; then
  say "Fashion-MNIST already present"
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null \
     && { apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1 \
          || { apt-get update -qq >/dev/null 2>&1 \
               && apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1; }; }; then
  say "installed Fashion-MNIST from Debian's dataset-fashion-mnist"
else
  say "downloading Fashion-MNIST into the user cache"
  "$VENV/bin/shallownet" data fetch fashion-mnist
fi
# 4. The compiled softmax step, built for this CPU once (--step auto takes it where it is built).
if "$VENV/bin/python" -c "from shallownet.training.kernel import kernel_is_built as b; import sys; sys.exit(0 if b() else 1)" 2>/dev/null; then
  say "the compiled softmax step is built"
elif "$VENV/bin/python" -c "from shallownet.training.kernel import load_kernel; load_kernel(lambda line: None)" >/dev/null 2>&1; then
  say "built the compiled softmax step for this CPU"
else
  say "the compiled softmax step could not be built here (no C++ compiler?); training uses the fused step"
fi
say "done"
