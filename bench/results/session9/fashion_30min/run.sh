#!/usr/bin/env bash
# Session 9: ConvMLP + Consistency with mirrored second views and lr 1e-3 (the 5-minute winner)
# on Fashion-MNIST-100, 30 minutes of training on 2 threads, one seed after the other on an
# otherwise idle machine.
#   bash bench/results/session9/fashion_30min/run.sh SEED [SEED ...]
set -euo pipefail
bash bench/seed_runs.sh bench/results/session9/fashion_30min cm_pi_lr1e3_flip 2 30 one-by-one "$@" -- \
  --model.networks ConvMLP --model.regularizers+=Consistency --model.lr 0.001 --model.regularizers.flip true
