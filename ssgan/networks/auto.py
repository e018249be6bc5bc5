"""The default network component: the architecture picked from the image shape."""

from __future__ import annotations


from ..errors import SSGANError
from .base import Networks, check_image_shape
from .conv import Conv
from .mlp import MLP


class Auto(Networks):
    """Picks the networks from the image shape: colour images, or 32x32 and larger, get the
    improved-gan CIFAR conv networks (:class:`~ssgan.networks.conv.Conv`, ``conv_cifar``);
    other images up to 16x16 the ``mlp_digits`` MLP, larger ones the ``mlp_mnist`` MLP
    (:class:`~ssgan.networks.mlp.MLP`). Choose ``--model.networks MLP`` or ``Conv`` to size
    them yourself.

    Args:
        virtual_batchnorm: virtual batch normalisation in G (MLP networks only).
        **common: the options of :class:`~ssgan.networks.base.Networks`.
    """

    def __init__(self, virtual_batchnorm: bool = False, **common):
        super().__init__(**common)
        self.virtual_batchnorm = bool(virtual_batchnorm)

    def name(self, image_shape) -> str:
        c, h, w = check_image_shape(image_shape)
        if (c > 1 or h * w >= 32 * 32) and min(h, w) >= 16:
            return "conv_cifar"
        return "mlp_digits" if h * w <= 16 * 16 else "mlp_mnist"

    def resolve(self, image_shape) -> Networks:
        """The concrete component for ``image_shape``, with this one's options."""
        name = self.name(image_shape)
        if name.startswith("conv"):
            if self.virtual_batchnorm:
                raise SSGANError(f"network {name!r} has no virtual batch norm; use an MLP network "
                                 "(--model.networks MLP) or turn virtual_batchnorm off")
            return Conv(name, **self.common_options())
        return MLP(name, virtual_batchnorm=self.virtual_batchnorm, **self.common_options())

    def build(self, image_shape, num_classes, conditional=False):
        return self.resolve(image_shape).build(image_shape, num_classes, conditional)


__all__ = ["Auto"]
