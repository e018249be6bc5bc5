#!/usr/bin/env bash
# Training batches per second of each screened variant on this machine's CPU (2 threads,
# one run at a time, 400 batches each, Fashion-MNIST-100 preset), to turn the GPU screen's
# error-after-N-batches curves into 2-core minutes. Usage: bash bench/cpu_rates.sh OUT.tsv
set -uo pipefail
out=${1:-/tmp/cpu_rates.tsv}; batches=${BATCHES:-400}
R=--model.regularizers+=
rate() {  # name, extra args
  local name=$1; shift; local dir=/tmp/cpu_rates/$name; rm -rf "$dir"
  python train.py --config configs/fashion_mnist.yaml --trainer.max_epochs -1 \
    --trainer.max_steps $(( 2 * batches )) --test false --trainer.enable_progress_bar false \
    --trainer.default_root_dir "$dir" "$@" > "$dir.log" 2>&1
  python - "$name" "$dir" "$batches" >> "$out" <<'PY'
import json, sys, glob
name, d, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
t = json.load(open(glob.glob(d + "/**/timing.json", recursive=True)[0]))
print(f"{name}\t{n}\t{t['train_seconds']}\t{n / t['train_seconds']:.2f}\t{t['torch_threads']}")
PY
}
mkdir -p /tmp/cpu_rates
rate f_recipe
rate f_ent ${R}EntropyMinimization
rate f_mani ${R}ManifoldRegularization
rate f_pi ${R}Consistency
rate f_pl ${R}PseudoLabel
rate f_pl_t2 ${R}PseudoLabel --data.augment_translate 2
rate f_pl_ent ${R}PseudoLabel ${R}EntropyMinimization
rate f_c28 --model.networks Conv28
rate f_c28_t2_pl --model.networks Conv28 --data.augment_translate 2 ${R}PseudoLabel
rate f_c28_t2_mt --model.networks Conv28 --data.augment_translate 2 ${R}Consistency --model.regularizers.teacher true
