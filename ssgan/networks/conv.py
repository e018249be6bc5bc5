"""Convolutional D and G for 32x32 colour images (improved-gan CIFAR-10/SVHN design).

Salimans et al. 2016 (openai/improved-gan, ``train_cifar_feature_matching.py``):

* D: dropout 0.2 on the input -> 3x conv3x3 ``c1`` (the third with stride 2) -> dropout 0.5 ->
  3x conv3x3 ``c2`` (the third with stride 2) -> dropout 0.5 -> conv3x3 ``c2`` (no padding) ->
  2x NIN (1x1 conv) ``c2`` -> global mean pool -> dense K. Every layer is weight-normalised,
  hidden ones use leaky ReLU (slope 0.2) and keep their data-dependent scale fixed; the output
  layer learns its scale (initialised to give logits of std 0.1). CIFAR-10: c1/c2 = 96/192;
  SVHN: 64/128. The feature-matching features are the global-pool output (the original matched
  them with an L1 loss on CIFAR/SVHN: the objective's ``p=1``).
* G: z ~ U[0, 1)^100 -> dense 4x4x512 -> BN -> ReLU -> deconv5x5/2 256 @8x8 -> BN -> ReLU ->
  deconv5x5/2 128 @16x16 -> BN -> ReLU -> weight-normalised deconv5x5/2 C @32x32 -> tanh.
  Batch norms learn a shift only (no gain), as in the original. The data here lie in [0, 1], so
  the output is ``(tanh + 1) / 2``.

Input channels and size come from the data: grayscale works, and other sizes (at least 9x9)
too: D's global pool accepts any size; G starts at ``ceil(H / 2^n) x ceil(W / 2^n)`` (n =
number of upsamplings) and centre-crops when that overshoots.

The :class:`Conv` component builds them: presets ``conv_cifar`` and ``conv_svhn``; ``d_widths`` =
D's two widths ``[c1, c2]``, ``g_widths`` = G's widths from the dense layer up (its length is the
number of upsamplings), ``input_dropout`` / ``dropout`` = D's input / hidden dropout rates.
"""

from __future__ import annotations

import math
from typing import Literal, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import SSGANError
from .base import DOutput, Networks, check_image_shape, override
from .layers import MinibatchDiscrimination, WNConv2d, WNConvTranspose2d, WNLinear

LEAK = 0.2
#: smallest side D can take: two stride-2 convs and one unpadded 3x3 conv leave >= 1 pixel
MIN_SIZE = 9


