#!/usr/bin/env bash
# Accuracy against labeled-set size on Fashion-MNIST (issue 4), on a small CPU budget:
# labels 50/100/1000 x seeds 0/1/2, 1 epoch (600 steps) per GAN run. Far from the
# published budgets (hundreds of epochs): the figures show the CPU-budget regime only.
# Usage: bench/sweep_fashion.sh [OUT_DIR]   (re-run the same command to resume)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/bench/sweep_fashion}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
PY=${PYTHON:-python}
"$PY" evaluate.py sweep --dataset fashion_mnist --labels 50,100,1000 --seeds 0,1,2 \
    --max-epochs 1 --no-checkpoints --out "$OUT"
mkdir -p bench/results/sweep_fashion
cp "$OUT"/results.csv "$OUT"/summary.csv "$OUT"/summary.md "$OUT"/error_vs_labels.png \
    bench/results/sweep_fashion/
