"""Convolutional D and G for 32x32 colour images (improved-gan CIFAR-10/SVHN design).

Architectures register themselves in :data:`ssgan.networks.NETWORKS`."""
