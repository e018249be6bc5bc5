"""Training steps per second: ssgan (LightningModule + Trainer, as train.py builds them) against
a plain-PyTorch loop doing the same computation (bench/plain_loop.py), alternating in one
process, several rounds each. Reports the median ratio ssgan / plain.

    python bench/throughput.py --rounds 5 --steps 120 [--precision bf16-mixed]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pytorch_lightning as pl
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from plain_loop import PlainTrainer  # noqa: E402

from ssgan.cli import build_cli  # noqa: E402
from ssgan.runs import quiet_library_noise  # noqa: E402


class StepTimer(pl.Callback):
    """Wall time of the training steps after ``warmup`` steps (excludes Trainer setup)."""

    def __init__(self, warmup: int):
        self.warmup, self.start, self.end, self.count = warmup, None, None, 0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step // 2 == self.warmup and self.start is None:
            self.start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if self.start is not None:
            self.count += 1
            self.end = time.perf_counter()


def lightning_rate(args, steps: int, warmup: int, tmp: str, extra: list[str]) -> float:
    cli = build_cli(["--data.dataset", args.dataset, "--data.num_labels", str(args.num_labels),
                     "--trainer.max_steps", str(2 * (steps + warmup)),  # 2 optimizer steps per batch
                     "--trainer.logger.init_args.save_dir", tmp, "--test", "false",
                     "--trainer.enable_progress_bar", "true", *extra])
    timer = StepTimer(warmup)
    cli.trainer.callbacks.append(timer)
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    return timer.count / (timer.end - timer.start)


def plain_rate(args, steps: int, warmup: int, precision: str) -> float:
    from ssgan.data import SSLDataModule
    from ssgan.model import SSGAN

    dm = SSLDataModule(dataset=args.dataset, num_labels=args.num_labels)
    dm.setup("fit")
    trainer = PlainTrainer(SSGAN(image_shape=dm.image_shape, num_classes=dm.num_classes), dm)
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16-mixed")
    with autocast:
        trainer.run_steps(warmup)
        return steps / trainer.run_steps(steps)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--dataset", default="fashion_mnist")
    p.add_argument("--num-labels", type=int, default=100)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--steps", type=int, default=120)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--precision", default="32-true", choices=["32-true", "bf16-mixed"])
    p.add_argument("--json", default=None, help="also write the figures here")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    quiet_library_noise()
    extra = ["--trainer.precision", a.precision]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(a.rounds):
            # alternate the order so neither side always runs on a warmer machine
            order = ["ssgan", "plain"] if r % 2 == 0 else ["plain", "ssgan"]
            rate = {}
            for which in order:
                torch.manual_seed(r)
                rate[which] = (lightning_rate(a, a.steps, a.warmup, tmp, extra) if which == "ssgan"
                               else plain_rate(a, a.steps, a.warmup, a.precision))
            rows.append({"round": r, **rate, "ratio": rate["ssgan"] / rate["plain"]})
            print(json.dumps(rows[-1]), file=sys.stderr)
    summary = {"dataset": a.dataset, "num_labels": a.num_labels, "threads": a.threads,
               "precision": a.precision, "steps_per_round": a.steps,
               "ssgan_steps_per_s_median": statistics.median(r["ssgan"] for r in rows),
               "plain_steps_per_s_median": statistics.median(r["plain"] for r in rows),
               "ratio_median": statistics.median(r["ratio"] for r in rows),
               "ratio_min": min(r["ratio"] for r in rows), "ratio_max": max(r["ratio"] for r in rows),
               "rounds": rows}
    print(json.dumps(summary, indent=2))
    if a.json:
        Path(a.json).write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
