"""A minimal plain-PyTorch loop doing exactly ssgan's training step (same networks, losses,
batches and optimizers), without Lightning. The reference for bench/throughput.py.

    python bench/plain_loop.py --dataset fashion_mnist --num-labels 100 --epochs 1
"""

from __future__ import annotations

import argparse
import time

import torch

from ssgan.data import SSLDataModule
from ssgan.model import SSGAN
from ssgan.objectives import GANBatch, supervised_loss


class PlainTrainer:
    """Holds an SSGAN's modules and runs its algorithm by hand."""

    def __init__(self, model: SSGAN, dm: SSLDataModule, precision: str = "32-true"):
        self.model, self.dm = model, dm
        # entered once per step, as Lightning's precision plugin does: autocast caches the bf16
        # copies of the weights until its context exits, so a context spanning several steps
        # would keep computing with the weights of the first one
        self.bf16 = precision == "bf16-mixed"
        hp = model.hparams
        # the very optimizers ssgan builds
        self.opt_d, self.opt_g = model.configure_optimizers()
        self.loader = dm.train_dataloader()
        model.train()
        d = model.discriminator
        idx = torch.as_tensor(dm.unlabeled_indices)[:hp.data_init_size]
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
            self._step(batch)

    def _step(self, batch) -> None:
        m = self.model
        D, G, obj = m.discriminator, m.generator, m.g_objective
        x_lab, y_lab, x_unl, x_unl2 = batch
        n = len(x_unl)
        with torch.no_grad():
            x_fake = G(G.sample_latent(n))
        out = D(torch.cat([x_lab, x_unl, x_fake]))
        lab, unl, fake = (type(out)(*p) for p in zip(*(t.split([len(x_lab), n, n]) for t in out)))
        loss_d = supervised_loss(lab.logits, y_lab) + m.hparams.unlabeled_weight * \
            obj.discriminator_loss(GANBatch(unl, fake, x_unl, x_fake))["loss"]
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()

        D.requires_grad_(False)
        x_fake = G(G.sample_latent(n))
        with torch.no_grad():
            real = D(x_unl2)
        loss_g = obj.generator_loss(GANBatch(real, D(x_fake), x_unl2, x_fake))["loss"]
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        D.requires_grad_(True)
        if m.ema is not None:
            m.ema.update(D)

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
