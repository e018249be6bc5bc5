#!/usr/bin/env bash
# Session 22 (issue 14): the one-thread runs behind BENCHMARKS.md "Session 22" (two at once on the
# 2-core machine, one core each), through the session-20 script, writing here:
#   bash bench/results/session22/run.sh NAME SEED MINUTES -- OPTIONS
# The preset, configs/conv_mlp_mirror_30min.yaml, with another training seed, and beside it the
# previous version of that file (lr 0.001, no decay):
#   p1t_t1001 1 30 -- --model.networks.cosine_head 10 --model.lr 0.002 \
#     --model.lr_decay_start 0.5 --seed_everything 1001
#   old1t 1 30 -- --model.networks.cosine_head 10
# The two-thread runs used bench/fashion_runs.sh (alone on the machine):
#   bash bench/fashion_runs.sh bench/results/session22 30 RUNS preset_2t 2 0 1 -- \
#     --model.regularizers+=ClassBalance --model.networks.cosine_head 10 --model.lr 0.002 \
#     --model.lr_decay_start 0.5
#   bash bench/fashion_runs.sh bench/results/session22 5 RUNS preset_2t 0 1 2 -- (the same options)
# The GPU screen: MPS=1 SECONDS_RUN=400 bash bench/gpu_screen.sh 11 (files in gpu_screen11/).
set -euo pipefail
OUT=bench/results/session22 exec bash "$(dirname "$0")/../session20/run.sh" "$@"
