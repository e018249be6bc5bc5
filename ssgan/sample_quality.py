"""Sample quality of a trained generator: a PNG grid and a Fréchet distance.

The Fréchet distance is torchmetrics' ``FrechetInceptionDistance`` with a custom feature
extractor: the trained classifier's own feature layer (the evaluation copy, i.e. the EMA
weights, in eval mode: no noise), so it needs no Inception weights and works offline. It is
the same formula as FID, ``|mu_r - mu_g|^2 + Tr(S_r + S_g - 2 (S_r S_g)^(1/2))``, in a
different feature space, so its values are only comparable between checkpoints of the same
architecture, on the same dataset, with the same number of images. For scale it is reported
next to the distance between the two halves of the test set (real against real).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

import torch
from torch import Tensor, nn


class ClassifierFeatures(nn.Module):
    """``x -> D(x).features``: the feature layer of a classifier-discriminator, as a
    torchmetrics custom feature extractor (``num_features`` spares it a dummy forward)."""

    def __init__(self, discriminator: nn.Module):
        super().__init__()
        self.d = discriminator
        self.num_features = int(discriminator.feature_dim)

    @torch.no_grad()
    def forward(self, x: Tensor) -> Tensor:
        was_training = self.d.training
        self.d.eval()
        try:
            return self.d(x).features.flatten(1).float()
        finally:
            self.d.train(was_training)


@torch.no_grad()
def frechet_distance(features: nn.Module, real: Tensor, fake: Tensor,
                     batch_size: int = 1000) -> float:
    """Fréchet distance between two sets of images in the space of ``features``
    (torchmetrics' ``FrechetInceptionDistance`` with a custom extractor)."""
    from torchmetrics.image.fid import FrechetInceptionDistance

    if len(real) < 2 or len(fake) < 2:
        raise ValueError("the Fréchet distance needs at least 2 images on each side")
    fid = FrechetInceptionDistance(feature=features, normalize=True)
    device = next(features.parameters()).device
    for imgs, is_real in ((real, True), (fake, False)):
        for i in range(0, len(imgs), batch_size):
            fid.update(imgs[i:i + batch_size].to(device), real=is_real)
    return float(fid.compute())


@torch.no_grad()
def generate(model, n: int, y: Optional[Tensor] = None, batch_size: int = 1000,
             seed: Optional[int] = None) -> tuple[Tensor, Optional[Tensor]]:
    """``n`` images from the model's generator (eval mode), on the CPU, in [0, 1].

    For a class-conditional generator ``y`` gives the classes (default: random ones)."""
    dev = torch.device(model.device)
    cuda = [dev.index or 0] if dev.type == "cuda" else []
    ctx = torch.random.fork_rng(devices=cuda) if seed is not None else _null()
    with ctx:
        if seed is not None:
            torch.manual_seed(seed)
        was_training = model.generator.training
        model.generator.eval()
        xs, ys = [], []
        try:
            for i in range(0, n, batch_size):
                yb = None if y is None else y[i:i + batch_size].to(model.device)
                x, yo = model.sample(min(batch_size, n - i), yb)
                xs.append(x.float().cpu())
                if yo is not None:
                    ys.append(yo.cpu())
        finally:
            model.generator.train(was_training)
    return torch.cat(xs).clamp_(0, 1), (torch.cat(ys) if ys else None)


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def is_conditional(model) -> bool:
    return bool(getattr(getattr(model, "g_objective", None), "conditional", False))


def save_grid(images: Tensor, path: str | Path, nrow: int, min_side: int = 32) -> Path:
    """Save images (N, C, H, W) in [0, 1] as one PNG grid, ``nrow`` images per row; small
    images are enlarged (nearest neighbour) to at least ``min_side`` pixels."""
    import torch.nn.functional as F
    from torchvision.utils import save_image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    scale = max(1, math.ceil(min_side / images.shape[-1]))
    if scale > 1:
        images = F.interpolate(images, scale_factor=scale, mode="nearest")
    save_image(images, path, nrow=nrow, padding=2, pad_value=0.5)
    return path


def sample_grid(model, path: str | Path, num_samples: int = 100, seed: int = 0) -> Path:
    """A PNG grid of generated samples: one row per class for a conditional generator,
    else ``num_samples`` images in rows of 10."""
    k = int(model.hparams.num_classes)
    if is_conditional(model):
        per_class = max(1, num_samples // k)
        y = torch.arange(k).repeat_interleave(per_class)
        x, _ = generate(model, len(y), y, seed=seed)
        return save_grid(x, path, nrow=per_class)
    x, _ = generate(model, num_samples, seed=seed)
    return save_grid(x, path, nrow=10)


def sample_quality(model, x_test: Tensor, *, num_generated: Optional[int] = None,
                   seed: int = 0) -> dict:
    """Fréchet distances in the classifier's feature space:

    * ``generated_vs_test``: all test images against ``num_generated`` samples (default: as
      many as test images);
    * ``test_half_vs_half``: one random half of the test set against the other (real vs real);
    * ``generated_vs_test_half``: the first half against as many samples as it has images,
      the like-for-like comparison with ``test_half_vs_half`` (the estimate depends on the
      number of images)."""
    n_test = len(x_test)
    n_gen = num_generated or n_test
    feats = ClassifierFeatures(model.eval_discriminator)
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(n_test, generator=g)
    half = n_test // 2
    a, b = x_test[perm[:half]], x_test[perm[half:2 * half]]
    fake, _ = generate(model, max(n_gen, half), seed=seed)
    return {
        "generated_vs_test": frechet_distance(feats, x_test, fake[:n_gen]),
        "test_half_vs_half": frechet_distance(feats, a, b),
        "generated_vs_test_half": frechet_distance(feats, a, fake[:half]),
        "num_test": n_test, "num_generated": n_gen, "num_half": half,
        "features": f"evaluation classifier's feature layer ({feats.num_features} dims)",
    }
