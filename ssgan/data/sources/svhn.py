"""SVHN: the cropped-digits .mat files ("format 2")."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ...errors import SSGANError
from .base import ImageData, as_images, one_line, register_source
from .cache import CACHE_SUFFIX, cached


SVHN_FILES = {"train": "train_32x32.mat", "test": "test_32x32.mat", "extra": "extra_32x32.mat"}


def read_svhn_mat(path: Path) -> dict:
    """One SVHN .mat file -> uint8 (N, 3, 32, 32) images and labels 0..9 (the file's 10 is 0)."""
    from scipy.io import loadmat

    try:
        mat = loadmat(str(path), variable_names=["X", "y"])
    except Exception as e:  # scipy raises several types for bad files
        raise SSGANError(f"cannot read SVHN file {path}: {one_line(e)}; delete it and download "
                         "it again (--data.download true)") from None
    X, y = mat.get("X"), mat.get("y")
    if X is None or y is None:
        raise SSGANError(f"{path} has no 'X' and 'y' arrays; is it an SVHN cropped-digits file?")
    if X.ndim != 4 or X.shape[:3] != (32, 32, 3) or X.dtype != np.uint8:
        raise SSGANError(f"{path}: X must be uint8 shaped (32, 32, 3, N), got {X.dtype} "
                         f"{X.shape}")
    y = np.asarray(y).reshape(-1).astype(np.int64)
    if len(y) != X.shape[3]:
        raise SSGANError(f"{path} holds {X.shape[3]} images but {len(y)} labels")
    if len(y) and (y.min() < 0 or y.max() > 10):
        raise SSGANError(f"{path}: labels must lie in 1..10 (10 = digit 0), found "
                         f"{y.min()}..{y.max()}")
    x = torch.from_numpy(np.ascontiguousarray(X.transpose(3, 2, 0, 1)))
    return {"x": x, "y": torch.from_numpy(y % 10)}


def _download_svhn(root: Path, split: str) -> None:
    from torchvision.datasets import SVHN
    from torchvision.datasets.utils import download_url

    url, filename, md5 = SVHN.split_list[split]
    try:
        download_url(url, str(root), filename, md5)
    except Exception as e:
        raise SSGANError(f"could not download SVHN {filename} into {root}: {one_line(e)}; "
                         "copy the file there or check the network") from None


@register_source("svhn", image_shape=(3, 32, 32), num_classes=10,
                 where="DATA_ROOT/svhn, DATA_ROOT/SVHN, DATA_ROOT (train_32x32.mat, "
                       "test_32x32.mat and, with --data.svhn_extra true, extra_32x32.mat), then "
                       "torchvision's download into DATA_ROOT/svhn")
def load_svhn(data_root: Path, download: bool = True, *, svhn_extra: bool = False) -> ImageData:
    """SVHN cropped digits (Netzer et al. 2011): 73,257 train, 26,032 test, 32x32 RGB;
    ``svhn_extra`` adds the 531,131 'extra' images to the training pool."""
    dirs = [data_root / "svhn", data_root / "SVHN", data_root]
    splits = ["train", "test"] + (["extra"] if svhn_extra else [])
    arrays = {}
    for split in splits:
        filename = SVHN_FILES[split]
        path = next((d / filename for d in dirs if (d / filename).is_file()), None)
        if path is None and download:
            _download_svhn(dirs[0], split)
            path = dirs[0] / filename
        if path is None:
            raise SSGANError(f"SVHN file {filename} not found in {', '.join(map(str, dirs))}; "
                             "allow the download (--data.download true) or copy it there (no "
                             "Debian package ships SVHN)")
        arrays[split] = cached(path.parent / (filename + CACHE_SUFFIX), [path],
                               lambda p=path: read_svhn_mat(p))
    x_train, y_train = arrays["train"]["x"], arrays["train"]["y"]
    if svhn_extra:
        x_train = torch.cat([x_train, arrays["extra"]["x"]])
        y_train = torch.cat([y_train, arrays["extra"]["y"]])
    return ImageData(as_images(x_train, 255.0), y_train, as_images(arrays["test"]["x"], 255.0),
                     arrays["test"]["y"], [str(i) for i in range(10)])

