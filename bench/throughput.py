"""Training steps per second: ssgan (LightningModule + Trainer, as train.py builds them) against
a plain-PyTorch loop doing the same computation (bench/plain_loop.py), alternating in one
process, several rounds each. Reports the median ratio ssgan / plain.

    python bench/throughput.py --rounds 5 --steps 120 [--precision bf16-mixed] [--paired]

``--paired`` runs the two sides step by step in one Lightning run instead (see PairedSteps).
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


class PairedSteps(pl.Callback):
    """Interleaves the two sides step by step: after each of Lightning's training steps, one
    step of the plain loop (its own model and loader) runs and is timed. Lightning's time for a
    step is everything between the end of one plain step and the start of the next (its loop,
    data fetching, hooks, logging and the training step), so both sides are measured in the same
    second of machine time and a noisy neighbour slows both alike."""

    def __init__(self, plain: PlainTrainer, warmup: int):
        self.plain, self.warmup = plain, warmup
        self.batches = iter(())
        self.lightning_s, self.plain_s, self._mark = [], [], None

    def _next_batch(self):
        try:
            return next(self.batches)
        except StopIteration:
            self.batches = iter(self.plain.loader)
            return next(self.batches)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        now = time.perf_counter()
        if self._mark is not None:
            self.lightning_s.append(now - self._mark)
        plain_batch = self._next_batch()
        start = time.perf_counter()
        self.plain.step(plain_batch)
        self._mark = time.perf_counter()
        self.plain_s.append(self._mark - start)

    def ratio(self) -> tuple[float, float, float]:
        lit, pln = self.lightning_s[self.warmup:], self.plain_s[self.warmup + 1:]
        n = min(len(lit), len(pln))
        lit, pln = lit[:n], pln[:n]
        return n / sum(lit), n / sum(pln), sum(pln) / sum(lit)


def paired_round(args, steps: int, warmup: int, tmp: str, extra: list[str]) -> dict:
    plain = PlainTrainer.build(args.dataset, args.num_labels, args.precision)
    cli = build_cli(["--data.dataset", args.dataset, "--data.num_labels", str(args.num_labels),
                     "--trainer.max_steps", str(2 * (steps + warmup + 1)),
                     "--trainer.logger.init_args.save_dir", tmp, "--test", "false",
                     "--trainer.enable_progress_bar", "true", *extra])
    pair = PairedSteps(plain, warmup)
    cli.trainer.callbacks.append(pair)
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    ssgan_rate, plain_rate_, ratio = pair.ratio()
    return {"ssgan": ssgan_rate, "plain": plain_rate_, "ratio": ratio}


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
    trainer = PlainTrainer.build(args.dataset, args.num_labels, precision)
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
    p.add_argument("--paired", action="store_true",
                   help="interleave the two sides step by step inside one Lightning run "
                        "(robust to a noisy machine) instead of alternating whole rounds")
    a, train_args = p.parse_known_args()  # the rest goes to train.py's options (ssgan side)
    torch.set_num_threads(a.threads)
    quiet_library_noise()
    extra = ["--trainer.precision", a.precision, *[x for x in train_args if x != "--"]]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(a.rounds):
            if a.paired:
                torch.manual_seed(r)
                rows.append({"round": r, **paired_round(a, a.steps, a.warmup, tmp, extra)})
                print(json.dumps(rows[-1]), file=sys.stderr)
                continue
            # alternate the order so neither side always runs on a warmer machine
            order = ["ssgan", "plain"] if r % 2 == 0 else ["plain", "ssgan"]
            rate = {}
            for which in order:
                torch.manual_seed(r)
                rate[which] = (lightning_rate(a, a.steps, a.warmup, tmp, extra) if which == "ssgan"
                               else plain_rate(a, a.steps, a.warmup, a.precision))
            rows.append({"round": r, **rate, "ratio": rate["ssgan"] / rate["plain"]})
            print(json.dumps(rows[-1]), file=sys.stderr)
    summary = {"method": "paired steps" if a.paired else "alternating rounds",
               "dataset": a.dataset, "num_labels": a.num_labels, "threads": a.threads,
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
