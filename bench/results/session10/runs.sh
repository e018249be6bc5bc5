#!/usr/bin/env bash
# Session 10's Fashion-MNIST-100 runs (bench/fashion_runs.sh with this folder as OUT):
#   bash bench/results/session10/runs.sh MINUTES RUNS_DIR NAME SEED [SEED ...] [-- OPTIONS]
# This session's runs:
#   runs.sh 30 DIR mirror 1
#   runs.sh 30 DIR mirror_decay 1 0 2 -- --model.lr_decay_start 0.5
#   runs.sh 5 DIR labflip 1 -- --model.regularizers+=LabeledAugmentation --model.regularizers.translate 0 --model.regularizers.flip true
#   runs.sh 5 DIR dataflip 1 -- --data.augment_flip true
exec bash "$(dirname "$0")/../../fashion_runs.sh" bench/results/session10 "$@"
