#!/usr/bin/env bash
# Session 10: Fashion-MNIST-100 runs of configs/conv_mlp_mirror.yaml plus the options given, on 2
# threads, one split seed after the other on an otherwise idle machine; each run's folder
# (last.ckpt) is kept under RUNS_DIR/NAME_sS for the post-hoc readouts, its curve goes to
# bench/results/session10/fashion_<MINUTES>min/NAME_sS.{json,log}.
#   bash bench/results/session10/runs.sh MINUTES RUNS_DIR NAME SEED [SEED ...] [-- OPTIONS]
# This session's runs:
#   runs.sh 30 DIR mirror 1
#   runs.sh 30 DIR mirror_decay 1 0 2 -- --model.lr_decay_start 0.5
#   runs.sh 5 DIR labflip 1 -- --model.regularizers+=LabeledAugmentation --model.regularizers.translate 0 --model.regularizers.flip true
#   runs.sh 5 DIR dataflip 1 -- --data.augment_flip true
set -euo pipefail
cd "$(dirname "$0")/../../.."
. /work/venv/bin/activate 2>/dev/null || true
export PYTHONPATH=$PWD
minutes=$1 runs=$2 name=$3; shift 3
seeds=(); while [ $# -gt 0 ] && [ "$1" != "--" ]; do seeds+=("$1"); shift; done
[ $# -gt 0 ] && shift
out=bench/results/session10/fashion_${minutes}min
mkdir -p "$out"
for s in "${seeds[@]}"; do
  python bench/time_to_accuracy.py --seeds "$s" --threads 2 --max-minutes "$minutes" \
    --runs-dir "$runs/${name}_s$s" --out "$out/${name}_s$s.json" \
    -- --config configs/conv_mlp_mirror.yaml "$@" > "$out/${name}_s$s.log" 2>&1
done
