#!/usr/bin/env bash
# As run.sh, with the learning rate decayed linearly to 0 over the second half of the 30 minutes
# (--model.lr_decay_start 0.5; the schedule follows --trainer.max_time), split seed 0, one thread.
cd "$(dirname "$0")/../../../.."
. /work/venv/bin/activate 2>/dev/null; export PYTHONPATH=$PWD
D=bench/results/session6/fashion_30min_ict
for s in "$@"; do
  python bench/time_to_accuracy.py --seeds $s --threads 1 --max-minutes 30 --out $D/ict_w10_decay_s$s.json \
    -- --model.regularizers+=InterpolationConsistency --model.regularizers.weight 10 \
    --model.lr_decay_start 0.5 2> $D/ict_w10_decay_s$s.log &
done
wait
