"""The MLP networks of the MNIST setup of Salimans et al. 2016 (openai/improved-gan,
``train_mnist_feature_matching.py``), and the :class:`MLP` component that builds them.

* D: Gaussian noise (sigma 0.3) on the input, weight-normalised dense ReLU layers with
  Gaussian noise (sigma 0.5) after each, and a weight-normalised K-way output layer. Hidden
  layers keep their data-dependent scale fixed (``train_scale=False`` in the original); the
  output layer learns it.
* G: z ~ U[0, 1)^100 -> dense softplus + batch norm (shift only) -> ... -> weight-normalised
  dense sigmoid output.

Minibatch discrimination (before D's output layer) and virtual batch normalisation (in place of
G's batch norm) are options of the component.
"""

from __future__ import annotations

import math
from typing import Literal, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import SSGANError, check_positive
from .base import DOutput, Networks, check_image_shape, override
from .layers import CosineLinear, GaussianNoise, MinibatchDiscrimination, VirtualBatchNorm1d, WNLinear


class MLPDiscriminator(nn.Module):
    """Improved-GAN MNIST discriminator, sizes configurable.

    ``feature_layer`` indexes the hidden layers (-1 = the last one, as in the original) whose
    ReLU output, before its noise, is returned as the matching features.

    ``minibatch=(B, C)`` inserts a :class:`~ssgan.networks.layers.MinibatchDiscrimination` layer
    between the last hidden layer and the output layer (where the original CIFAR code puts it).
    D's output for an image then depends on the rest of its batch: ``couples_batch`` tells the
    training step to keep labeled, unlabeled and generated images in separate batches.
    """

    #: data-dependent init runs minibatch discrimination on chunks of this many images, the
    #: default training batch size, so the output layer is scaled for batches of that size
    INIT_CHUNK = 100

    def __init__(self, in_features: int, num_classes: int, hidden: Sequence[int],
                 input_noise: float, hidden_noise: float, feature_layer: int = -1,
                 minibatch: Optional[tuple[int, int]] = None, init_std: float = 0.05,
                 cosine_head: float = 0.0):
        super().__init__()
        if not hidden:
            raise SSGANError("the discriminator needs at least one hidden layer")
        self.input_noise = GaussianNoise(input_noise)
        dims = [in_features, *hidden]
        self.hidden = nn.ModuleList(WNLinear(a, b, init_std=init_std)
                                    for a, b in zip(dims[:-1], dims[1:]))
        self.noise = GaussianNoise(hidden_noise)
        self.minibatch = (MinibatchDiscrimination(hidden[-1], *minibatch)
                          if minibatch is not None else None)
        self.couples_batch = self.minibatch is not None
        out_in = self.minibatch.out_features if self.minibatch is not None else hidden[-1]
        # cosine_head > 0: a cosine classifier with that scale instead of the linear output
        self.out = (CosineLinear(out_in, num_classes, cosine_head, init_std) if cosine_head > 0
                    else WNLinear(out_in, num_classes, train_scale=True, init_std=init_std))
        n = len(hidden)
        if not -n <= feature_layer < n:
            raise SSGANError(f"feature_layer must index one of the {n} hidden layers (-{n}..{n - 1}), "
                             f"got {feature_layer}")
        self.feature_layer = feature_layer % n
        self.feature_dim = hidden[self.feature_layer]
        self.register_buffer("initialised", torch.tensor(False))

    def _stem(self, x: Tensor, init: bool = False) -> Tensor:
        """The input of the first dense layer: the noisy flattened image (a subclass may put
        layers here, data-initialising them when ``init``)."""
        return self.input_noise(x.flatten(1))

    def forward(self, x: Tensor) -> DOutput:
        h = self._stem(x)
        features = h
        for i, layer in enumerate(self.hidden):
            h = F.relu(layer(h))
            if i == self.feature_layer:
                features = h
            h = self.noise(h)
        if self.minibatch is not None:
            h = self.minibatch(h)
        return DOutput(self.out(h), features)

    @torch.no_grad()
    def data_init(self, x: Tensor) -> None:
        """Data-dependent init of every weight-normalised layer, layer by layer."""
        h = self._stem(x, init=True)
        for layer in self.hidden:
            layer.init_from(h)
            h = self.noise(F.relu(layer(h)))
        if self.minibatch is not None:
            h = torch.cat([self.minibatch(c) for c in h.split(self.INIT_CHUNK)])
        self.out.init_from(h)
        self.initialised.fill_(True)


