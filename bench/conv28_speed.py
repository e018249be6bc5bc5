"""CPU cost of one GAN step (ssgan.steps.gan_step: D step + G step with feature matching,
batch 100) of the conv28 networks against ``mlp_mnist``, on random 28x28 data. The two
networks alternate in rounds so that machine load hits both.

    python bench/conv28_speed.py [--steps 10] [--rounds 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import time

import torch

from ssgan.model import SSGAN
from ssgan.networks import MLP, Conv28
from ssgan.steps import gan_step

NETWORKS = {"mlp_mnist": lambda: MLP("mlp_mnist"), "conv28": Conv28}


def make(name: str):
    torch.manual_seed(0)
    model = SSGAN(image_shape=(1, 28, 28), num_classes=10, networks=NETWORKS[name]()).train()
    model.discriminator.data_init(torch.rand(500, 1, 28, 28))
    opt_d, opt_g = model.configure_optimizers()
    return model.parts, opt_d, opt_g


def batch(n: int = 100):
    return (torch.rand(n, 1, 28, 28), torch.randint(0, 10, (n,)), torch.rand(n, 1, 28, 28),
            torch.rand(n, 1, 28, 28))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    nets = {name: make(name) for name in NETWORKS}
    times: dict[str, list[float]] = {name: [] for name in nets}
    data = batch()
    for parts, opt_d, opt_g in nets.values():
        gan_step(parts, data, opt_d, opt_g)  # warm-up
    for _ in range(args.rounds):
        for name, (parts, opt_d, opt_g) in nets.items():
            start = time.perf_counter()
            for _ in range(args.steps):
                gan_step(parts, data, opt_d, opt_g)
            times[name].append(1000 * (time.perf_counter() - start) / args.steps)
    for name, ms in times.items():
        print(f"{name:>10}: {min(ms):7.1f} ms/step (min of {args.rounds} rounds), "
              f"median {sorted(ms)[len(ms) // 2]:.1f}")
    print(f"ratio conv28 / mlp_mnist (min): {min(times['conv28']) / min(times['mlp_mnist']):.2f}")


if __name__ == "__main__":
    main()
