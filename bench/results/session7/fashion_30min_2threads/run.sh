#!/usr/bin/env bash
# The 30-minute target's own condition, once: the recommended recipe on 2 threads alone (the
# earlier 30-minute runs had one core each), split seed 2 (the median seed of sessions 4-5).
cd "$(dirname "$0")/../../../.."
. /work/venv/bin/activate 2>/dev/null; export PYTHONPATH=$PWD
D=bench/results/session7/fashion_30min_2threads
for s in "$@"; do
  python bench/time_to_accuracy.py --seeds $s --threads 2 --max-minutes 30 --out $D/recommended_s$s.json \
    -- --config configs/recommended.yaml > $D/recommended_s$s.log 2>&1
done
