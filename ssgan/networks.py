"""Networks: the K-logit classifier-discriminator D and the generator G.

The MLPs follow the MNIST setup of Salimans et al. 2016 (openai/improved-gan,
``train_mnist_feature_matching.py``):

* D: Gaussian noise (sigma 0.3) on the input, weight-normalised dense ReLU layers with
  Gaussian noise (sigma 0.5) after each, and a weight-normalised K-way output layer. Hidden
  layers keep their data-dependent scale fixed (``train_scale=False`` in the original); the
  output layer learns it.
* G: z ~ U[0, 1)^100 -> dense softplus + batch norm (shift only) -> ... -> weight-normalised
  dense sigmoid output.

Two Improved-GAN techniques are options of these networks (see :mod:`ssgan.techniques`):
minibatch discrimination before D's output layer, and virtual batch normalisation in place of
G's batch norm.

``build_networks`` picks the architecture from the image shape; every size can be overridden.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, NamedTuple, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .errors import SSGANError
from .techniques import MinibatchDiscrimination, VirtualBatchNorm1d


class DOutput(NamedTuple):
    """What D returns: K class logits (the fake logit is an implicit 0) and the features
    used for feature matching."""

    logits: Tensor
    features: Tensor


class GaussianNoise(nn.Module):
    """Additive N(0, sigma^2) noise, active only in training mode."""

    def __init__(self, sigma: float):
        super().__init__()
        self.sigma = sigma

    def forward(self, x: Tensor) -> Tensor:
        if self.training and self.sigma > 0:
            return torch.add(x, torch.randn_like(x), alpha=self.sigma)  # one fused op
        return x

    def extra_repr(self) -> str:
        return f"sigma={self.sigma}"


def init_weight_norm(module: nn.Module, weight_shape: Sequence[int], out_features: int,
                     train_scale: bool) -> None:
    """The weight-norm tensors of the original code: direction ``v ~ N(0, 0.05^2)``, scale
    ``g = 1`` (a trained parameter only with ``train_scale``, else a buffer set by the data
    init) and bias ``b = 0``."""
    module.v = nn.Parameter(torch.randn(*weight_shape) * 0.05)
    g = torch.ones(out_features)
    if train_scale:
        module.g = nn.Parameter(g)
    else:
        module.register_buffer("g", g)
    module.b = nn.Parameter(torch.zeros(out_features))


class WNLinear(nn.Module):
    """Weight-normalised dense layer ``y = (x @ v.T) * g / ||v|| + b`` (Salimans & Kingma 2016).

    The scale is applied to the output instead of the weight: for a batch smaller than the
    fan-in that is fewer flops and the same function. ``init_from`` performs the
    data-dependent initialisation of the original code: pre-activations get zero mean and
    ``init_scale`` standard deviation on a batch of real data.
    """

    def __init__(self, in_features: int, out_features: int, *, train_scale: bool = False,
                 init_scale: float = 1.0):
        super().__init__()
        init_weight_norm(self, (out_features, in_features), out_features, train_scale)
        self.init_scale = init_scale

    def _scale(self) -> Tensor:
        # vector_norm reads v once; (v * v).sum(1) materialised a copy of v every forward
        return self.g / torch.linalg.vector_norm(self.v, dim=1)

    def forward(self, x: Tensor) -> Tensor:
        return torch.addcmul(self.b, F.linear(x, self.v), self._scale())

    @torch.no_grad()
    def init_from(self, x: Tensor) -> None:
        t = F.linear(x, self.v) / torch.linalg.vector_norm(self.v, dim=1)
        g = self.init_scale / (t.std(0) + 1e-6)
        self.g.copy_(g)
        self.b.copy_(-t.mean(0) * g)

    def extra_repr(self) -> str:
        return f"{self.v.shape[1]}, {self.v.shape[0]}, train_scale={isinstance(self.g, nn.Parameter)}"


class MLPDiscriminator(nn.Module):
    """Improved-GAN MNIST discriminator, sizes configurable.

    ``feature_layer`` indexes the hidden layers (-1 = the last one, as in the original) whose
    ReLU output, before its noise, is returned as the matching features.

    ``minibatch=(B, C)`` inserts a :class:`~ssgan.techniques.MinibatchDiscrimination` layer
    between the last hidden layer and the output layer (where the original CIFAR code puts it).
    D's output for an image then depends on the rest of its batch: ``couples_batch`` tells the
    training step to keep labeled, unlabeled and generated images in separate batches.
    """

    #: data-dependent init runs minibatch discrimination on chunks of this many images, the
    #: default training batch size, so the output layer is scaled for batches of that size
    INIT_CHUNK = 100

    def __init__(self, in_features: int, num_classes: int, hidden: Sequence[int],
                 input_noise: float = 0.3, hidden_noise: float = 0.5, feature_layer: int = -1,
                 minibatch: Optional[tuple[int, int]] = None):
        super().__init__()
        if not hidden:
            raise SSGANError("the discriminator needs at least one hidden layer")
        self.input_noise = GaussianNoise(input_noise)
        dims = [in_features, *hidden]
        self.hidden = nn.ModuleList(WNLinear(a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.noise = GaussianNoise(hidden_noise)
        self.minibatch = (MinibatchDiscrimination(hidden[-1], *minibatch)
                          if minibatch is not None else None)
        self.couples_batch = self.minibatch is not None
        out_in = self.minibatch.out_features if self.minibatch is not None else hidden[-1]
        self.out = WNLinear(out_in, num_classes, train_scale=True)
        n = len(hidden)
        if not -n <= feature_layer < n:
            raise SSGANError(f"feature_layer must index one of the {n} hidden layers (-{n}..{n - 1}), "
                             f"got {feature_layer}")
        self.feature_layer = feature_layer % n
        self.feature_dim = hidden[self.feature_layer]
        self.register_buffer("initialised", torch.tensor(False))

    def forward(self, x: Tensor) -> DOutput:
        h = self.input_noise(x.flatten(1))
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
        h = self.input_noise(x.flatten(1))
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
    :class:`~ssgan.techniques.VirtualBatchNorm1d`. The reference batch (latents, and classes
    for a conditional G) is drawn once, here, from the seeded RNG and kept in buffers, so it
    is saved in checkpoints; every call runs it through the network ahead of the real batch.
    """

    def __init__(self, latent_dim: int, image_shape: Sequence[int], hidden: Sequence[int],
                 num_classes: int = 0, virtual_batchnorm: bool = False,
                 vbn_reference_size: int = 100):
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

    def sample_latent(self, n: int, device=None) -> Tensor:
        return torch.rand(n, self.latent_dim, device=device)

    def forward(self, z: Tensor, y: Optional[Tensor] = None) -> Tensor:
        if self.virtual_batchnorm:
            # the VBN layers read the reference batch from the leading rows
            z = torch.cat([self.ref_z, z])
            if self.embed is not None and y is not None:
                y = torch.cat([self.ref_y, y])
        if self.embed is not None:
            if y is None:
                raise SSGANError("this generator is class-conditional: pass the labels y")
            z = torch.cat([z, self.embed(y)], 1)
        h = self.body(z)[self.reference_size:]
        return torch.sigmoid(self.out(h)).view(-1, *self.image_shape)