class MLPGenerator(nn.Module):
    """Improved-GAN MNIST generator: z ~ U[0,1)^latent -> [Linear (no bias) -> BN (shift only) ->
    softplus] x len(hidden) -> weight-normalised Linear -> sigmoid, reshaped to the image.

    ``virtual_batchnorm=True`` replaces the batch norms with
    :class:`~ssgan.networks.layers.VirtualBatchNorm1d`. The reference batch (latents, and classes
    for a conditional G) is drawn once, here, from the seeded RNG and kept in buffers, so it
    is saved in checkpoints; every call runs it through the network ahead of the real batch.

    ``data_init=True``: the weight-normalised output layer is data-initialised on a batch of
    generated pre-activations before training (:meth:`data_init`, called by the model), as the
    original MNIST code does; an ``initialised`` buffer (saved in checkpoints) keeps a resumed
    run from doing it again.
    """

    def __init__(self, latent_dim: int, image_shape: Sequence[int], hidden: Sequence[int],
                 num_classes: int = 0, virtual_batchnorm: bool = False,
                 vbn_reference_size: int = 100, data_init: bool = False):
        super().__init__()
        self.latent_dim = latent_dim
        self.image_shape = tuple(image_shape)
        # class-conditional when num_classes > 0: a label embedding is concatenated to z
        self.embed = nn.Embedding(num_classes, latent_dim) if num_classes else None
        self.virtual_batchnorm = virtual_batchnorm
        self.reference_size = vbn_reference_size if virtual_batchnorm else 0
        if virtual_batchnorm:
            self.register_buffer("ref_z", self.sample_latent(vbn_reference_size))
            if num_classes:
                self.register_buffer("ref_y", torch.randint(0, num_classes, (vbn_reference_size,)))
        layers: list[nn.Module] = []
        d = latent_dim * (2 if num_classes else 1)
        for h in hidden:
            # BN right after the linear makes a bias redundant; the original BN has no gamma
            if virtual_batchnorm:
                bn = VirtualBatchNorm1d(h, vbn_reference_size, learn_scale=False)
            else:
                bn = nn.BatchNorm1d(h, affine=True)
                bn.weight.requires_grad_(False)
            layers += [nn.Linear(d, h, bias=False), bn, nn.Softplus()]
            d = h
        self.body = nn.Sequential(*layers)
        self.out = WNLinear(d, math.prod(self.image_shape), train_scale=True)
        self.wants_data_init = bool(data_init)
        if data_init:
            # only then: the state of a G without it stays that of earlier versions
            self.register_buffer("initialised", torch.tensor(False))

    def sample_latent(self, n: int, device=None) -> Tensor:
        return torch.rand(n, self.latent_dim, device=device)

    def _hidden(self, z: Tensor, y: Optional[Tensor]) -> Tensor:
        if self.virtual_batchnorm:
            # the VBN layers read the reference batch from the leading rows
            z = torch.cat([self.ref_z, z])
            if self.embed is not None and y is not None:
                y = torch.cat([self.ref_y, y])
        if self.embed is not None:
            if y is None:
                raise SSGANError("this generator is class-conditional: pass the labels y")
            z = torch.cat([z, self.embed(y)], 1)
        return self.body(z)[self.reference_size:]

    def forward(self, z: Tensor, y: Optional[Tensor] = None) -> Tensor:
        return torch.sigmoid(self.out(self._hidden(z, y))).view(-1, *self.image_shape)

    @torch.no_grad()
    def data_init(self, z: Tensor, y: Optional[Tensor] = None) -> None:
        """Data-dependent init of the output layer on the generated pre-activations of ``z``
        (zero mean, unit standard deviation per pixel before the sigmoid)."""
        self.out.init_from(self._hidden(z, y))
        if hasattr(self, "initialised"):
            self.initialised.fill_(True)


