#!/usr/bin/env bash
# GPU checks of issue 14 (run on a lent GPU machine from the repository root):
#   1. steps/s of the conv networks (conv_cifar, conv_svhn, conv28) in fp32 and bf16-mixed,
#      through the Lightning Trainer on synthetic data (bench/conv_speed.py);
#   2. a short CIFAR-10-sized run of train.py on synthetic data (50,000 + 10,000 images of
#      3x32x32, 4,000 labels) on the GPU, end to end: training, test, metrics.json.
# Results go to ${OUT:-bench/results/gpu}. `bash bench/gpu_check.sh cifar` runs the second only.
set -uo pipefail
out=${OUT:-bench/results/gpu}
mkdir -p "$out"
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/device.txt"
python3 -c "import torch, pytorch_lightning as pl; print('torch', torch.__version__, 'lightning', pl.__version__)" | tee -a "$out/device.txt"
[ "${1:-}" = cifar ] || for precision in 32-true bf16-mixed; do
  python3 bench/conv_speed.py --networks conv_cifar conv_svhn conv28 --accelerator gpu \
    --precision "$precision" --steps 30 --warmup 5 --eval-batches 5 --out "$out/conv_speed.md" \
    2>&1 | grep -v Warning
done
python3 - <<'PY'
# synthetic CIFAR-10-sized data with a learnable signal: each class has its own mean colour
import numpy as np, pathlib
root = pathlib.Path("/tmp/synthetic_cifar"); root.mkdir(exist_ok=True)
rng = np.random.default_rng(0)
means = rng.uniform(60, 195, size=(10, 3))
def make(n):
    y = np.arange(n) % 10
    x = rng.normal(means[y][:, None, None, :], 40, size=(n, 32, 32, 3)).clip(0, 255).astype(np.uint8)
    return x, y
for name, n in (("train", 50_000), ("test", 10_000)):
    x, y = make(n); np.savez(root / f"{name}.npz", x=x, y=y)
PY
start=$(date +%s)
python3 train.py --data.dataset npz --data.data_root /tmp/synthetic_cifar --data.num_labels 4000 \
  --model.networks Conv --model.networks.preset conv_cifar --model.lr 0.0003 \
  --trainer.accelerator gpu --trainer.devices 1 --trainer.precision bf16-mixed \
  --trainer.max_steps 1000 --trainer.max_epochs -1 --trainer.enable_progress_bar false \
  --trainer.default_root_dir /tmp/gpu_runs 2>&1 | grep -v Warning | tail -15
echo "train.py wall: $(( $(date +%s) - start )) s" | tee "$out/synthetic_cifar_wall.txt"
cp /tmp/gpu_runs/ssgan/version_0/metrics.json "$out/synthetic_cifar_metrics.json" 2>/dev/null \
  || find /tmp/gpu_runs -name metrics.json -exec cp {} "$out/synthetic_cifar_metrics.json" \;
find /tmp/gpu_runs -name timing.json -exec cp {} "$out/synthetic_cifar_timing.json" \;