@dataclass
class NetworkConfig:
    """Sizes of the MLP networks (``None`` fields are filled from the image shape) and the
    network-level Improved-GAN techniques: ``minibatch=(B, C)`` adds minibatch discrimination
    to D, ``virtual_batchnorm`` puts virtual batch norm in G. A builder that cannot honour
    a technique leaves it out; the model checks and reports it."""

    d_hidden: Optional[list[int]] = None
    g_hidden: Optional[list[int]] = None
    input_noise: Optional[float] = None
    hidden_noise: Optional[float] = None
    minibatch: Optional[tuple[int, int]] = None
    virtual_batchnorm: bool = False


# Defaults by input size. The 28x28 entry is the improved-gan MNIST setup; the 8x8 entry is
# the same design scaled to 64 inputs.
_MLP_PRESETS = {
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

#: name -> builder(image_shape, num_classes, *, latent_dim, feature_layer, conditional, config)
#: returning ``(discriminator, generator)``. Other modules register more architectures.
NETWORKS: dict[str, Callable[..., tuple[nn.Module, nn.Module]]] = {}


def register_network(name: str):
    def deco(fn):
        NETWORKS[name] = fn
        return fn
    return deco


def _mlp_builder(preset: str):
    def build(image_shape, num_classes, *, latent_dim=100, feature_layer=-1, conditional=False,
              config: Optional[NetworkConfig] = None):
        config = config or NetworkConfig()
        sizes = dict(_MLP_PRESETS[preset])
        for key in sizes:
            value = getattr(config, key)
            if value is not None:
                sizes[key] = value
        d = MLPDiscriminator(math.prod(image_shape), num_classes, sizes["d_hidden"],
                             sizes["input_noise"], sizes["hidden_noise"], feature_layer,
                             minibatch=config.minibatch)
        g = MLPGenerator(latent_dim, image_shape, sizes["g_hidden"],
                         num_classes if conditional else 0,
                         virtual_batchnorm=config.virtual_batchnorm)
        return d, g
    return build


for _name in _MLP_PRESETS:
    register_network(_name)(_mlp_builder(_name))


def resolve_network(network: str, image_shape: Sequence[int]) -> str:
    """Pick the architecture for an image shape when ``network='auto'``."""
    if network != "auto" and network not in NETWORKS:
        raise SSGANError(f"unknown network {network!r}; choose one of: auto, {', '.join(NETWORKS)}")
    if network != "auto":
        return network
    pixels = math.prod(image_shape[-2:])
    channels = image_shape[0] if len(image_shape) == 3 else 1
    # colour, or 32x32 and larger: the improved-gan CIFAR conv networks (ssgan.conv_networks)
    if ((channels > 1 or pixels >= 32 * 32) and min(image_shape[-2:]) >= 16
            and "conv_cifar" in NETWORKS):
        return "conv_cifar"
    return "mlp_digits" if pixels <= 16 * 16 else "mlp_mnist"


def build_networks(image_shape: Sequence[int], num_classes: int, *, network: str = "auto",
                   latent_dim: int = 100, feature_layer: int = -1, conditional: bool = False,
                   config: Optional[NetworkConfig] = None) -> tuple[nn.Module, nn.Module]:
    """Return ``(discriminator, generator)`` for images of ``image_shape`` (C, H, W)."""
    if len(image_shape) != 3:
        raise SSGANError(f"image_shape must be (C, H, W), got {tuple(image_shape)}")
    name = resolve_network(network, image_shape)
    return NETWORKS[name](tuple(image_shape), num_classes, latent_dim=latent_dim,
                          feature_layer=feature_layer, conditional=conditional, config=config)
