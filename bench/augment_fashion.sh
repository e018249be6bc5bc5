#!/usr/bin/env bash
# Generated samples for augmentation on Fashion-MNIST, 100 labels (issue 5).
# Takes a Fashion-MNIST ssgan checkpoint (feature matching: unconditional G, so samples are
# labeled by the classifier's prediction), exports 100 samples per class with and without a
# confidence filter, and measures with the supervised-only classifier (same network, 1200 steps
# of batch 100, seeds 0,1,2) the test error on real vs real + generated labeled images.
# Usage: bench/augment_fashion.sh CHECKPOINT [OUT_DIR]
# e.g. the seed-0 checkpoint kept by
#   python bench/time_to_accuracy.py --seeds 0 --runs-dir runs/bench/tta ...
set -euo pipefail
cd "$(dirname "$0")/.."
CK=$1
OUT=${2:-runs/bench/augment_fashion}
PY=${PYTHON:-python}
"$PY" evaluate.py "$CK" --out "$OUT/checkpoint_evaluate.json" > /dev/null
for conf in 0 0.9; do
    "$PY" evaluate.py augment "$CK" --n-per-class 100 --out "$OUT/fm_conf$conf" --evaluate \
        --eval-steps 1200 --eval-seeds 0,1,2 --min-confidence "$conf" > "$OUT/fm_conf$conf.stdout.json"
done
