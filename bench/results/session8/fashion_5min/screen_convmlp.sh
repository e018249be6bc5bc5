#!/usr/bin/env bash
# Session 8 screen of the ConvMLP networks (conv stem + dense layers): split seed 2, 5 minutes
# of training on 2 threads, one run at a time on an idle machine.
set -euo pipefail
d=bench/results/session8/fashion_5min
N="--model.networks ConvMLP --model.networks.conv_widths"
bash bench/seed_runs.sh $d convmlp16_pi 2 5 one-by-one 2 -- $N [16,32] --model.regularizers+=Consistency
bash bench/seed_runs.sh $d convmlp16 2 5 one-by-one 2 -- $N [16,32]
bash bench/seed_runs.sh $d convmlp32_pi 2 5 one-by-one 2 -- $N [32,64] --model.regularizers+=Consistency
