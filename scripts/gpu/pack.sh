#!/bin/bash
# Pack what a bare GPU machine (no network, no TensorFlow, no Keras) needs to train with
# 'KERAS_BACKEND=jax python -m fer train': the FER2013 folders and the Keras wheels, in .gpu/
# (git-ignored through .git/info/exclude). Then run scripts/gpu/train.sh there.
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${FER2013_DIR:-../shared/datasets/fer2013}
mkdir -p .git/info .gpu/whl
grep -qx "/.gpu/" .git/info/exclude 2>/dev/null || echo "/.gpu/" >> .git/info/exclude
tar -C "$(dirname "$DATA")" -cf - "$(basename "$DATA")" | xz -T0 -6 > .gpu/fer2013.tar.xz
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    -d .gpu/whl "keras==$(python3 -c 'import keras; print(keras.__version__)')" namex optree
du -sh .gpu
