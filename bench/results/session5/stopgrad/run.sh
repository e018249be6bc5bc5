#!/usr/bin/env bash
# Consistency with a fixed (stop-gradient) second view: speed against the Pi-model term
# (2 threads, 400 batches, alternating, 2 rounds), then 6 minutes on Fashion-MNIST-100 split seed 2.
cd "$(dirname "$0")/../../../.."
D=bench/results/session5/stopgrad
R=--model.regularizers+=Consistency
rate() { local name=$1; shift; local dir=/tmp/sg_rates/$name; rm -rf "$dir"; mkdir -p $dir
  python train.py --config configs/fashion_mnist.yaml --trainer.max_epochs -1 \
    --trainer.max_steps 800 --test false --trainer.enable_progress_bar false \
    --trainer.default_root_dir "$dir" "$@" > "$dir.log" 2>&1
  python -c "import json,glob; t=json.load(open(glob.glob('$dir/**/timing.json',recursive=True)[0])); print('$name', t['train_seconds'], round(400/t['train_seconds'],2))" >> $D/rates.txt
}
for round in 1 2; do
  rate pi_r$round $R
  rate pi_stopgrad_r$round $R --model.regularizers.stop_gradient true
done
python bench/time_to_accuracy.py --seeds 2 --threads 2 --max-minutes 6 --out $D/pi_stopgrad_s2.json \
  -- $R --model.regularizers.stop_gradient true 2> $D/pi_stopgrad_s2.log
