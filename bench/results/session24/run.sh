#!/usr/bin/env bash
# Session 24 (issue 14): the runs behind BENCHMARKS.md "Session 24", two threads each, alone on the
# 2-core machine, one after the other (bench/fashion_runs.sh; checkpoints kept for the readouts):
#   bash bench/results/session24/run.sh
# Readouts afterwards: PYTHONPATH=. python bench/posthoc_readouts.py \
#   bench/results/session24/posthoc_30min.json \
#   /tmp/ssgan_s24_runs/cbt025_2t_s{0,1,2}/seed*/ssgan/version_0/checkpoints/last.ckpt \
#   /tmp/ssgan_s24_runs/cbt025_2t_ts1001_s2/seed*/ssgan/version_0/checkpoints/last.ckpt
set -euo pipefail
cd "$(dirname "$0")/../../.."
opts=(--model.regularizers+=ClassBalance --model.regularizers.temperature 0.25
      --model.networks.cosine_head 10 --model.lr 0.002 --model.lr_decay_start 0.5)
# The preset with ClassBalance's temperature 0.25 (session 23's 16-minute lead), 3 split seeds.
bash bench/fashion_runs.sh bench/results/session24 30 /tmp/ssgan_s24_runs cbt025_2t 1 2 0 -- "${opts[@]}"
# The median split again with another training seed (split seed 2 draws the same labels).
bash bench/fashion_runs.sh bench/results/session24 30 /tmp/ssgan_s24_runs cbt025_2t_ts1001 2 -- \
  "${opts[@]}" --seed_everything 1001
# The file for 5 minutes (the same options, cut to 5 minutes).
bash bench/fashion_runs.sh bench/results/session24 5 /tmp/ssgan_s24_runs cbt025_2t 0 1 2 -- \
  "${opts[@]}" --trainer.max_time 00:00:05:00
# Screen on split seed 1, 16 minutes, one thread per run, both at once (session 20's script):
#   P="--model.networks.cosine_head 10 --model.lr 0.002 --model.lr_decay_start 0.5 --model.regularizers.temperature 0.25"
#   OUT=bench/results/session24 bash bench/results/session20/run.sh t025_w03_16 1 16 -- $P
#   OUT=bench/results/session24 bash bench/results/session20/run.sh t025_w05_16 1 16 -- $P --model.regularizers.weight 0.5
