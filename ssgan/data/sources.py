"""Dataset sources: each turns files on disk (or an embedded set) into in-memory tensors.

A source returns an :class:`ImageData` with images as float32 in [0, 1], shaped (N, C, H, W),
and int64 labels. Loading happens once per process; training then only indexes tensors.
Register a new source with :func:`register_source`.
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
import torch
from torch import Tensor

from ..errors import SSGANError, check_choice


@dataclass
class ImageData:
    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor
    classes: list[str]

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.x_train.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.classes)


@dataclass(frozen=True)
class Source:
    """A registered dataset: its loader and, when fixed, its image shape and class count
    (known without reading the data, so the model can be built before the data is loaded)."""

    load: Callable[..., ImageData]
    image_shape: Optional[tuple[int, int, int]] = None
    num_classes: Optional[int] = None
    where: str = ""


SOURCES: dict[str, Source] = {}


def register_source(name: str, *, image_shape=None, num_classes=None, where: str = ""):
    def deco(fn):
        SOURCES[name] = Source(fn, image_shape, num_classes, where)
        return fn
    return deco


def get_source(name: str) -> Source:
    check_choice("dataset", name, SOURCES)
    return SOURCES[name]


def load_dataset(name: str, data_root: str | os.PathLike = "datasets", download: bool = True,
                 **options) -> ImageData:
    return get_source(name).load(Path(data_root), download=download, **options)


def _as_images(x: np.ndarray | Tensor, scale: float) -> Tensor:
    """uint8-like (N,H,W) or (N,C,H,W) -> float32 (N,C,H,W) in [0, 1]."""
    x = torch.as_tensor(x)
    if x.ndim == 3:
        x = x.unsqueeze(1)
    return x.to(torch.float32).div_(scale).contiguous()


# ---------------------------------------------------------------------------------------------
# digits: embedded in scikit-learn

DIGITS_TEST_FRACTION = 0.25
DIGITS_SPLIT_SEED = 0


@register_source("digits", image_shape=(1, 8, 8), num_classes=10,
                 where="embedded in scikit-learn (sklearn.datasets.load_digits)")
def load_digits(data_root: Path, download: bool = True) -> ImageData:
    """scikit-learn's 8x8 digits (1,797 images, 16 grey levels) with a fixed stratified
    75/25 train/test split (seed 0), so every run tests on the same 450 images."""
    from sklearn.datasets import load_digits as sk_load_digits
    from sklearn.model_selection import train_test_split

    bunch = sk_load_digits()
    images, y = bunch.images, bunch.target
    idx_train, idx_test = train_test_split(np.arange(len(y)), test_size=DIGITS_TEST_FRACTION,
                                           stratify=y, random_state=DIGITS_SPLIT_SEED)
    x = _as_images(images.astype(np.float32), 16.0)
    y = torch.as_tensor(y, dtype=torch.long)
    return ImageData(x[idx_train], y[idx_train], x[idx_test], y[idx_test],
                     [str(i) for i in range(10)])


# ---------------------------------------------------------------------------------------------
# MNIST-format idx files (Fashion-MNIST, MNIST)

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: Path) -> np.ndarray:
    """Read an idx file (optionally .gz), the raw format of MNIST and Fashion-MNIST."""
    opener = gzip.open if str(path).endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as e:
        raise SSGANError(f"cannot read idx file {path}: {e}") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise SSGANError(f"{path} is not an idx file (bad magic number)")
    ndim = data[3]
    dims = np.frombuffer(data, ">u4", ndim, 4).astype(np.int64)
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    expected = int(np.prod(dims)) * dtype.itemsize
    body = data[4 + 4 * ndim:]
    if len(body) != expected:
        raise SSGANError(f"{path} is truncated or corrupt: header says {tuple(dims)} "
                         f"({expected} bytes), file has {len(body)}")
    return np.frombuffer(body, dtype).reshape(tuple(dims))


_IDX_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
              "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def _find_idx(dirs: Sequence[Path], stem: str) -> Optional[Path]:
    for d in dirs:
        for name in (stem, stem + ".gz"):
            if (d / name).is_file():
                return d / name
    return None


def _load_idx_set(dirs: Sequence[Path], classes: list[str]) -> Optional[ImageData]:
    """Load train/test idx files from the first of ``dirs`` that has each file."""
    arrays = {}
    for split, (img, lab) in _IDX_FILES.items():
        pi, pl = _find_idx(dirs, img), _find_idx(dirs, lab)
        if pi is None or pl is None:
            return None
        x, y = read_idx(pi), read_idx(pl)
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise SSGANError(f"{pi} and {pl} do not hold N images and N labels "
                             f"(shapes {x.shape} and {y.shape})")
        arrays[split] = (_as_images(x, 255.0), torch.as_tensor(y.astype(np.int64)))
    return ImageData(*arrays["train"], *arrays["test"], classes)


def _torchvision_download(cls, root: Path, name: str) -> None:
    """Fetch the raw files with torchvision (checksums verified there)."""
    try:
        for train in (True, False):
            cls(str(root), train=train, download=True)
    except Exception as e:  # network errors come in many types
        raise SSGANError(f"could not download {name} into {root}: {e}") from None


FASHION_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                   "Sneaker", "Bag", "Ankle boot"]


@register_source("fashion_mnist", image_shape=(1, 28, 28), num_classes=10,
                 where="DATA_ROOT/FashionMNIST/raw, DATA_ROOT/fashion-mnist, DATA_ROOT, then "
                       f"{FASHION_SYSTEM_DIR} (apt-get install dataset-fashion-mnist), then "
                       "torchvision's download")
def load_fashion_mnist(data_root: Path, download: bool = True) -> ImageData:
    """Fashion-MNIST (Xiao et al. 2017) from its idx files: 60,000 train, 10,000 test, 28x28."""
    from torchvision.datasets import FashionMNIST

    dirs = [data_root / "FashionMNIST" / "raw", data_root / "fashion-mnist", data_root,
            FASHION_SYSTEM_DIR]
    data = _load_idx_set(dirs, FASHION_CLASSES)
    if data is None and download:
        _torchvision_download(FashionMNIST, data_root, "Fashion-MNIST")
        data = _load_idx_set(dirs[:1], FASHION_CLASSES)
    if data is None:
        raise SSGANError(
            "Fashion-MNIST idx files not found in " + ", ".join(map(str, dirs)) +
            "; install them with 'apt-get install dataset-fashion-mnist' or allow the download")
    return data


@register_source("mnist", image_shape=(1, 28, 28), num_classes=10,
                 where="DATA_ROOT/MNIST/raw, DATA_ROOT/mnist, DATA_ROOT, then torchvision's download")
def load_mnist(data_root: Path, download: bool = True) -> ImageData:
    """MNIST (LeCun et al. 1998) from its idx files: 60,000 train, 10,000 test, 28x28."""
    from torchvision.datasets import MNIST

    classes = [str(i) for i in range(10)]
    dirs = [data_root / "MNIST" / "raw", data_root / "mnist", data_root]
    data = _load_idx_set(dirs, classes)
    if data is None and download:
        _torchvision_download(MNIST, data_root, "MNIST")
        data = _load_idx_set(dirs[:1], classes)
    if data is None:
        raise SSGANError("MNIST idx files not found in " + ", ".join(map(str, dirs)) +
                         "; allow the download (--data.download true) or copy them there")
    return data
