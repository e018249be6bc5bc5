"""Seconds per epoch of the convolutional networks at CIFAR size, with synthetic data.

Runs real training steps of :class:`ssgan.SSGAN` (the full step: D on labeled + unlabeled +
generated images, then G with feature matching, then the EMA update) through a Lightning
Trainer on random 3x32x32 images held in memory, times ``--steps`` steps after ``--warmup``
untimed ones, and reports seconds per step and per epoch (an epoch is 50,000 / batch_size
steps, the CIFAR-10 training set). It also times D's forward pass over test batches
(seconds per 10,000-image test pass, extrapolated).

    python bench/conv_speed.py                       # CPU, conv_cifar and conv_svhn
    python bench/conv_speed.py --accelerator gpu --precision bf16-mixed
    python bench/conv_speed.py --out bench/results/conv_speed.md   # append a results table

Numbers depend on the machine and on whatever else runs on it; the results file records both.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shlex
import statistics
import sys
import time
from pathlib import Path

import pytorch_lightning as pl
import torch

from ssgan import SSGAN, SSLDataModule
from ssgan.networks import Conv, Conv28, ConvMLP
from ssgan.data.sources import ImageData, register_source
from ssgan.runs import quiet_library_noise

TRAIN_SIZE, TEST_SIZE = 50_000, 10_000


def synthetic_source(shape: tuple[int, int, int]) -> str:
    """Registers and names a source of TRAIN_SIZE uniform-noise images of ``shape``, 10
    classes, whose first TEST_SIZE images double as the test split: speed only, no accuracy."""
    name = "bench_synthetic_" + "x".join(map(str, shape))

    @register_source(name, image_shape=shape, num_classes=10,
                     where="generated in memory by bench/conv_speed.py")
    def load(data_root, download=True) -> ImageData:
        g = torch.Generator().manual_seed(0)
        x = torch.rand(TRAIN_SIZE, *shape, generator=g)
        y = torch.arange(TRAIN_SIZE) % 10
        return ImageData(x, y, x[:TEST_SIZE], y[:TEST_SIZE], [str(i) for i in range(10)])

    return name


# network name -> (image shape, networks component)
NETWORKS = {"conv_cifar": ((3, 32, 32), lambda: Conv("conv_cifar")),
            "conv_svhn": ((3, 32, 32), lambda: Conv("conv_svhn")),
            "conv28": ((1, 28, 28), Conv28),
            "conv_mlp": ((1, 28, 28), ConvMLP)}
SOURCES = {shape: synthetic_source(shape) for shape in {s for s, _ in NETWORKS.values()}}


class StepTimer(pl.Callback):
    def __init__(self, warmup: int):
        self.warmup, self.times, self._t = warmup, [], 0.0

    def _sync(self, pl_module):
        if pl_module.device.type == "cuda":
            torch.cuda.synchronize(pl_module.device)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self._sync(pl_module)
        self._t = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self._sync(pl_module)
        if batch_idx >= self.warmup:
            self.times.append(time.perf_counter() - self._t)


def bench(network: str, args) -> dict:
    pl.seed_everything(0, verbose=False)
    shape, networks = NETWORKS[network]
    dm = SSLDataModule(SOURCES[shape], num_labels=4000, batch_size=args.batch_size, download=False)
    # data_init off: a one-off cost before the first step, not part of an epoch
    model = SSGAN(image_shape=shape, num_classes=10, networks=networks(), lr=3e-4,
                  data_init=False)
    timer = StepTimer(args.warmup)
    n_batches = args.warmup + args.steps
    trainer = pl.Trainer(accelerator=args.accelerator, devices=1, precision=args.precision,
                         max_steps=2 * n_batches,  # manual optimisation: 2 optimizer steps/batch
                         logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, num_sanity_val_steps=0,
                         use_distributed_sampler=False, callbacks=[timer])
    trainer.fit(model, datamodule=dm)
    steps_per_epoch = TRAIN_SIZE // args.batch_size
    step = statistics.median(timer.times)

    # evaluation: D's forward over test batches
    # Lightning moves the module back to the CPU when fit ends: evaluate on the training device
    device = torch.device("cuda" if args.accelerator in ("gpu", "cuda") else "cpu")
    d = model.eval_discriminator.to(device)
    xb = dm.data.x_test[: args.eval_batch_size].to(device)
    autocast = (torch.autocast(device.type, dtype=torch.bfloat16)
                if args.precision.startswith("bf16") else torch.autocast("cpu", enabled=False))
    eval_times = []
    with torch.no_grad(), autocast:
        for i in range(args.eval_batches + 1):
            t = time.perf_counter()
            d(xb)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            if i:  # the first is a warm-up
                eval_times.append(time.perf_counter() - t)
    test_pass = statistics.median(eval_times) * TEST_SIZE / args.eval_batch_size
    return {"network": network, "step_s": step, "step_min": min(timer.times),
            "step_max": max(timer.times), "n": len(timer.times),
            "steps_per_s": 1.0 / step, "epoch_s": step * steps_per_epoch, "steps_per_epoch": steps_per_epoch,
            "test_pass_s": test_pass,
            "d_params": sum(p.numel() for p in model.discriminator.parameters()),
            "g_params": sum(p.numel() for p in model.generator.parameters())}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--networks", nargs="+", default=["conv_cifar", "conv_svhn"],
                   choices=sorted(NETWORKS))
    p.add_argument("--steps", type=int, default=3, help="timed training steps per network")
    p.add_argument("--warmup", type=int, default=1, help="untimed steps first")
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--eval-batch-size", type=int, default=500)
    p.add_argument("--eval-batches", type=int, default=2)
    p.add_argument("--accelerator", default="cpu")
    p.add_argument("--precision", default="32-true")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    p.add_argument("--note", default="", help="free text for the results file (e.g. machine load)")
    p.add_argument("--out", type=Path, default=None, help="append a markdown section here")
    args = p.parse_args(argv)
    quiet_library_noise()
    if args.threads:
        torch.set_num_threads(args.threads)

    started = time.perf_counter()
    rows = [bench(n, args) for n in args.networks]
    wall = time.perf_counter() - started

    if args.accelerator in ("gpu", "cuda") and torch.cuda.is_available():
        device = torch.cuda.get_device_name(0)
    else:
        device = f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores visible, " \
                 f"{torch.get_num_threads()} torch threads"
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    cmd = "python " + shlex.join(["bench/conv_speed.py", *(argv if argv is not None else sys.argv[1:])])
    lines = [
        f"## {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}: {args.accelerator}, "
        f"{args.precision}, batch {args.batch_size}",
        "",
        f"- command: `{cmd}`",
        f"- device: {device}; torch {torch.__version__}, python {platform.python_version()}",
        f"- load average after the run (1/5/15 min): "
        + (", ".join(f"{v:.2f}" for v in load) if load else "n/a"),
        f"- synthetic data (3x32x32 for conv_cifar/conv_svhn, 1x28x28 for conv28 and conv_mlp); epoch = "
        f"{rows[0]['steps_per_epoch']} steps "
        f"(50,000 images / batch {args.batch_size}); each step: D on {args.batch_size} labeled + "
        f"{args.batch_size} unlabeled + {args.batch_size} generated, G step on "
        f"{args.batch_size} + {args.batch_size}, EMA update",
        f"- {args.warmup} untimed + {args.steps} timed steps per network; median shown, "
        f"min-max in brackets; whole benchmark took {wall:.0f} s",
    ]
    if args.note:
        lines.append(f"- note: {args.note}")
    lines += ["", "| network | D / G params | steps/s | s per step | s per epoch | s per test pass (10k) |",
              "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['network']} | {r['d_params'] / 1e6:.2f}M / {r['g_params'] / 1e6:.2f}M "
                     f"| {r['steps_per_s']:.1f} | {r['step_s']:.4f} [{r['step_min']:.4f}-{r['step_max']:.4f}] "
                     f"| {r['epoch_s']:.0f} ({r['epoch_s'] / 60:.1f} min) | {r['test_pass_s']:.1f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with open(args.out, "a") as f:
            f.write("\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
