"""A convolutional stem in front of the improved-gan MNIST discriminator, for small grayscale
images on a CPU.

* D: Gaussian noise (sigma ``input_noise``) on the input -> ``len(conv_widths)`` weight-normalised
  conv3x3/2 ReLU layers, each followed by Gaussian noise (sigma ``conv_noise``) -> flatten ->
  the MLP discriminator's weight-normalised dense ReLU layers with Gaussian noise
  (``hidden_noise``) -> weight-normalised K-way output. Data-dependent init of every layer, as
  in the original code.
* G: the MLP generator of :mod:`ssgan.networks.mlp`.

Unlike :mod:`ssgan.networks.conv28`, whose three strided convolutions end in a global mean
pool, the stem keeps the spatial layout (the dense layers see where each local pattern is),
as the MLP does; the convolutions add weight sharing for local patterns.

Measured on Fashion-MNIST-100 with ``Consistency`` (BENCHMARKS.md, session 8; 2 CPU threads):
the default ``[16, 32]`` costs about the ``mlp_mnist`` step per batch. At 5 minutes the three
split seeds were 25.58 / 25.73 / 24.45 % against the MLP's 24.10 / 28.81 / 25.67 %: a much
smaller spread, the median 0.09 points lower. After 30 minutes: 23.53 / 23.46 / 22.37 %
against 23.55 / 24.31 / 23.90 % (median 23.46 against 23.90 %). Without ``Consistency`` it was
worse than the MLP (27.76 % against 25.67 % on seed 2 at 5 minutes). On digits-50 (8x8) it was
much worse than the ``mlp_digits`` MLP: 7.55 / 8.22 / 7.77 % against 3.33 / 4.89 / 4.00 %. On
5,000 Fashion-MNIST images with 100 labels: 26.42 % against 27.54 % (lower on each split). Both
with ``Consistency`` in session 19 (session 8's sweeps had run without it: 9.03 and 26.05 %).
A wider stem, ``conv_widths [32, 64]``, costs about 1.6x the time per batch. With
``configs/conv_mlp_mirror.yaml`` and ``ClassBalance`` it was ahead at equal batches early on.
After 30 minutes on split seed 0 it reached 22.30 %, against 21.04 % for the default width
(BENCHMARKS.md, session 12), so the default stays.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import SSGANError, check_positive
from .base import Networks, check_image_shape
from .layers import GaussianNoise, WNConv2d
from .mlp import MLP_PRESETS, MLPDiscriminator, MLPGenerator

CONV_WIDTHS = (16, 32)
D_HIDDEN = (500, 250, 250)
# the improved-gan MNIST generator and noise levels
MNIST = MLP_PRESETS["mlp_mnist"]


class ConvMLPDiscriminator(MLPDiscriminator):
    """Conv stem + the MLP discriminator's dense layers (see the module docstring).
    ``feature_layer`` indexes the dense hidden layers."""

    def __init__(self, image_shape: Sequence[int], num_classes: int, conv_widths: Sequence[int],
                 hidden: Sequence[int], input_noise: float, conv_noise: float,
                 hidden_noise: float, feature_layer: int = -1, cosine_head: float = 0.0):
        c, h, w = image_shape
        chans = [c, *conv_widths]
        # built before the dense layers, so their initial weights are drawn first
        convs = nn.ModuleList(WNConv2d(a, b, 3, 2, 1) for a, b in zip(chans[:-1], chans[1:]))
        for _ in conv_widths:
            h, w = math.ceil(h / 2), math.ceil(w / 2)
        super().__init__(chans[-1] * h * w, num_classes, hidden, input_noise, hidden_noise,
                         feature_layer, cosine_head=cosine_head)
        self.convs = convs
        self.conv_noise = GaussianNoise(conv_noise)

    def _stem(self, x: Tensor, init: bool = False) -> Tensor:
        h = self.input_noise(x)
        for conv in self.convs:
            if init:
                conv.init_from(h)
            h = self.conv_noise(F.relu(conv(h)))
        return h.flatten(1)


class ConvMLP(Networks):
    """A conv3x3/2 stem before the MLP discriminator's dense layers; the MLP generator (see the
    module docstring).

    Args:
        conv_widths: channels of the stride-2 convolutions.
        d_hidden: D's dense hidden sizes after the stem.
        g_hidden: G's hidden sizes.
        input_noise: sigma of the Gaussian noise on D's input. 0.3 is the original MNIST
            code's; ``configs/conv_mlp_mirror_30min.yaml`` halves it: 0.15 gave 17.45 / 17.75 /
            20.83 % on Fashion-MNIST-100 split seeds 0 / 1 / 2 in 30 minutes, against 18.62 /
            20.89 / 19.73 % with 0.3 (BENCHMARKS.md, sessions 24-25); 0.5 was far worse
            (session 15).
        conv_noise: sigma of the noise after each convolution.
        hidden_noise: sigma of the noise after D's dense hidden layers.
        cosine_head: 0 for D's usual weight-normalised linear output layer; a value s > 0
            makes it a cosine classifier, ``l_k = s * cos(h, v_k)`` with no bias
            (:class:`~ssgan.networks.layers.CosineLinear`), so each class logit lies in
            [-s, s] and the fake logit (0) can only win when h points away from every class.
            With s = 10, ``ClassBalance`` and ``configs/conv_mlp_mirror.yaml``, 30 minutes on
            Fashion-MNIST-100 gave 19.79 / 21.94 / 20.70 % on split seeds 0 / 1 / 2, against
            21.04 / 23.67 / 21.89 % without it (BENCHMARKS.md, sessions 16-18): that is
            ``configs/conv_mlp_mirror_30min.yaml``. Scales 5 and 20 were behind 10 at every
            count of a one-thread screen on split seed 1 (23.86 / 23.38 against 22.21 % at
            6,000 batches; session 19).
        **common: the options of :class:`~ssgan.networks.base.Networks` (latent_dim,
            feature_layer; minibatch discrimination is not offered)."""

    def __init__(self, conv_widths: list[int] = list(CONV_WIDTHS),
                 d_hidden: list[int] = list(D_HIDDEN),
                 g_hidden: list[int] = list(MNIST["g_hidden"]),
                 input_noise: float = MNIST["input_noise"],
                 conv_noise: float = MNIST["hidden_noise"],
                 hidden_noise: float = MNIST["hidden_noise"], cosine_head: float = 0.0,
                 **common):
        super().__init__(**common)
        if self.minibatch is not None:
            raise SSGANError("the ConvMLP networks have no minibatch discrimination layer; use "
                             "--model.networks MLP for it")
        if not conv_widths or min(conv_widths) <= 0 or min(d_hidden or [0]) <= 0:
            raise SSGANError(f"ConvMLP needs positive conv_widths and d_hidden, got "
                             f"{list(conv_widths)} and {list(d_hidden)}")
        for name, v in (("input_noise", input_noise), ("conv_noise", conv_noise),
                        ("hidden_noise", hidden_noise)):
            check_positive(f"model.networks.{name}", v, allow_zero=True)
        self.conv_widths, self.d_hidden, self.g_hidden = (list(conv_widths), list(d_hidden),
                                                          list(g_hidden))
        self.input_noise, self.conv_noise = float(input_noise), float(conv_noise)
        self.hidden_noise = float(hidden_noise)
        check_positive("model.networks.cosine_head", cosine_head, allow_zero=True)
        self.cosine_head = float(cosine_head)

    def name(self, image_shape) -> str:
        return "conv_mlp"

    def build(self, image_shape, num_classes, conditional=False):
        image_shape = check_image_shape(image_shape)
        d = ConvMLPDiscriminator(image_shape, num_classes, self.conv_widths, self.d_hidden,
                                 self.input_noise, self.conv_noise, self.hidden_noise,
                                 self.feature_layer, self.cosine_head)
        g = MLPGenerator(self.latent_dim, image_shape, self.g_hidden,
                         num_classes if conditional else 0)
        return d, g


__all__ = ["ConvMLP", "ConvMLPDiscriminator"]
