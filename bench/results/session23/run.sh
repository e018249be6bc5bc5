#!/usr/bin/env bash
# Session 23 (issue 14): the one-thread runs behind BENCHMARKS.md "Session 23" (two at once on the
# 2-core machine, one core each), through the session-20 script, writing here:
#   bash bench/results/session23/run.sh NAME SEED MINUTES -- OPTIONS
# Screen on split seed 2 (the preset's median split), 30 minutes, both at once:
#   translate2 2 30 -- --config bench/results/session23/translate2.yaml \
#     --model.networks.cosine_head 10 --model.lr 0.002 --model.lr_decay_start 0.5
#   cb_t05     2 30 -- --config bench/results/session23/cb_t05.yaml \
#     --model.networks.cosine_head 10 --model.lr 0.002 --model.lr_decay_start 0.5
# Screen on split seed 1, 16 minutes, both at once (the preset's temperature 0.25 against 0.5):
#   t025_16 1 16 -- --model.networks.cosine_head 10 --model.lr 0.002 --model.lr_decay_start 0.5 \
#     --model.regularizers.temperature 0.25
#   t05_16  1 16 -- (the same with --model.regularizers.temperature 0.5)
# The two-thread runs used bench/fashion_runs.sh (alone on the machine, one after the other):
#   bash bench/fashion_runs.sh bench/results/session23 30 /tmp/ssgan_s23_runs cbt05_2t 2 0 1 -- \
#     --model.regularizers+=ClassBalance --model.regularizers.temperature 0.5 \
#     --model.networks.cosine_head 10 --model.lr 0.002 --model.lr_decay_start 0.5
#   bash bench/fashion_runs.sh bench/results/session23 5 /tmp/ssgan_s23_runs cbt05_2t 0 1 2 -- \
#     (the same options) --trainer.max_time 00:00:05:00
# Readouts: PYTHONPATH=. python bench/posthoc_readouts.py bench/results/session23/posthoc_30min.json \
#   /tmp/ssgan_s23_runs/cbt05_2t_s{0,1,2}/seed*/ssgan/version_0/checkpoints/last.ckpt
set -euo pipefail
OUT=bench/results/session23 exec bash "$(dirname "$0")/../session20/run.sh" "$@"
