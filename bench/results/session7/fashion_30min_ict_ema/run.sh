#!/usr/bin/env bash
# ICT weight 10 with the original's EMA horizon (ema_decay 0.9999, bias-corrected), 30 minutes of
# training, one thread per run, seeds 0 and 1 side by side (as session 6's ICT weight-10 runs,
# which ended at 25.30 and 28.37 % after dipping to 21.62 % on seed 0).
cd "$(dirname "$0")/../../../.."
. /work/venv/bin/activate 2>/dev/null; export PYTHONPATH=$PWD
D=bench/results/session7/fashion_30min_ict_ema
for s in "${@:-0 1}"; do
  python bench/time_to_accuracy.py --seeds $s --threads 1 --max-minutes 30 --out $D/ict_w10_ema4_s$s.json \
    -- --model.regularizers+=InterpolationConsistency --model.regularizers.weight 10 \
    --model.ema_decay 0.9999 --model.ema_bias_correction true > $D/ict_w10_ema4_s$s.log 2>&1 &
done
wait
