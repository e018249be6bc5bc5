"""Rough CPU cost of one GAN step (D step + G step, feature matching, batch 100) of the conv28
networks against ``mlp_mnist``, single-threaded, on random 28x28 data. The step mirrors
``SSGAN.training_step`` (one D forward on labeled + unlabeled + generated images, a G step
through the frozen D); the two networks alternate in rounds so that machine load hits both.

    python bench/conv28_speed.py [--steps 10] [--rounds 3]
"""

from __future__ import annotations

import argparse
import time

import torch

from ssgan.conv28 import build_conv28
from ssgan.networks import build_networks
from ssgan.objectives import feature_matching_loss, supervised_loss, unlabeled_loss


def make(name: str):
    torch.manual_seed(0)
    if name == "conv28":
        d, g = build_conv28((1, 28, 28), 10)
    else:
        d, g = build_networks((1, 28, 28), 10, network=name)
    d.data_init(torch.rand(500, 1, 28, 28))
    opt_d = torch.optim.Adam(d.parameters(), 3e-3, betas=(0.5, 0.999))
    opt_g = torch.optim.Adam(g.parameters(), 3e-3, betas=(0.5, 0.999))
    return d, g, opt_d, opt_g


def step(d, g, opt_d, opt_g, n: int = 100) -> None:
    x_lab, y = torch.rand(n, 1, 28, 28), torch.randint(0, 10, (n,))
    x_unl, x_unl2 = torch.rand(n, 1, 28, 28), torch.rand(n, 1, 28, 28)
    with torch.no_grad():
        x_fake = g(torch.rand(n, 100))
    out = d(torch.cat([x_lab, x_unl, x_fake]))
    lab, unl, fake = out.logits.split(n)
    loss_d = supervised_loss(lab, y) + unlabeled_loss(unl, fake)
    opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    opt_d.step()
    d.requires_grad_(False)
    with torch.no_grad():
        f_real = d(x_unl2).features
    loss_g = feature_matching_loss(f_real, d(g(torch.rand(n, 100))).features)
    opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    opt_g.step()
    d.requires_grad_(True)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    torch.set_num_threads(1)
    nets = {name: make(name) for name in ("mlp_mnist", "conv28")}
    times: dict[str, list[float]] = {name: [] for name in nets}
    for parts in nets.values():
        step(*parts)  # warm-up
    for _ in range(args.rounds):
        for name, parts in nets.items():
            start = time.perf_counter()
            for _ in range(args.steps):
                step(*parts)
            times[name].append(1000 * (time.perf_counter() - start) / args.steps)
    for name, ms in times.items():
        print(f"{name:>10}: {min(ms):7.1f} ms/step (min of {args.rounds} rounds), "
              f"median {sorted(ms)[len(ms) // 2]:.1f}")
    print(f"ratio conv28 / mlp_mnist (min): {min(times['conv28']) / min(times['mlp_mnist']):.2f}")


if __name__ == "__main__":
    main()
