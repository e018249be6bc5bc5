#!/usr/bin/env bash
# Session 21 (issue 14): the commands behind BENCHMARKS.md "Session 21". Every run is one
# `bench/time_to_accuracy.py` process with ONE thread; two ran at once on the 2-core machine
# (one core each), so a pair finished in about 31 minutes of wall time.
#   bash bench/results/session21/run.sh NAME SEED MINUTES -- OPTIONS
# GAN runs: configs/fashion_mnist.yaml + configs/conv_mlp_mirror.yaml + ClassBalance + OPTIONS
# (with --model.networks.cosine_head 10 that is configs/conv_mlp_mirror_30min.yaml before this session;
# with --model.lr 0.002 --model.lr_decay_start 0.5 as well, the file after it).
#   lr2e-3_30  S 30 -- --model.networks.cosine_head 10 --model.lr 0.002
#   lr15e-4_30 2 30 -- --model.networks.cosine_head 10 --model.lr 0.0015  (stopped at 16.4 minutes)
#   lr2e-3_decay05_30 S 30 -- --model.networks.cosine_head 10 --model.lr 0.002 --model.lr_decay_start 0.5
# (The run with batches of 200 used bench/fashion_runs.sh with two threads: BENCHMARKS.md.)
set -euo pipefail
# the session-20 script, writing here
OUT=bench/results/session21 exec bash "$(dirname "$0")/../session20/run.sh" "$@"
