#!/usr/bin/env bash
# Fashion-MNIST-100, recommended recipe (+Consistency), bf16-mixed autocast on the CPU,
# 30 minutes of training per split seed, 2 threads, the seeds one after the other.
cd "$(dirname "$0")/../../../.."
for s in 0 1 2; do
  python bench/time_to_accuracy.py --seeds $s --threads 2 --max-minutes 30 \
    --out bench/results/session5/fashion_30min_bf16/recommended_bf16_s$s.json \
    -- --config configs/recommended.yaml --trainer.precision bf16-mixed \
    2> bench/results/session5/fashion_30min_bf16/recommended_bf16_s$s.log
done
