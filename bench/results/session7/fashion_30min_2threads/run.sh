#!/usr/bin/env bash
# The 30-minute target's own condition, once: the recommended recipe on 2 threads alone (the
# earlier 30-minute runs had one core each), split seed 2 (the median seed of sessions 4-5).   bash run.sh 2
exec bash "$(dirname "$0")/../../../seed_runs.sh" bench/results/session7/fashion_30min_2threads recommended 2 30 \
  one-by-one "$@" -- --config configs/recommended.yaml
