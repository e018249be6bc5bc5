"""fp32 against bf16-mixed (CPU autocast) steps/s of ssgan's training step, run by the plain
loop over ssgan's own modules (bench/plain_loop.py), in alternating rounds.

    python bench/bf16_speed.py [THREADS]
"""

import json
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from plain_loop import PlainTrainer  # noqa: E402

from ssgan.data import SSLDataModule  # noqa: E402
from ssgan.model import SSGAN  # noqa: E402

torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
dm = SSLDataModule(dataset="fashion_mnist", num_labels=100)
dm.setup("fit")
rates = {"fp32": [], "bf16": []}
for r in range(3):
    for prec in (["fp32", "bf16"] if r % 2 == 0 else ["bf16", "fp32"]):
        torch.manual_seed(r)
        t = PlainTrainer(SSGAN(image_shape=dm.image_shape, num_classes=10), dm,
                         "bf16-mixed" if prec == "bf16" else "32-true")
        t.run_steps(5)
        rates[prec].append(60 / t.run_steps(60))
print(json.dumps({k: [round(x, 2) for x in v] for k, v in rates.items()}))
print("median ratio bf16/fp32:", statistics.median(rates["bf16"]) / statistics.median(rates["fp32"]))
