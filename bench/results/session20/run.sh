#!/usr/bin/env bash
# Session 20 (issue 14): the commands behind BENCHMARKS.md "Session 20". Every run is one
# `bench/time_to_accuracy.py` process with ONE thread; two ran at once on the 2-core machine
# (one core each), so a pair finished in about 31 minutes of wall time.
#   bash bench/results/session20/run.sh NAME SEED MINUTES -- OPTIONS
# GAN runs: configs/fashion_mnist.yaml + configs/conv_mlp_mirror.yaml + ClassBalance + OPTIONS
# (with --model.networks.cosine_head 10 that is configs/conv_mlp_mirror_30min.yaml as it was then).
#   ent01      2 16 -- --model.networks.cosine_head 10 --model.regularizers+=EntropyMinimization
#   labflip    2 16 -- --model.networks.cosine_head 10 --model.regularizers+=LabeledAugmentation
#                       --model.regularizers.translate 0 --model.regularizers.flip true
#   conv3_30   2 30 -- --model.networks.cosine_head 10 --model.networks.conv_widths "[16,32,64]"
#   bs50_30    2 30 -- --model.networks.cosine_head 10 --data.batch_size 50
#   featlayer0 2 16 -- --model.networks.cosine_head 10 --model.networks.feature_layer 0
#   cb01       2 16 -- --model.networks.cosine_head 10 --model.regularizers.weight 0.1
#   nogan_30   S 30 -- --model.networks.cosine_head 10 --model.unlabeled_weight 0
#   preset_30  S 30 -- --model.networks.cosine_head 10
# Supervised-only with the same network (SUPERVISED=1; 34 epochs = 20,400 batches, more than any
# 30-minute GAN run trains):
#   SUPERVISED=1 ... sup_flip S 30 -- --data.augment_flip true
set -euo pipefail
cd "$(dirname "$0")/../../.."
name=$1 seed=$2 minutes=$3; shift 4
out=${OUT:-bench/results/session20}  # session 21 sets its own folder
if [ "${SUPERVISED:-0}" = 1 ]; then
  base=(--max-epochs 34 -- --model Supervised --model.networks ConvMLP
        --model.networks.cosine_head 10 --model.lr 0.001)
else
  base=(-- --config configs/conv_mlp_mirror.yaml --model.regularizers+=ClassBalance)
fi
PYTHONPATH=. python bench/time_to_accuracy.py --seeds "$seed" --threads 1 --max-minutes "$minutes" \
  --runs-dir "/tmp/ssgan_s${out##*session}_runs/${name}_s$seed" --out "$out/${name}_s$seed.json" \
  "${base[@]}" "$@" 2> "$out/${name}_s$seed.log"
