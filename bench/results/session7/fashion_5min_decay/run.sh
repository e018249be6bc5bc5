#!/usr/bin/env bash
# Fashion-MNIST-100, 5 minutes of training on 2 threads, one run at a time on an otherwise idle
# machine, with the learning rates decayed linearly to 0 over the second half of the 5 minutes
# (--model.lr_decay_start 0.5 follows --trainer.max_time, which time_to_accuracy.py sets).
#   bash run.sh NAME SEED [SEED ...] -- TRAIN_OPTIONS
name=$1; shift; seeds=(); while [ $# -gt 0 ] && [ "$1" != "--" ]; do seeds+=("$1"); shift; done; shift
exec bash "$(dirname "$0")/../../../seed_runs.sh" bench/results/session7/fashion_5min_decay "$name" 2 5 \
  one-by-one "${seeds[@]}" -- --model.lr_decay_start 0.5 "$@"
