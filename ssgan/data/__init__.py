"""Data: dataset sources (files -> tensors) and the semi-supervised DataModule."""

from .module import SSLDataModule, select_labeled
from .sources import SOURCES, ImageData, load_dataset, register_source

__all__ = ["SSLDataModule", "select_labeled", "SOURCES", "ImageData", "load_dataset",
           "register_source"]
