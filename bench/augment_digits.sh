#!/usr/bin/env bash
# Generated samples for augmentation on digits (issue 5).
# Trains two 50-label ssgan checkpoints (seed 0, 40 epochs = 520 steps, as in
# bench/sweep_digits.sh): feature matching (unconditional G: labels = classifier predictions)
# and contragan (class-conditional G: labels = conditioning labels). For each it reports
# evaluate.py's sample quality, then exports 100 samples per class and measures, with the
# supervised-only classifier (520 steps, seeds 0,1,2), real vs real + generated.
# Usage: bench/augment_digits.sh [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/bench/augment_digits}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
PY=${PYTHON:-python}
train() {  # NAME OBJECTIVE
    local ckpt="$OUT/runs/$1/labels50_seed0/checkpoints/last.ckpt"
    if [ ! -f "$ckpt" ]; then
        "$PY" train.py --data.dataset digits --data.num_labels 50 --data.seed_data 0 \
            --seed_everything 0 --trainer.max_epochs 40 --trainer.enable_progress_bar false \
            --model.objective "$2" --trainer.logger.init_args.save_dir "$OUT/runs" \
            --trainer.logger.init_args.name "$1" \
            --trainer.logger.init_args.version labels50_seed0 >&2
    fi
    echo "$ckpt"
}
FM=$(train feature_matching FeatureMatching)
CG=$(train contragan ContraGAN)
for ck in "$FM" "$CG"; do
    "$PY" evaluate.py "$ck" --out "$(dirname "$(dirname "$ck")")/evaluate.json" > /dev/null
done
aug() {  # CKPT NAME [OPTIONS]
    local ck=$1 name=$2; shift 2
    "$PY" evaluate.py augment "$ck" --n-per-class 100 --out "$OUT/$name" --evaluate \
        --eval-steps 520 --eval-seeds 0,1,2 "$@" > "$OUT/$name.stdout.json"
}
aug "$FM" fm_conf0 --min-confidence 0
aug "$FM" fm_conf0.9 --min-confidence 0.9
aug "$CG" contragan_cond
aug "$CG" contragan_cond_conf0.9 --min-confidence 0.9
