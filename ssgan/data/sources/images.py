"""Image files -> uint8 arrays, with Pillow: shared by the ``image_folder`` source and
``evaluate.py predict``.

* EXIF orientation is applied (``ImageOps.exif_transpose``): a phone photo stands as shown.
* 16-bit images (modes ``I;16*`` and ``I``, e.g. 16-bit PNG) scale 0..65535 to 0..255; Pillow's
  own ``convert("L")`` would clip them at 255 instead.
* Palette, RGBA and LA images convert to RGB / L; the alpha channel is dropped.
* Decoding runs in a thread pool (Pillow releases the GIL while decoding) with a progress bar.
"""

from __future__ import annotations

import os
import statistics
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from ...errors import SSGANError
from .base import one_line

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm",
                    ".pgm", ".pbm")
GRAY_MODES = {"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
_SIXTEEN_BIT = {"I", "I;16", "I;16B", "I;16L", "I;16N"}
# EXIF orientations that swap width and height
_TRANSPOSED = {5, 6, 7, 8}
#: largest side chosen automatically for images of mixed sizes (see :func:`choose_size`)
AUTO_SIZE_MAX = 64


def is_image_file(p: Path) -> bool:
    return p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".") and p.is_file()


def find_images(folder: Path) -> list[Path]:
    """Image files under ``folder`` at any depth, sorted; hidden files and folders skipped."""
    return sorted(p for p in folder.rglob("*") if is_image_file(p)
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def image_error(path: Path, e: Exception) -> SSGANError:
    return SSGANError(f"cannot read image {path}: {one_line(e) or type(e).__name__}; delete or "
                      "replace the file")


def read_header(path: Path) -> tuple[str, tuple[int, int]]:
    """``(mode, (width, height))`` as the image will stand after its EXIF rotation."""
    from PIL import Image
    try:
        with Image.open(path) as im:
            w, h = im.size
            orientation = im.getexif().get(0x0112)
            return im.mode, ((h, w) if orientation in _TRANSPOSED else (w, h))
    except Exception as e:  # PIL raises OSError, ValueError, SyntaxError, ...
        raise image_error(path, e) from None


def _to_8bit(im):
    from PIL import Image
    if im.mode in _SIXTEEN_BIT:
        a = np.asarray(im).astype(np.float64)
        return Image.fromarray(np.clip(np.round(a * (255 / 65535)), 0, 255).astype(np.uint8), "L")
    if im.mode == "F":
        a = np.asarray(im).astype(np.float64)
        return Image.fromarray(np.clip(np.round(a), 0, 255).astype(np.uint8), "L")
    if im.mode in ("P", "PA"):
        return im.convert("RGBA")
    return im


def decode_image(path: Path, channels: int, size: Optional[tuple[int, int]] = None) -> np.ndarray:
    """One image file -> uint8 (C, H, W): EXIF rotation applied, 8 bits, ``channels`` (1 = L,
    3 = RGB) and, with ``size`` = (width, height), resized with Pillow's bicubic filter."""
    from PIL import Image, ImageOps
    try:
        with Image.open(path) as im:
            im = _to_8bit(ImageOps.exif_transpose(im))
            mode = "L" if channels == 1 else "RGB"
            if im.mode != mode:
                im = im.convert(mode)
            if size is not None and im.size != tuple(size):
                im = im.resize(tuple(size), Image.Resampling.BICUBIC)
            a = np.array(im, dtype=np.uint8)  # a writable copy
    except Exception as e:
        raise image_error(path, e) from None
    return a[None] if a.ndim == 2 else a.transpose(2, 0, 1)


def parallel_map(fn: Callable, items: Sequence, *, desc: Optional[str] = None,
                 workers: Optional[int] = None) -> list:
    """``[fn(x) for x in items]`` in a thread pool; with ``desc``, a progress bar on stderr.
    An exception is returned in place of its result (the caller decides what is fatal)."""
    def safe(x):
        try:
            return fn(x)
        except Exception as e:  # handed back: an unlabeled file may just be skipped
            return e

    workers = workers or max(1, min(8, os.cpu_count() or 1))
    with ThreadPoolExecutor(workers) as pool:
        results = pool.map(safe, items)
        if desc is not None and len(items) > 1:
            from tqdm.auto import tqdm
            results = tqdm(results, total=len(items), desc=desc, unit="img", leave=False,
                           dynamic_ncols=True)
        return list(results)


def choose_size(sizes: Sequence[tuple[int, int]]) -> int:
    """The square side for images of mixed sizes: the median shorter side, rounded down to a
    multiple of 4 and capped at :data:`AUTO_SIZE_MAX` (the networks here are built for small
    images; a larger side costs memory and time for little gain)."""
    median = statistics.median_low([min(s) for s in sizes])
    return max(4, min(AUTO_SIZE_MAX, median - median % 4))
