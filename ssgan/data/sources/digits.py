"""digits: scikit-learn's embedded 8x8 digits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .base import ImageData, as_images, register_source


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
    x = as_images(images.astype(np.float32), 16.0)
    y = torch.as_tensor(y, dtype=torch.long)
    # pixels are 0..16: a file for predict/export holds those values, scaled by 16
    return ImageData(x[idx_train], y[idx_train], x[idx_test], y[idx_test],
                     [str(i) for i in range(10)], preprocessing={"scale": 16})

