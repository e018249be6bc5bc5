#!/usr/bin/env bash
# As run.sh with weight 3, one thread per run, keeping the run folders (their metrics.csv has
# D's and G's losses per step). Seed 0 ran alone beside the labeling loop, then seeds 1 and 2
# side by side:   bash run_w3.sh 0   then   bash run_w3.sh 1 2
cd "$(dirname "$0")/../../../.."
. /work/venv/bin/activate 2>/dev/null; export PYTHONPATH=$PWD
D=bench/results/session6/fashion_30min_ict
for s in "${@:-0}"; do
  python bench/time_to_accuracy.py --seeds $s --threads 1 --max-minutes 30 --out $D/ict_w3_s$s.json \
    --runs-dir /work/s6/runs_w3 -- --model.regularizers+=InterpolationConsistency --model.regularizers.weight 3 \
    2> $D/ict_w3_s$s.log &
done
wait
