"""ssgan: semi-supervised image classification with GANs (Salimans et al. 2016 and variants)."""

from .data import SSLDataModule
from .errors import SSGANError
from .model import SSGAN
from .supervised import Supervised

__version__ = "0.1.0"
__all__ = ["SSGAN", "SSLDataModule", "SSGANError", "Supervised", "__version__"]
