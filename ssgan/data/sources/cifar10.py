"""CIFAR-10: the python pickles (cifar-10-batches-py)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ...errors import SSGANError
from .base import ImageData, as_images, one_line, register_source
from .cache import CACHE_SUFFIX, cached


CIFAR_DIR = "cifar-10-batches-py"
CIFAR_TRAIN = [f"data_batch_{i}" for i in range(1, 6)]
CIFAR_TEST = "test_batch"
CIFAR_META = "batches.meta"
CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                 "truck"]


def _unpickle(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            obj = pickle.load(f, encoding="latin1")
    except Exception as e:  # unpickling raises many types
        raise SSGANError(f"cannot read CIFAR-10 file {path}: {one_line(e)}; delete it and "
                         "download again (--data.download true)") from None
    if not isinstance(obj, dict):
        raise SSGANError(f"{path} is not a CIFAR-10 batch (expected a dict)")
    # python 2 pickles give str keys under latin1, python 3 ones give bytes
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in obj.items()}


def read_cifar_batch(path: Path) -> tuple[Tensor, Tensor]:
    """One CIFAR-10 batch -> uint8 (N, 3, 32, 32) images and int64 labels."""
    d = _unpickle(path)
    if "data" not in d or "labels" not in d:
        raise SSGANError(f"{path} has no 'data' and 'labels' entries; is it a CIFAR-10 batch?")
    data, labels = np.asarray(d["data"]), np.asarray(d["labels"], dtype=np.int64).reshape(-1)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise SSGANError(f"{path}: 'data' must be uint8 shaped (N, 3072), got {data.dtype} "
                         f"{data.shape}")
    if len(labels) != len(data):
        raise SSGANError(f"{path} holds {len(data)} images but {len(labels)} labels")
    return torch.from_numpy(data.reshape(-1, 3, 32, 32).copy()), torch.from_numpy(labels)


def _read_cifar_dir(d: Path) -> dict:
    parts = [read_cifar_batch(d / name) for name in CIFAR_TRAIN]
    x_test, y_test = read_cifar_batch(d / CIFAR_TEST)
    classes = CIFAR_CLASSES
    if (d / CIFAR_META).is_file():
        names = _unpickle(d / CIFAR_META).get("label_names")
        if names is not None and len(names) == 10:
            classes = [n.decode("latin1") if isinstance(n, bytes) else str(n) for n in names]
    return {"x_train": torch.cat([p[0] for p in parts]), "y_train": torch.cat([p[1] for p in parts]),
            "x_test": x_test, "y_test": y_test, "classes": classes}


@register_source("cifar10", image_shape=(3, 32, 32), num_classes=10,
                 where=f"DATA_ROOT/{CIFAR_DIR}, DATA_ROOT/cifar10/{CIFAR_DIR}, DATA_ROOT/cifar10, "
                       "DATA_ROOT (data_batch_1..5, test_batch, batches.meta: the python "
                       "version), then torchvision's download into DATA_ROOT")
def load_cifar10(data_root: Path, download: bool = True) -> ImageData:
    """CIFAR-10 (Krizhevsky 2009): 50,000 train, 10,000 test, 32x32 RGB."""
    names = CIFAR_TRAIN + [CIFAR_TEST]
    dirs = [data_root / CIFAR_DIR, data_root / "cifar10" / CIFAR_DIR, data_root / "cifar10",
            data_root]
    found = None
    for d in dirs:
        present = [n for n in names if (d / n).is_file()]
        if len(present) == len(names):
            found = d
            break
        if present:
            missing = [n for n in names if n not in present]
            raise SSGANError(f"CIFAR-10 in {d} is incomplete: {', '.join(missing)} missing; "
                             "copy the whole cifar-10-batches-py folder or allow the download")
    if found is None and download:
        from torchvision.datasets import CIFAR10
        from torchvision.datasets.utils import download_and_extract_archive
        try:
            download_and_extract_archive(CIFAR10.url, str(data_root), filename=CIFAR10.filename,
                                         md5=CIFAR10.tgz_md5)
        except Exception as e:
            raise SSGANError(f"could not download CIFAR-10 into {data_root}: {one_line(e)}; "
                             "copy cifar-10-batches-py there or check the network") from None
        found = dirs[0]
    if found is None:
        raise SSGANError("CIFAR-10 python batches (data_batch_1..5, test_batch) not found in " +
                         ", ".join(map(str, dirs)) + "; allow the download (--data.download "
                         "true) or extract cifar-10-python.tar.gz there (no Debian package "
                         "ships CIFAR-10)")
    raw = [found / n for n in names] + ([found / CIFAR_META] if (found / CIFAR_META).is_file() else [])
    t = cached(found / ("cifar10" + CACHE_SUFFIX), raw, lambda: _read_cifar_dir(found))
    return ImageData(as_images(t["x_train"], 255.0), t["y_train"],
                     as_images(t["x_test"], 255.0), t["y_test"], list(t["classes"]))

