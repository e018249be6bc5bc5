"""npz: arrays you prepared.

    DATA_ROOT/train.npz       x: uint8 (N, H, W) or (N, H, W, C), y: int (N,)   the labeled images
    DATA_ROOT/unlabeled.npz   optional: x only                                   the unlabeled pool
    DATA_ROOT/test.npz        optional: x and y                                  the test split

With ``unlabeled.npz`` the labels of ``train.npz`` are the user's labeled set (every image used
unless ``--data.num_labels`` subsamples it); without it ``train.npz`` is a fully labeled set
from which ``--data.num_labels`` picks, as for the benchmarks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import torch

from ...errors import SSGANError
from .base import UNLABELED, ImageData, as_images, one_line, register_source

HOW = "numpy.savez(path, x=images, y=labels)"


def _read_npz(path: Path, *, labels: bool = True) -> tuple[np.ndarray, Optional[np.ndarray]]:
    need = {"x", "y"} if labels else {"x"}
    try:
        with np.load(path, allow_pickle=False) as f:
            keys = set(f.files)
            if not need <= keys:
                raise SSGANError(f"{path} must hold array(s) {' and '.join(sorted(need))}, "
                                 f"found: {', '.join(sorted(keys)) or 'none'}")
            x = f["x"]
            y = f["y"] if labels else None
    except SSGANError:
        raise
    except Exception as e:  # zipfile/numpy raise several types
        raise SSGANError(f"cannot read {path}: {one_line(e)}; write it with {HOW}") from None
    if x.dtype != np.uint8:
        raise SSGANError(f"{path}: x must be uint8 (0-255), got {x.dtype}; convert with "
                         "(x * 255).round().astype(numpy.uint8) if it is in [0, 1]")
    if x.ndim == 4 and x.shape[-1] not in (1, 3):
        raise SSGANError(f"{path}: x is {x.shape}; expected (N, H, W) or channels-last "
                         "(N, H, W, C) with C = 1 or 3")
    if x.ndim not in (3, 4):
        raise SSGANError(f"{path}: x is {x.shape}; expected (N, H, W) or (N, H, W, C)")
    if y is not None:
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer) or len(y) != len(x):
            raise SSGANError(f"{path}: y must be {len(x)} integer labels (one per image), got "
                             f"{y.dtype} {y.shape}")
        y = y.astype(np.int64)
    x = x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(x), y


@register_source("npz", where="DATA_ROOT/train.npz (x: uint8 (N,H,W) or (N,H,W,C), y: int (N,)), "
                              "optional DATA_ROOT/unlabeled.npz (x only) and DATA_ROOT/test.npz "
                              "(x and y)")
def load_npz(data_root: Path, download: bool = True, *,
             image_size: Optional[int] = None) -> ImageData:
    """Arrays you prepared (see the module docstring). Classes are the distinct train labels,
    sorted (named by their values)."""
    train = data_root / "train.npz"
    if not train.is_file():
        raise SSGANError(f"npz: {train} not found; --data.data_root must hold train.npz (and "
                         f"optionally unlabeled.npz and test.npz) written with {HOW}")
    x_tr, y_tr = _read_npz(train)
    parts = {"train": x_tr}
    x_un = None
    if (data_root / "unlabeled.npz").is_file():
        x_un, _ = _read_npz(data_root / "unlabeled.npz", labels=False)
        parts["unlabeled"] = x_un
    x_te, y_te = (_read_npz(data_root / "test.npz") if (data_root / "test.npz").is_file()
                  else (np.zeros((0, *x_tr.shape[1:]), np.uint8), np.zeros(0, np.int64)))
    if len(x_te):
        parts["test"] = x_te
    shapes = {k: v.shape[1:] for k, v in parts.items()}
    if len(set(shapes.values())) > 1 and image_size is None:
        desc = " but ".join(f"{k}.npz images are {s}" for k, s in shapes.items())
        raise SSGANError(f"npz: {desc} (C,H,W); use one shape or set --data.image_size and "
                         "--data.channels")
    values = np.unique(y_tr)
    unknown = np.setdiff1d(np.unique(y_te), values)
    if len(unknown):
        raise SSGANError(f"npz: test.npz has labels {unknown[:5].tolist()} that train.npz lacks")
    y_tr, y_te = np.searchsorted(values, y_tr), np.searchsorted(values, y_te)
    x_train, y_train = as_images(x_tr, 255.0), torch.from_numpy(y_tr)
    names = None
    if x_un is not None:
        x_u = as_images(x_un, 255.0)
        if x_u.shape[1:] != x_train.shape[1:]:
            # brought to one shape here so that the two can be stacked; image_size is set
            from .base import convert_images
            x_u = convert_images(x_u, image_size, x_train.shape[1] if x_u.shape[1] != x_train.shape[1] else None)
            x_train = convert_images(x_train, image_size)
        x_train = torch.cat([x_train, x_u])
        y_train = torch.cat([y_train, torch.full((len(x_u),), UNLABELED, dtype=torch.long)])
        names = [f"train.npz[{i}]" for i in range(len(y_tr))] + \
                [f"unlabeled.npz[{i}]" for i in range(len(x_un))]
    return ImageData(x_train, y_train, as_images(x_te, 255.0), torch.from_numpy(y_te),
                     [str(v) for v in values], train_names=names, user_labeled=x_un is not None)