# Defaults by input size. The 28x28 entry is the improved-gan MNIST setup; the 8x8 entry is
# the same design scaled to 64 inputs.
MLP_PRESETS = {
    "mlp_mnist": dict(d_hidden=[1000, 500, 250, 250, 250], g_hidden=[500, 500],
                      input_noise=0.3, hidden_noise=0.5),
    "mlp_small": dict(d_hidden=[256, 128, 128], g_hidden=[256, 256],
                      input_noise=0.3, hidden_noise=0.5),
    # tuned on digits (8x8, values in [0, 1]): the MNIST noise levels drown 64-pixel images,
    # halving them gained ~4 points of accuracy; a wider first layer gained ~2 more
    # (BENCHMARKS.md, "digits defaults")
    "mlp_digits": dict(d_hidden=[500, 250, 250], g_hidden=[256, 256],
                       input_noise=0.15, hidden_noise=0.3),
}


class MLP(Networks):
    """The MLP networks (see the module docstring), sized by a preset; every size can be
    overridden.

    Args:
        preset: ``mlp_digits`` (8x8 digits: D 500-250-250, noise 0.15/0.3), ``mlp_small``
            (D 256-128-128) or ``mlp_mnist`` (the improved-gan MNIST networks: D
            1000-500-250-250-250, G 500-500, noise 0.3/0.5).
        d_hidden: D's hidden sizes (default: the preset's).
        g_hidden: G's hidden sizes (default: the preset's).
        input_noise: sigma of the Gaussian noise on D's input (default: the preset's).
        hidden_noise: sigma of the noise after D's hidden layers (default: the preset's).
        virtual_batchnorm: virtual batch normalisation in G (Salimans et al. 2016, section
            3.5), with a reference batch drawn once at the start (saved in checkpoints).
        init_std: standard deviation of the initial directions ``v`` of D's weight-normalised
            dense layers. 0.05 as the original conv code; the original MNIST code
            (openai/improved-gan ``train_mnist_feature_matching.py``) uses 0.1. The function at
            init does not depend on it (``w = g v / ||v||``, and the data init sets ``g``), but
            the step size of the directions does: a gradient step changes ``v / ||v||`` by about
            ``lr / ||v||``, so 0.1 halves it.
        g_data_init: data-initialise G's weight-normalised output layer on a batch of generated
            pre-activations before training, as the original MNIST code does (REFERENCE.md,
            "Differences"); off by default.
        **common: the options of :class:`~ssgan.networks.base.Networks` (latent_dim,
            feature_layer, minibatch discrimination).
    """

    def __init__(self, preset: Literal["mlp_digits", "mlp_small", "mlp_mnist"] = "mlp_digits",
                 d_hidden: Optional[list[int]] = None, g_hidden: Optional[list[int]] = None,
                 input_noise: Optional[float] = None, hidden_noise: Optional[float] = None,
                 virtual_batchnorm: bool = False, init_std: float = 0.05,
                 g_data_init: bool = False, **common):
        super().__init__(**common)
        check_positive("model.networks.init_std", init_std)
        if preset not in MLP_PRESETS:
            raise SSGANError(f"unknown MLP preset {preset!r}; choose one of: {', '.join(MLP_PRESETS)}")
        check_positive("model.networks.input_noise", input_noise, allow_zero=True)
        check_positive("model.networks.hidden_noise", hidden_noise, allow_zero=True)
        self.preset = preset
        self.sizes = override(MLP_PRESETS[preset], d_hidden=d_hidden, g_hidden=g_hidden,
                              input_noise=input_noise, hidden_noise=hidden_noise)
        self.virtual_batchnorm = bool(virtual_batchnorm)
        self.init_std, self.g_data_init = float(init_std), bool(g_data_init)

    def name(self, image_shape) -> str:
        return self.preset

    def build(self, image_shape, num_classes, conditional=False):
        image_shape = check_image_shape(image_shape)
        s = self.sizes
        d = MLPDiscriminator(math.prod(image_shape), num_classes, s["d_hidden"], s["input_noise"],
                             s["hidden_noise"], self.feature_layer, minibatch=self.minibatch,
                             init_std=self.init_std)
        g = MLPGenerator(self.latent_dim, image_shape, s["g_hidden"],
                         num_classes if conditional else 0,
                         virtual_batchnorm=self.virtual_batchnorm, data_init=self.g_data_init)
        return d, g
