#!/usr/bin/env bash
# Session 9: 5-minute Fashion-MNIST-100 runs on 2 threads, one seed after the other on an
# otherwise idle machine: ConvMLP + Consistency, then the options given.
#   bash bench/results/session9/fashion_5min/run.sh NAME SEED [SEED ...] -- OPTIONS
set -euo pipefail
name=$1; shift
seeds=(); while [ $# -gt 0 ] && [ "$1" != "--" ]; do seeds+=("$1"); shift; done
[ $# -gt 0 ] && shift
bash bench/seed_runs.sh bench/results/session9/fashion_5min "$name" 2 5 one-by-one "${seeds[@]}" -- \
  --model.networks ConvMLP --model.regularizers+=Consistency "$@"
