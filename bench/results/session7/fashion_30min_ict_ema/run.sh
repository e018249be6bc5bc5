#!/usr/bin/env bash
# ICT weight 10 with the original's EMA horizon (ema_decay 0.9999, bias-corrected), 30 minutes of
# training, one thread per run, the seeds given side by side (as session 6's ICT weight-10 runs,
# which ended at 25.30 and 28.37 % after dipping to 21.62 % on seed 0).   bash run.sh 0 1; bash run.sh 2
exec bash "$(dirname "$0")/../../../seed_runs.sh" bench/results/session7/fashion_30min_ict_ema ict_w10_ema4 1 30 \
  together "$@" -- --model.regularizers+=InterpolationConsistency --model.regularizers.weight 10 \
  --model.ema_decay 0.9999 --model.ema_bias_correction true
