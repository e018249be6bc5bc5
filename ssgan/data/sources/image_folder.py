"""image_folder: your own images.

    DATA_ROOT/labeled/CLASS/*     the labeled images, one folder per class (or train/CLASS/*)
    DATA_ROOT/unlabeled/**        optional: images without a class, at any depth
    DATA_ROOT/test/CLASS/*        optional: the test split

With ``labeled/`` (or an ``unlabeled/`` folder) the labels are the user's labeled set: every
labeled image is used unless ``--data.num_labels`` subsamples it, and the unlabeled pool is
``unlabeled/`` plus the labeled images. The older ``train/`` layout without ``unlabeled/`` is a
fully labeled set from which ``--data.num_labels`` picks, as for the benchmarks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import torch

from ...errors import SSGANError
from .base import UNLABELED, ImageData, as_images, log, register_source
from .cache import CACHE_SUFFIX, cached
from .images import (GRAY_MODES, IMAGE_EXTENSIONS, choose_size, decode_image, find_images,
                     parallel_map, read_header)

LAYOUT_HINT = ("DIR/labeled/CLASS/*.png (or DIR/train/CLASS/*.png), optionally DIR/unlabeled/** "
               "and DIR/test/CLASS/*.png")
#: how many skipped files the warning names
SHOWN_SKIPPED = 10


def _scan_classes(d: Path, *, required: bool) -> dict[str, list[Path]]:
    """``{class: files}`` of the class folders under ``d`` (sorted). For the labeled split an
    empty class folder is an error; for the test split it is ignored."""
    classes = {}
    for sub in sorted(p for p in d.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = find_images(sub)
        if not files and required:
            raise SSGANError(f"image_folder: class folder {sub} has no images "
                             f"({', '.join(IMAGE_EXTENSIONS)}); add images or remove the folder")
        if files:
            classes[sub.name] = files
    if not classes and required:
        raise SSGANError(f"image_folder: no class folders with images under {d}; expected "
                         f"{LAYOUT_HINT}")
    return classes


def _read(files: list[Path], kinds: list[str], image_size: Optional[int],
          channels: Optional[int], root: Path) -> dict:
    """Decode ``files`` (``kinds``: labeled / unlabeled / test). A broken labeled or test file
    is an error naming it; broken unlabeled files are skipped and listed."""
    keep = np.ones(len(files), dtype=bool)
    skipped: list[str] = []

    def check(results, what):
        for i, r in enumerate(results):
            if isinstance(r, Exception) and keep[i]:
                if kinds[i] != "unlabeled":
                    raise r if isinstance(r, SSGANError) else SSGANError(str(r))
                keep[i] = False
                skipped.append(str(files[i].relative_to(root)))

    headers = parallel_map(read_header, files)
    check(headers, "header")
    notes = []
    good = [h for h, k in zip(headers, keep) if k]
    if channels is None:
        channels = 1 if all(mode in GRAY_MODES for mode, _ in good) else 3
    if image_size is None:
        sizes = sorted({s for _, s in good})
        if len(sizes) > 1:
            image_size = choose_size([s for _, s in good])
            notes.append(f"image_folder: images have mixed sizes ({len(sizes)} sizes, from "
                         f"{sizes[0][0]}x{sizes[0][1]} to {sizes[-1][0]}x{sizes[-1][1]}); "
                         f"resizing all to {image_size}x{image_size} (the median shorter side, "
                         "at most 64); set --data.image_size N to choose")
    size = (image_size, image_size) if image_size else None
    todo = [i for i in range(len(files)) if keep[i]]
    arrays = parallel_map(lambda i: decode_image(files[i], channels, size), todo,
                          desc=f"decoding {len(todo)} images")
    full: list = [None] * len(files)
    for i, a in zip(todo, arrays):
        full[i] = a
    check(full, "decode")
    kept = [full[i] for i in range(len(files)) if keep[i]]
    x = torch.from_numpy(np.stack(kept))
    return {"x": x, "keep": torch.from_numpy(keep), "skipped": skipped, "notes": notes,
            "resize": "pil_bicubic" if size is not None else "none"}


@register_source("image_folder",
                 where="DATA_ROOT/labeled/CLASS/* (or DATA_ROOT/train/CLASS/*), optional "
                       "DATA_ROOT/unlabeled/** (any depth, no class) and DATA_ROOT/test/CLASS/* "
                       "(png, jpg, bmp, gif, tiff, webp, ppm/pgm)")
def load_image_folder(data_root: Path, download: bool = True, *, image_size: Optional[int] = None,
                      channels: Optional[int] = None) -> ImageData:
    """Your own images (see the module docstring). Classes are the labeled folder names,
    sorted. Images are resized to ``image_size`` x ``image_size`` (Pillow bicubic, aspect ratio
    not kept); without it, images of one size keep it and mixed sizes are resized to a size
    chosen and reported here. ``channels`` is 1 or 3; without it, 1 when every image is
    grayscale, else 3."""
    if not data_root.is_dir():
        raise SSGANError(f"image_folder: data root {data_root} does not exist; pass "
                         f"--data.data_root DIR with {LAYOUT_HINT}")
    labeled_dir = next((data_root / n for n in ("labeled", "train") if (data_root / n).is_dir()),
                       None)
    if labeled_dir is None:
        raise SSGANError(f"image_folder: {data_root} has no labeled/ folder (one sub-folder of "
                         f"images per class); expected {LAYOUT_HINT}")
    unlabeled_dir, test_dir = data_root / "unlabeled", data_root / "test"
    labeled = _scan_classes(labeled_dir, required=True)
    classes = sorted(labeled)
    test = _scan_classes(test_dir, required=False) if test_dir.is_dir() else {}
    unknown = sorted(set(test) - set(labeled))
    if unknown:
        raise SSGANError(f"image_folder: test classes {', '.join(unknown)} have no folder (or no "
                         f"images) under {labeled_dir}")
    unlabeled = find_images(unlabeled_dir) if unlabeled_dir.is_dir() else []
    files, labels, kinds = [], [], []
    for kind, folders in (("labeled", labeled), ("test", test)):
        for name, paths in folders.items():
            files += paths
            labels += [classes.index(name)] * len(paths)
            kinds += [kind] * len(paths)
    files += unlabeled
    labels += [UNLABELED] * len(unlabeled)
    kinds += ["unlabeled"] * len(unlabeled)

    key = f"image_folder size={image_size} channels={channels}"
    cache = data_root / (f".image_folder-{image_size or 'native'}-{channels or 'auto'}"
                         + CACHE_SUFFIX)
    t = cached(cache, files, lambda: _read(files, kinds, image_size, channels, data_root),
               base=data_root, key=key)
    for note in t["notes"]:
        log(note)
    if t["skipped"]:
        shown = ", ".join(t["skipped"][:SHOWN_SKIPPED])
        more = f" and {len(t['skipped']) - SHOWN_SKIPPED} more" if len(t["skipped"]) > SHOWN_SKIPPED else ""
        log(f"warning: image_folder: skipped {len(t['skipped'])} unreadable image(s) of the "
            f"unlabeled pool in {data_root}: {shown}{more}")
    keep = t["keep"].numpy()
    kinds_kept = np.asarray(kinds)[keep]
    y = torch.as_tensor(np.asarray(labels, dtype=np.int64)[keep])
    names = np.asarray([str(p.relative_to(data_root)) for p in files], dtype=object)[keep]
    is_test = torch.from_numpy(kinds_kept == "test")
    x = t["x"]
    return ImageData(as_images(x[~is_test], 255.0), y[~is_test], as_images(x[is_test], 255.0),
                     y[is_test], classes, train_names=list(names[~is_test.numpy()]),
                     user_labeled=labeled_dir.name == "labeled" or unlabeled_dir.is_dir(),
                     preprocessing={"resize": t["resize"], "reader": "pillow",
                                    "exif_transpose": True, "alpha": "dropped",
                                    "sixteen_bit": "scaled 0..65535 -> 0..255"})