class PooledConvDiscriminator(nn.Module):
    """What the conv discriminators share: weight-normalised conv layers ``convs`` with leaky
    ReLU, dropout after the layers in ``_dropout_after``, a global mean pool, an optional
    minibatch discrimination layer and a dense K-logit output layer. The features are the
    spatial mean of layer ``feature_layer``'s activations (for -1: the global-pool output).
    A subclass builds ``convs``, ``dropout``, ``_dropout_after`` and ``minibatch`` (None for
    none), then calls :meth:`_finish`; :meth:`corrupt` is its input noise."""

    #: data-dependent init runs minibatch discrimination on chunks of this many images
    INIT_CHUNK = 100

    def _finish(self, width: int, num_classes: int, feature_layer: int) -> None:
        """The output layer on the pooled ``width`` features, the feature layer and the init flag."""
        self.couples_batch = self.minibatch is not None
        out_in = self.minibatch.out_features if self.minibatch is not None else width
        self.out = WNLinear(out_in, num_classes, train_scale=True, init_scale=0.1)
        n = len(self.convs)
        if not -n <= feature_layer < n:
            raise SSGANError(f"feature_layer must index one of the {n} conv layers (-{n}..{n - 1}), "
                             f"got {feature_layer}")
        self.feature_layer = feature_layer % n
        self.feature_dim = self.convs[self.feature_layer].v.shape[0]
        self.register_buffer("initialised", torch.tensor(False))

    def corrupt(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def _body(self, x: Tensor, init: bool = False) -> tuple[Tensor, Tensor]:
        h = self.corrupt(x)
        features = None
        for i, conv in enumerate(self.convs):
            if init:
                conv.init_from(h)
            h = F.leaky_relu(conv(h), LEAK)
            if i == self.feature_layer:
                features = h.mean((2, 3), dtype=torch.float32)
            if i in self._dropout_after:
                h = self.dropout(h)
        # pooled in float32: feature matching compares batch means of these under bf16 autocast
        pooled = h.mean((2, 3), dtype=torch.float32)
        return pooled, features

    def forward(self, x: Tensor) -> DOutput:
        pooled, features = self._body(x)
        if self.minibatch is not None:
            pooled = self.minibatch(pooled)
        return DOutput(self.out(pooled), features)

    @torch.no_grad()
    def data_init(self, x: Tensor) -> None:
        """Data-dependent init of every weight-normalised layer, layer by layer."""
        pooled, _ = self._body(x, init=True)
        if self.minibatch is not None:
            pooled = torch.cat([self.minibatch(c) for c in pooled.split(self.INIT_CHUNK)])
        self.out.init_from(pooled)
        self.initialised.fill_(True)


class ConvDiscriminator(PooledConvDiscriminator):
    """Improved-GAN CIFAR-10/SVHN discriminator (see the module docstring).

    ``feature_layer`` indexes its nine conv layers (-1 = the last NIN layer); the features are
    that layer's activations averaged over space (for -1: the global-pool output).

    ``minibatch=(B, C)`` inserts :class:`~ssgan.networks.layers.MinibatchDiscrimination` between the
    global pool and the output layer, where the original's minibatch-discrimination CIFAR
    model has it; D's output then depends on the batch (``couples_batch``)."""

    def __init__(self, in_channels: int, num_classes: int, widths: Sequence[int],
                 input_dropout: float, dropout: float, feature_layer: int = -1,
                 minibatch: Optional[tuple[int, int]] = None):
        super().__init__()
        if len(widths) != 2 or min(widths) <= 0:
            raise SSGANError(f"the conv discriminator takes two widths [c1, c2] (d_widths), "
                             f"got {list(widths)}")
        for name, p in (("input_dropout", input_dropout),
                        ("dropout", dropout)):
            if not 0 <= p < 1:
                raise SSGANError(f"the conv discriminator's {name} must be in [0, 1), got {p}")
        c1, c2 = widths
        self.input_dropout = nn.Dropout(input_dropout)
        self.convs = nn.ModuleList([
            WNConv2d(in_channels, c1, 3, 1, 1), WNConv2d(c1, c1, 3, 1, 1), WNConv2d(c1, c1, 3, 2, 1),
            WNConv2d(c1, c2, 3, 1, 1), WNConv2d(c2, c2, 3, 1, 1), WNConv2d(c2, c2, 3, 2, 1),
            WNConv2d(c2, c2, 3, 1, 0), WNConv2d(c2, c2, 1), WNConv2d(c2, c2, 1),  # last two: NIN
        ])
        self.dropout = nn.Dropout(dropout)
        self._dropout_after = {2, 5}
        self.minibatch = None
        if minibatch is not None:
            self.minibatch = MinibatchDiscrimination(c2, *minibatch)
        self._finish(c2, num_classes, feature_layer)

    def corrupt(self, x: Tensor) -> Tensor:
        return self.input_dropout(x)


def _shift_only_bn(bn: nn.modules.batchnorm._BatchNorm) -> nn.Module:
    # the original's batch norm has no gain (g=None): keep gamma at 1
    bn.weight.requires_grad_(False)
    return bn


class ConvGenerator(nn.Module):
    """Improved-GAN CIFAR-10/SVHN generator (see the module docstring); class-conditional when
    ``num_classes > 0`` (a label embedding is concatenated to z, as in the MLP generator)."""

    def __init__(self, latent_dim: int, image_shape: Sequence[int], widths: Sequence[int],
                 num_classes: int = 0):
        super().__init__()
        if len(widths) < 1 or min(widths) <= 0:
            raise SSGANError(f"the conv generator needs at least one positive width (g_widths), "
                             f"got {list(widths)}")
        self.latent_dim = latent_dim
        self.image_shape = tuple(image_shape)
        c, h, w = self.image_shape
        n_up = len(widths)
        self.base = (math.ceil(h / 2 ** n_up), math.ceil(w / 2 ** n_up))
        self.embed = nn.Embedding(num_classes, latent_dim) if num_classes else None
        d = latent_dim * (2 if num_classes else 1)
        self.fc = nn.Linear(d, widths[0] * self.base[0] * self.base[1], bias=False)
        self.fc_bn = _shift_only_bn(nn.BatchNorm1d(self.fc.out_features))
        ups: list[nn.Module] = []
        for a, b in zip(widths[:-1], widths[1:]):
            ups += [nn.ConvTranspose2d(a, b, 5, 2, 2, output_padding=1, bias=False),
                    _shift_only_bn(nn.BatchNorm2d(b)), nn.ReLU()]
        self.ups = nn.Sequential(*ups)
        self.out = WNConvTranspose2d(widths[-1], c, 5, 2, 2, output_padding=1, train_scale=True)
        for m in [self.fc, *self.ups]:
            if isinstance(m, (nn.Linear, nn.ConvTranspose2d)):
                nn.init.normal_(m.weight, 0.0, 0.05)  # W=Normal(0.05) in the original

    def sample_latent(self, n: int, device=None) -> Tensor:
        return torch.rand(n, self.latent_dim, device=device)

    def forward(self, z: Tensor, y: Optional[Tensor] = None) -> Tensor:
        if self.embed is not None:
            if y is None:
                raise SSGANError("this generator is class-conditional: pass the labels y")
            z = torch.cat([z, self.embed(y)], 1)
        h = F.relu(self.fc_bn(self.fc(z))).view(len(z), -1, *self.base)
        x = 0.5 * (torch.tanh(self.out(self.ups(h))) + 1.0)
        _, height, width = self.image_shape
        top, left = (x.shape[2] - height) // 2, (x.shape[3] - width) // 2
        if top or left:
            x = x[:, :, top:top + height, left:left + width]
        return x


# D's widths [c1, c2], G's widths from the dense layer up, D's input / hidden dropout rates
CONV_PRESETS = {
    "conv_cifar": dict(d_widths=[96, 192], g_widths=[512, 256, 128], input_dropout=0.2,
                       dropout=0.5),
    "conv_svhn": dict(d_widths=[64, 128], g_widths=[512, 256, 128], input_dropout=0.2,
                      dropout=0.5),
}


class Conv(Networks):
    """The convolutional networks (see the module docstring), sized by a preset; every size
    can be overridden.

    Args:
        preset: ``conv_cifar`` (D 96/192, the CIFAR-10 widths) or ``conv_svhn`` (D 64/128).
        d_widths: D's two widths ``[c1, c2]`` (default: the preset's).
        g_widths: G's widths from the dense layer up; its length is the number of upsamplings
            (default: the preset's).
        input_dropout: dropout rate on D's input (default: the preset's).
        dropout: dropout rate after D's two strided blocks (default: the preset's).
        **common: the options of :class:`~ssgan.networks.base.Networks` (latent_dim,
            feature_layer, minibatch discrimination).
    """

    def __init__(self, preset: Literal["conv_cifar", "conv_svhn"] = "conv_cifar",
                 d_widths: Optional[list[int]] = None, g_widths: Optional[list[int]] = None,
                 input_dropout: Optional[float] = None, dropout: Optional[float] = None,
                 **common):
        super().__init__(**common)
        if preset not in CONV_PRESETS:
            raise SSGANError(f"unknown conv preset {preset!r}; choose one of: {', '.join(CONV_PRESETS)}")
        self.preset = preset
        self.sizes = override(CONV_PRESETS[preset], d_widths=d_widths, g_widths=g_widths,
                              input_dropout=input_dropout, dropout=dropout)

    def name(self, image_shape) -> str:
        return self.preset

    def build(self, image_shape, num_classes, conditional=False):
        c, h, w = check_image_shape(image_shape)
        if min(h, w) < MIN_SIZE:
            raise SSGANError(f"the conv networks need images of at least {MIN_SIZE}x{MIN_SIZE}, "
                             f"got {h}x{w}; choose --model.networks MLP or set --data.image_size 32")
        s = self.sizes
        d = ConvDiscriminator(c, num_classes, s["d_widths"], s["input_dropout"], s["dropout"],
                              self.feature_layer, minibatch=self.minibatch)
        g = ConvGenerator(self.latent_dim, (c, h, w), s["g_widths"],
                          num_classes if conditional else 0)
        return d, g
