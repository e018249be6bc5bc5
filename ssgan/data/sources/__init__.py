"""Dataset sources: each turns files on disk (or an embedded set) into in-memory tensors.

One file per format; :mod:`.base` holds what they share (:class:`ImageData`, the registry,
the option checks and the generic ``image_size`` / ``channels`` conversions), :mod:`.cache`
the cache of decoded files and :mod:`.images` the decoding of image files. Importing this
package registers every source, in the order ``--help`` and the README list them.
"""

from . import digits, idx, svhn, cifar10, image_folder, npz  # noqa: F401  (registration)
from .base import (GENERIC_OPTIONS, SOURCES, UNLABELED, ImageData, Source, as_images,
                   check_options, conform, convert_images, get_source, load_dataset, log,
                   one_line, register_source, source_image_shape)
from .cache import CACHE_SUFFIX, CACHE_VERSION, cache_path, cached, user_cache_dir
from .cifar10 import CIFAR_CLASSES, load_cifar10, read_cifar_batch
from .digits import DIGITS_SPLIT_SEED, DIGITS_TEST_FRACTION, load_digits
from .idx import FASHION_CLASSES, FASHION_SYSTEM_DIR, load_fashion_mnist, load_mnist, read_idx
from .image_folder import load_image_folder
from .images import IMAGE_EXTENSIONS, decode_image, find_images, read_header
from .npz import load_npz
from .svhn import load_svhn, read_svhn_mat

__all__ = [
    "GENERIC_OPTIONS", "SOURCES", "UNLABELED", "ImageData", "Source", "as_images",
    "check_options", "conform", "convert_images", "get_source", "load_dataset", "log",
    "one_line", "register_source", "source_image_shape", "CACHE_SUFFIX", "CACHE_VERSION",
    "cache_path", "cached", "user_cache_dir", "CIFAR_CLASSES", "load_cifar10",
    "read_cifar_batch", "DIGITS_SPLIT_SEED", "DIGITS_TEST_FRACTION", "load_digits",
    "FASHION_CLASSES", "FASHION_SYSTEM_DIR", "load_fashion_mnist", "load_mnist", "read_idx",
    "load_image_folder", "IMAGE_EXTENSIONS", "decode_image", "find_images", "read_header",
    "load_npz", "load_svhn", "read_svhn_mat",
]
