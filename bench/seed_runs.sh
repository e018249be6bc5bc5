#!/usr/bin/env bash
# Fashion-MNIST time-to-accuracy runs, one bench/time_to_accuracy.py process per split seed,
# each writing DIR/NAME_sS.json and DIR/NAME_sS.log; "together" starts them at once (one core
# each with THREADS 1), "one-by-one" runs them in turn.
#   bash bench/seed_runs.sh DIR NAME THREADS MINUTES together|one-by-one SEED [SEED ...] -- TRAIN_OPTIONS
set -euo pipefail
cd "$(dirname "$0")/.."
. /work/venv/bin/activate 2>/dev/null || true
export PYTHONPATH=$PWD
dir=$1 name=$2 threads=$3 minutes=$4 mode=$5; shift 5
seeds=(); while [ $# -gt 0 ] && [ "$1" != "--" ]; do seeds+=("$1"); shift; done
[ $# -gt 0 ] && shift
case $mode in together|one-by-one) ;; *) echo "seed_runs.sh: mode must be together or one-by-one, got '$mode'" >&2; exit 2;; esac
for s in "${seeds[@]}"; do
  cmd=(python bench/time_to_accuracy.py --seeds "$s" --threads "$threads" --max-minutes "$minutes"
       --out "$dir/${name}_s$s.json" -- "$@")
  if [ "$mode" = together ]; then "${cmd[@]}" > "$dir/${name}_s$s.log" 2>&1 &
  else "${cmd[@]}" > "$dir/${name}_s$s.log" 2>&1; fi
done
wait
