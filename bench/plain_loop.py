"""A minimal plain-PyTorch loop running ssgan's training step (:func:`ssgan.steps.gan_step`: the
same function, networks, losses, batches and optimizers), without Lightning. The reference for
bench/throughput.py, which then measures Lightning's overhead alone.

    python bench/plain_loop.py --dataset fashion_mnist --num-labels 100 --epochs 1
"""

from __future__ import annotations

import argparse
import time

import torch

from ssgan.data import SSLDataModule
from ssgan.model import SSGAN
from ssgan.steps import gan_step


class PlainTrainer:
    """Holds an SSGAN's modules and runs its algorithm by hand."""

    def __init__(self, model: SSGAN, dm: SSLDataModule, precision: str = "32-true"):
        self.model, self.dm = model, dm
        # entered once per step, as Lightning's precision plugin does: autocast caches the bf16
        # copies of the weights until its context exits, so a context spanning several steps
        # would keep computing with the weights of the first one
        self.bf16 = precision == "bf16-mixed"
        # the very optimizers ssgan builds
        self.opt_d, self.opt_g = model.configure_optimizers()
        self.loader = dm.train_dataloader()
        model.train()
        d = model.discriminator
        idx = torch.as_tensor(dm.unlabeled_indices)[:model.hparams.data_init_size]
        d.data_init(dm.data.x_train[idx])
        if model.ema is not None:
            model.ema.module.load_state_dict(d.state_dict())

    @classmethod
    def build(cls, dataset: str, num_labels: int, precision: str = "32-true") -> "PlainTrainer":
        """A fresh SSGAN with default options on ``dataset`` (set up for fitting)."""
        dm = SSLDataModule(dataset=dataset, num_labels=num_labels)
        dm.setup("fit")
        return cls(SSGAN(image_shape=dm.image_shape, num_classes=dm.num_classes), dm, precision)

    def step(self, batch) -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            # the very step the LightningModule runs (ssgan.steps), with plain backward
            gan_step(self.model.parts, batch, self.opt_d, self.opt_g)

    def run_steps(self, steps: int) -> float:
        """Run ``steps`` training steps; returns seconds."""
        start = time.perf_counter()
        done = 0
        while done < steps:
            for batch in self.loader:
                self.step(batch)
                done += 1
                if done == steps:
                    break
        return time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--dataset", default="fashion_mnist")
    p.add_argument("--num-labels", type=int, default=100)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    t = PlainTrainer.build(a.dataset, a.num_labels).run_steps(a.steps)
    print(f"{a.steps / t:.2f} steps/s")


if __name__ == "__main__":
    main()
