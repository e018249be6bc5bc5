#!/usr/bin/env bash
# Session 8: ConvMLP (conv stem [16, 32] + dense 500-250-250) with Consistency on
# Fashion-MNIST-100, 30 minutes of training on 2 threads, one seed after the other on an
# otherwise idle machine.
set -euo pipefail
bash bench/seed_runs.sh bench/results/session8/fashion_30min convmlp16_pi 2 30 one-by-one ${@:-2 0 1} -- \
  --model.networks ConvMLP --model.networks.conv_widths [16,32] --model.regularizers+=Consistency
