"""The networks: the K-logit classifier-discriminator D and the generator G.

``--model.networks`` picks the component that builds them: :class:`Auto` (the default: by image
size), :class:`MLP`, :class:`Conv` (32x32 colour), :class:`Conv28` (28x28 grayscale, sized for
a CPU) or :class:`ConvMLP` (a conv stem before the MLP's dense layers). Layers (weight norm,
noise, minibatch discrimination, virtual batch norm) are in :mod:`ssgan.networks.layers`.
"""

from .auto import Auto
from .base import DOutput, Networks
from .conv import CONV_PRESETS, Conv, ConvDiscriminator, ConvGenerator
from .conv28 import Conv28, Conv28Discriminator, Conv28Generator
from .conv_mlp import ConvMLP, ConvMLPDiscriminator
from .layers import (GaussianNoise, MinibatchDiscrimination, VirtualBatchNorm1d, WNConv2d,
                     WNConvTranspose2d, WNLinear, init_weight_norm)
from .mlp import MLP, MLP_PRESETS, MLPDiscriminator, MLPGenerator

#: every preset name, for ``Auto`` and the README
PRESETS = (*MLP_PRESETS, *CONV_PRESETS)

__all__ = ["Auto", "CONV_PRESETS", "Conv", "Conv28", "Conv28Discriminator",
           "Conv28Generator", "ConvDiscriminator", "ConvGenerator", "ConvMLP",
           "ConvMLPDiscriminator", "DOutput", "GaussianNoise", "MLP", "MLP_PRESETS",
           "MLPDiscriminator", "MLPGenerator", "MinibatchDiscrimination", "Networks", "PRESETS",
           "VirtualBatchNorm1d", "WNConv2d", "WNConvTranspose2d", "WNLinear", "init_weight_norm"]
