#!/usr/bin/env bash
# Fashion-MNIST-100 runs of configs/conv_mlp_mirror.yaml plus the options given, on 2 threads, one
# split seed after the other (run it on an otherwise idle machine: two 2-thread runs on 2 cores
# slow each other about tenfold). Each run's folder (last.ckpt) is kept under RUNS_DIR/NAME_sS for
# post-hoc readouts (bench/posthoc_readouts.py); its curve goes to OUT/fashion_<MINUTES>min/NAME_sS.{json,log}.
#   bash bench/fashion_runs.sh OUT MINUTES RUNS_DIR NAME SEED [SEED ...] [-- OPTIONS]
# e.g. bash bench/fashion_runs.sh bench/results/session11 30 /tmp/runs balance 0 1 2 -- --model.regularizers+=ClassBalance
set -euo pipefail
cd "$(dirname "$0")/.."
. /work/venv/bin/activate 2>/dev/null || true
export PYTHONPATH=$PWD
base=$1 minutes=$2 runs=$3 name=$4; shift 4
seeds=(); while [ $# -gt 0 ] && [ "$1" != "--" ]; do seeds+=("$1"); shift; done
[ $# -gt 0 ] && shift
out=$base/fashion_${minutes}min
mkdir -p "$out"
for s in "${seeds[@]}"; do
  python bench/time_to_accuracy.py --seeds "$s" --threads 2 --max-minutes "$minutes" \
    --runs-dir "$runs/${name}_s$s" --out "$out/${name}_s$s.json" \
    -- --config configs/conv_mlp_mirror.yaml "$@" > "$out/${name}_s$s.log" 2>&1
done
