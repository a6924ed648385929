#!/usr/bin/env bash
# The deep candidates of docs/figures.md ("A third epoch per member"): each ensemble member
# fine-tuned from the shipped deep on FER+'s votes alone for 3 epochs, the two ensembled, and
# that ensemble interpolated half way back to the shipped deep (WiSE-FT); each of the two is
# then served dynamic-range quantized, with its temperature and balanced operating point fitted
# on FER+ Train's held-out slice, its robustness measured, and its posed-set figures where
# POSED_DIR (default /tmp/posed, see benchmarks/posed.py) exists. About two hours on 2 cores.
#   bash scripts/cpu/deep_votes.sh [RUNS_DIR]    (default runs/deep_votes; logs in RUNS_DIR/*.log)
# Resumable like ferplus.sh: rerun it after an interruption. Nothing here replaces models/.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-runs/deep_votes}
ferplus=${FERPLUS_DIR:-../shared/datasets/ferplus}
fer2013=${FER2013_DIR:-../shared/datasets/fer2013}
posed=${POSED_DIR:-/tmp/posed}
mkdir -p "$runs"

source scripts/cpu/step.sh

for member in 1 2; do
  geometry=$([ $member = 1 ] && echo 0.1 || echo 0.2)
  step "m$member" "$runs/m$member/deep.keras" python3 -m fer train --arch deep \
    --init models/deep.keras --member $member --epochs 3 --lr 2e-4 --geometry "$geometry" \
    --quantize float --data "$ferplus" --fer2013-pixels 0.5 --fer2013-data "$fer2013" \
    --shift-prob 0.15 --roll-prob 0.4 --roll-min 15 --resume --out "$runs/m$member"
done
step ensemble "$runs/ensemble/deep.keras" python3 -m fer ensemble "$runs/m1/deep.keras" \
  "$runs/m2/deep.keras" --name deep --out "$runs/ensemble" --data "$ferplus"
step interp "$runs/interp/deep.keras" python3 -m fer interpolate models/deep.keras \
  "$runs/ensemble/deep.keras" --alpha 0.5 --name deep --out "$runs/interp" --data "$ferplus" \
  --quantize dynamic
# step needs a file the command writes: these two write into cards, so they leave a marker
export_dynamic() {  # the ensemble's serving file is float (the members' form); serve it as deep is
  python3 -m fer export "$runs/ensemble/deep.keras" --data "$ferplus" --quantize dynamic
  touch "$runs/ensemble/exported"
}
fit() {  # fit DIR: the temperature, the balanced prior, then the temperature again under it
  for c in calibrate balance calibrate; do
    FER_MODELS_DIR="$1" python3 -m fer $c --model deep --data "$ferplus" --write-card
  done
  touch "$1/fitted"
}
step ensemble_export "$runs/ensemble/exported" export_dynamic
for candidate in ensemble interp; do
  dir="$runs/$candidate"
  step "${candidate}_fit" "$dir/fitted" fit "$dir"
  FER_MODELS_DIR="$dir" python3 -m fer robustness --model deep --write-card \
    >"$runs/${candidate}_robustness.log" 2>&1
  if [ -d "$posed" ]; then
    python3 benchmarks/posed.py "$posed" --model deep --models-dir "$dir" \
      >"$runs/${candidate}_posed.log" 2>&1
  fi
done
grep "faces, accuracy\|mean drop" "$runs"/*_robustness.log "$runs"/*_posed.log || true
echo "done: $(date -u +%H:%M)"
