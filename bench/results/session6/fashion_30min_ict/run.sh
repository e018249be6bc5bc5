#!/usr/bin/env bash
# Fashion-MNIST-100, 30 minutes of training each, InterpolationConsistency (weight 10) in place
# of the Pi-model, one thread per run, two runs at a time (each has one of the 2 cores), as the
# session-5 runs of the recipe and the recommended recipe it is compared with.
#   bash run.sh 0 1   then   bash run.sh 2
cd "$(dirname "$0")/../../../.."
. /work/venv/bin/activate 2>/dev/null; export PYTHONPATH=$PWD
D=bench/results/session6/fashion_30min_ict
for s in "$@"; do
  python bench/time_to_accuracy.py --seeds $s --threads 1 --max-minutes 30 --out $D/ict_w10_s$s.json \
    -- --model.regularizers+=InterpolationConsistency --model.regularizers.weight 10 2> $D/ict_w10_s$s.log &
done
wait
