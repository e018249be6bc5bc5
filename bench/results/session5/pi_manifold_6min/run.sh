#!/usr/bin/env bash
# Recommended recipe + ManifoldRegularization (the best pair of the session-4 GPU screen at
# 3,000-4,000 batches), Fashion-MNIST-100, 6 minutes at 2 threads, split seeds 2, 0, 1 one
# after the other, against session 4's 6-minute runs (bench/results/session4/fashion_6min/).
# Stopped after seed 2 (worse than +Consistency alone there).
cd "$(dirname "$0")/../../../.."
D=bench/results/session5/pi_manifold_6min
for s in 2 0 1; do
  python bench/time_to_accuracy.py --seeds $s --threads 2 --max-minutes 6 --out $D/pi_manifold_s$s.json \
    -- --config configs/recommended.yaml --model.regularizers+=ManifoldRegularization 2> $D/pi_manifold_s$s.log
done
