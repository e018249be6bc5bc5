#!/usr/bin/env bash
# As run.sh with weight 3, split seed 0, one thread, keeping the run folder (its metrics.csv
# has D's and G's losses per step, to see what happens late in the run).
cd "$(dirname "$0")/../../../.."
. /work/venv/bin/activate 2>/dev/null; export PYTHONPATH=$PWD
D=bench/results/session6/fashion_30min_ict
python bench/time_to_accuracy.py --seeds 0 --threads 1 --max-minutes 30 --out $D/ict_w3_s0.json \
  --runs-dir /work/s6/runs_w3 -- --model.regularizers+=InterpolationConsistency --model.regularizers.weight 3 \
  2> $D/ict_w3_s0.log
