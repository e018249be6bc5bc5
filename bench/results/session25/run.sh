#!/usr/bin/env bash
# Session 25 (issue 14): the commands behind BENCHMARKS.md "Session 25".
# Screens, one thread per run, two at once (session 20's protocol; base configs/conv_mlp_mirror.yaml
# + ClassBalance, so with the options below each run is configs/conv_mlp_mirror_30min.yaml plus
# one change):
P="--model.networks.cosine_head 10 --model.lr 0.002 --model.lr_decay_start 0.5 --model.regularizers.temperature 0.25"
#   OUT=bench/results/session25 bash bench/results/session20/run.sh t01_16 1 16 -- $P --model.regularizers.temperature 0.1
#   OUT=bench/results/session25 bash bench/results/session20/run.sh cons2_16 1 16 -- $P --config bench/results/session25/cons2.yaml
#   OUT=bench/results/session25 bash bench/results/session20/run.sh in015_16 1 16 -- $P --model.networks.input_noise 0.15
#   OUT=bench/results/session25 bash bench/results/session20/run.sh hn03_16 1 16 -- $P --model.networks.conv_noise 0.3 --model.networks.hidden_noise 0.3
# The preset with input_noise 0.15 (the screen's winner), two threads per run, alone on the
# machine, one after the other (bench/fashion_runs.sh; checkpoints kept for the readouts):
#   bash bench/fashion_runs.sh bench/results/session25 30 /tmp/ssgan_s25_runs in015_2t 1 2 0 -- \
#     --model.regularizers+=ClassBalance --model.regularizers.temperature 0.25 \
#     --model.networks.cosine_head 10 --model.lr 0.002 --model.lr_decay_start 0.5 \
#     --model.networks.input_noise 0.15
# Readouts afterwards:
#   PYTHONPATH=. python bench/posthoc_readouts.py bench/results/session25/posthoc_30min.json \
#     /tmp/ssgan_s25_runs/in015_2t_s{0,1,2}/seed*/ssgan/version_0/checkpoints/last.ckpt
# The new file for 5 minutes (the same options, cut to 5 minutes):
#   bash bench/fashion_runs.sh bench/results/session25 5 /tmp/ssgan_s25_runs in015_2t 0 1 2 -- \
#     (the options above) --trainer.max_time 00:00:05:00
# Screen at the end, split seed 2, 16 minutes, one thread per run, both at once: the new preset
# (input noise 0.15) and a quarter of the original noise (0.075):
#   OUT=bench/results/session25 bash bench/results/session20/run.sh in015_16 2 16 -- $P --model.networks.input_noise 0.15
#   OUT=bench/results/session25 bash bench/results/session20/run.sh in0075_16 2 16 -- $P --model.networks.input_noise 0.075
