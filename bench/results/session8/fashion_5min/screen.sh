#!/usr/bin/env bash
# Session 8 screen for the 5-minute Fashion-MNIST-100 target: split seed 2 (the median seed of
# earlier sessions), 5 minutes of training on 2 threads, one run at a time on an idle machine.
set -euo pipefail
d=bench/results/session8/fashion_5min
R="--model.regularizers+=InterpolationConsistency --model.regularizers.weight"
bash bench/seed_runs.sh $d ict30 2 5 one-by-one 2 -- $R 30
bash bench/seed_runs.sh $d ict30_bf16 2 5 one-by-one 2 -- $R 30 --trainer.precision bf16-mixed
bash bench/seed_runs.sh $d ict10_bf16 2 5 one-by-one 2 -- $R 10 --trainer.precision bf16-mixed
