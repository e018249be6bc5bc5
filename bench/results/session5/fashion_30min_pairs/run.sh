#!/usr/bin/env bash
# Fashion-MNIST-100, 30 minutes of training each: the 2016 recipe and the recommended recipe
# side by side, one thread each (so each has one of the 2 cores), split seeds 1 and 2 one pair
# after the other (seed 0 was run the same way for 28 minutes in session 4).
cd "$(dirname "$0")/../../../.."
D=bench/results/session5/fashion_30min_pairs
for s in 1 2; do
  python bench/time_to_accuracy.py --seeds $s --threads 1 --max-minutes 30 --out $D/recipe_s$s.json 2> $D/recipe_s$s.log &
  python bench/time_to_accuracy.py --seeds $s --threads 1 --max-minutes 30 --out $D/recommended_s$s.json \
    -- --config configs/recommended.yaml 2> $D/recommended_s$s.log &
  wait
done
