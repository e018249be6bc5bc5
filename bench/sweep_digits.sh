#!/usr/bin/env bash
# Accuracy against labeled-set size on digits (issue 4): ssgan, supervised-only and
# LabelSpreading, labels 20/50/100/200 x seeds 0/1/2, 40 epochs (520 steps) per GAN run.
# Usage: bench/sweep_digits.sh [OUT_DIR]   (re-run the same command to resume)
# One torch thread: these networks are tiny and the benchmark machine is shared.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/bench/sweep_digits}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
PY=${PYTHON:-python}
"$PY" evaluate.py sweep --dataset digits --labels 20,50,100,200 --seeds 0,1,2 \
    --max-epochs 40 --out "$OUT"
mkdir -p bench/results/sweep_digits
cp "$OUT"/results.csv "$OUT"/summary.csv "$OUT"/summary.md "$OUT"/error_vs_labels.png \
    bench/results/sweep_digits/
