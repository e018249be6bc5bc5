"""MNIST-format idx files: Fashion-MNIST and MNIST."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch

from ...errors import SSGANError
from .base import ImageData, as_images, one_line, register_source
from .cache import CACHE_SUFFIX, cached


_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: Path) -> np.ndarray:
    """Read an idx file (optionally .gz), the raw format of MNIST and Fashion-MNIST."""
    opener = gzip.open if str(path).endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as e:
        raise SSGANError(f"cannot read idx file {path}: {one_line(e)}; delete it and download "
                         "it again") from None
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


def _read_idx_pair(pi: Path, pl: Path) -> dict:
    x, y = read_idx(pi), read_idx(pl)
    if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
        raise SSGANError(f"{pi} and {pl} do not hold N images and N labels "
                         f"(shapes {x.shape} and {y.shape})")
    if x.dtype != np.uint8:
        raise SSGANError(f"{pi} holds {x.dtype} pixels; expected uint8 (0-255)")
    return {"x": torch.from_numpy(x.copy()).unsqueeze(1), "y": torch.from_numpy(y.astype(np.int64))}


def _load_idx_set(dirs: Sequence[Path], classes: list[str]) -> Optional[ImageData]:
    """Load train/test idx files from the first of ``dirs`` that has each file."""
    arrays = {}
    for split, (img, lab) in _IDX_FILES.items():
        pi, pl = _find_idx(dirs, img), _find_idx(dirs, lab)
        if pi is None or pl is None:
            return None
        t = cached(pi.parent / (img + CACHE_SUFFIX), [pi, pl], lambda: _read_idx_pair(pi, pl))
        arrays[split] = (as_images(t["x"], 255.0), t["y"])
    return ImageData(*arrays["train"], *arrays["test"], classes)


def _torchvision_download(cls, root: Path, name: str) -> None:
    """Fetch the raw files with torchvision (checksums verified there)."""
    try:
        for train in (True, False):
            cls(str(root), train=train, download=True)
    except Exception as e:  # network errors come in many types
        raise SSGANError(f"could not download {name} into {root}: {one_line(e)}; copy the raw "
                         "files there or check the network") from None


FASHION_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                   "Sneaker", "Bag", "Ankle boot"]


@register_source("fashion_mnist", image_shape=(1, 28, 28), num_classes=10,
                 where="DATA_ROOT/FashionMNIST/raw, DATA_ROOT/fashion-mnist, DATA_ROOT, then "
                       f"{FASHION_SYSTEM_DIR} (apt-get install dataset-fashion-mnist), then "
                       "torchvision's download into DATA_ROOT/FashionMNIST/raw")
def load_fashion_mnist(data_root: Path, download: bool = True) -> ImageData:
    """Fashion-MNIST (Xiao et al. 2017) from its idx files: 60,000 train, 10,000 test, 28x28."""
    dirs = [data_root / "FashionMNIST" / "raw", data_root / "fashion-mnist", data_root,
            FASHION_SYSTEM_DIR]
    data = _load_idx_set(dirs, FASHION_CLASSES)
    if data is None and download:
        from torchvision.datasets import FashionMNIST
        _torchvision_download(FashionMNIST, data_root, "Fashion-MNIST")
        data = _load_idx_set(dirs[:1], FASHION_CLASSES)
    if data is None:
        raise SSGANError(
            "Fashion-MNIST idx files not found in " + ", ".join(map(str, dirs)) +
            "; install them with 'apt-get install dataset-fashion-mnist' or allow the download "
            "(--data.download true)")
    return data


@register_source("mnist", image_shape=(1, 28, 28), num_classes=10,
                 where="DATA_ROOT/MNIST/raw, DATA_ROOT/mnist, DATA_ROOT (the four idx files, "
                       "optionally .gz), then torchvision's download into DATA_ROOT/MNIST/raw")
def load_mnist(data_root: Path, download: bool = True) -> ImageData:
    """MNIST (LeCun et al. 1998) from its idx files: 60,000 train, 10,000 test, 28x28."""
    classes = [str(i) for i in range(10)]
    dirs = [data_root / "MNIST" / "raw", data_root / "mnist", data_root]
    data = _load_idx_set(dirs, classes)
    if data is None and download:
        from torchvision.datasets import MNIST
        _torchvision_download(MNIST, data_root, "MNIST")
        data = _load_idx_set(dirs[:1], classes)
    if data is None:
        raise SSGANError("MNIST idx files (train-images-idx3-ubyte[.gz], ...) not found in " +
                         ", ".join(map(str, dirs)) + "; allow the download (--data.download "
                         "true) or copy them there (no Debian package ships MNIST)")
    return data

