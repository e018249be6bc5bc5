"""The interface between the networks and the rest: :class:`DOutput` (what D returns) and
:class:`Networks`, the component that builds the pair ``(D, G)`` for a dataset.

A ``Networks`` component is chosen on the command line like any other,
``--model.networks MLP --model.networks.preset mlp_mnist``, and owns its options (sizes, noise,
the feature layer, minibatch discrimination, ...). It holds settings only: the model calls
:meth:`Networks.build` once the data module has told it the image shape and the number of
classes, so the networks are created inside the model, in the order of the random draws that
every earlier version used.
"""

from __future__ import annotations

from typing import NamedTuple, Optional, Sequence

from torch import Tensor, nn

from ..errors import SSGANError, check_positive


class DOutput(NamedTuple):
    """What D returns: K class logits (the fake logit is an implicit 0) and the features
    used for feature matching."""

    logits: Tensor
    features: Tensor


class Networks:
    """Base class of the network components: the options every architecture takes.

    Args:
        latent_dim: size of G's input z ~ U[0, 1).
        feature_layer: D's hidden layer whose output is the feature-matching features
            (-1 = the last one, as in the original code).
        minibatch_discrimination: add a minibatch discrimination layer before D's output layer
            (Salimans et al. 2016, section 3.2; :class:`~ssgan.networks.layers.MinibatchDiscrimination`).
        minibatch_kernels: its number B of kernels.
        minibatch_kernel_dim: the dimension C of each kernel.
    """

    def __init__(self, latent_dim: int = 100, feature_layer: int = -1,
                 minibatch_discrimination: bool = False, minibatch_kernels: int = 100,
                 minibatch_kernel_dim: int = 5):
        check_positive("model.networks.latent_dim", latent_dim)
        check_positive("model.networks.minibatch_kernels", minibatch_kernels)
        check_positive("model.networks.minibatch_kernel_dim", minibatch_kernel_dim)
        self.latent_dim, self.feature_layer = int(latent_dim), int(feature_layer)
        self.minibatch = ((int(minibatch_kernels), int(minibatch_kernel_dim))
                          if minibatch_discrimination else None)

    def common_options(self) -> dict:
        """The base options as keyword arguments (for a component that delegates to another)."""
        kernels, dim = self.minibatch or (100, 5)
        return dict(latent_dim=self.latent_dim, feature_layer=self.feature_layer,
                    minibatch_discrimination=self.minibatch is not None,
                    minibatch_kernels=kernels, minibatch_kernel_dim=dim)

    def build(self, image_shape: Sequence[int], num_classes: int,
              conditional: bool = False) -> tuple[nn.Module, nn.Module]:
        """``(discriminator, generator)`` for images of ``image_shape`` (C, H, W); the
        generator is class-conditional when ``conditional``."""
        raise NotImplementedError

    def name(self, image_shape: Sequence[int]) -> str:
        """The preset this component builds for ``image_shape`` (e.g. ``mlp_digits``)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in vars(self).items())})"


def check_image_shape(image_shape: Sequence[int]) -> tuple[int, int, int]:
    if len(image_shape) != 3:
        raise SSGANError(f"image_shape must be (C, H, W), got {tuple(image_shape)}")
    return tuple(int(s) for s in image_shape)


def override(preset: dict, **given: Optional[object]) -> dict:
    """The preset's sizes with every option the user gave (not None) in their place."""
    return {k: (given[k] if given.get(k) is not None else v) for k, v in preset.items()}
