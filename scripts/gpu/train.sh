#!/bin/bash
# On the GPU machine, from the repository root: install the packed wheels, unpack FER2013 and
# train one model on JAX. Usage: scripts/gpu/train.sh ARCH OUTDIR [python -m fer train options]
# e.g. scripts/gpu/train.sh deep /tmp/run --epochs 294 --optimizer sgd --lr 0.05 --weight-decay 0.005
# Bring back OUTDIR/ARCH.keras and OUTDIR/.checkpoints/ARCH/state.json, put them in models/ and
# models/.checkpoints/ARCH/, then 'python -m fer card --arch ARCH' writes the card. Where several
# runs' files exceed what a lease returns (64 MB), 'python3 scripts/gpu/weights.py export ARCH
# OUTDIR $OUT TAG' there and 'weights.py import ARCH DIR/TAG OUT' here halve them.
# Runs that share the GPU slow each other after any --time-budget probe: give each its --epochs.
set -euo pipefail
ARCH=$1; OUTDIR=$2; shift 2
[ -d /tmp/site/keras ] || python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .gpu/whl/*.whl
[ -d /tmp/data/fer2013 ] || { mkdir -p /tmp/data && tar -C /tmp/data -xJf .gpu/fer2013.tar.xz; }
export PYTHONPATH=/tmp/site:$PWD KERAS_BACKEND=jax XLA_PYTHON_CLIENT_PREALLOCATE=false PYTHONUNBUFFERED=1
export FER_CACHE_DIR=/tmp/fercache
python3 -m fer train --arch "$ARCH" --data /tmp/data/fer2013 --out "$OUTDIR" "$@"
