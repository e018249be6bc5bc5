"""What every source shares: :class:`ImageData`, the registry, option checks and the generic
``image_size`` / ``channels`` conversions.

A source returns an :class:`ImageData` with images as float32 in [0, 1], shaped (N, C, H, W),
and int64 labels. Loading happens once per process; training then only indexes tensors.
Register a new source with :func:`register_source`.

Sources take options through one mechanism, :func:`load_dataset`'s keyword arguments:

* ``image_size`` and ``channels`` apply to every source: images are resized (antialiased
  bilinear, in batches) to ``image_size`` x ``image_size`` and converted between grayscale
  and RGB after loading. A loader that declares them itself (``image_folder``) applies them
  while decoding instead.
* any other option (``svhn_extra``) belongs to the sources whose loader declares it as a
  keyword-only argument; giving it a non-default value for another source is an error.
"""

from __future__ import annotations

import inspect
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ...errors import SSGANError, check_choice, check_positive

#: the label of a training image that has none (an image of a source's own unlabeled pool)
UNLABELED = -1


@dataclass
class ImageData:
    """A loaded dataset.

    ``y_train`` holds :data:`UNLABELED` for training images without a label (the unlabeled
    pool of ``image_folder``'s ``unlabeled/`` and ``npz``'s ``unlabeled.npz``). With
    ``user_labeled`` the labels are the user's labeled set: every labeled image is used by
    default, rather than ``num_labels`` of them picked from a fully labeled benchmark.
    ``train_names`` says where each training image came from (a path relative to the data
    root, or ``unlabeled.npz[i]``), for ``evaluate.py predict --unlabeled`` and ``suggest``.
    An empty ``x_test`` means the source has no test split. ``preprocessing`` records how
    files became these tensors (saved in checkpoints, so that ``predict`` and ``export`` treat
    new images the same way)."""

    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor
    classes: list[str]
    train_names: Optional[list[str]] = None
    user_labeled: bool = False
    preprocessing: dict = field(default_factory=dict)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.x_train.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def has_test(self) -> bool:
        return len(self.x_test) > 0

    @property
    def labeled_mask(self) -> Tensor:
        return self.y_train != UNLABELED


@dataclass(frozen=True)
class Source:
    """A registered dataset: its loader and, when fixed, its image shape and class count
    (known without reading the data, so the model can be built before the data is loaded).
    ``options`` are the keyword-only options its loader accepts, with their defaults."""

    load: Callable[..., ImageData]
    image_shape: Optional[tuple[int, int, int]] = None
    num_classes: Optional[int] = None
    where: str = ""
    options: tuple[tuple[str, object], ...] = ()


SOURCES: dict[str, Source] = {}

#: options every source accepts (applied by :func:`conform` after loading)
GENERIC_OPTIONS = ("image_size", "channels")


def register_source(name: str, *, image_shape=None, num_classes=None, where: str = ""):
    def deco(fn):
        params = inspect.signature(fn).parameters.values()
        options = tuple((p.name, p.default) for p in params if p.kind is p.KEYWORD_ONLY)
        SOURCES[name] = Source(fn, image_shape, num_classes, where, options)
        return fn
    return deco


def get_source(name: str) -> Source:
    check_choice("dataset", name, SOURCES)
    return SOURCES[name]


def one_line(e: object) -> str:
    return " ".join(str(e).split())


def log(message: str) -> None:
    """One line for the user on stderr (stdout may carry a CSV or JSON), from rank 0 only."""
    from pytorch_lightning.utilities.rank_zero import rank_zero_only
    if (getattr(rank_zero_only, "rank", 0) or 0) == 0:
        print(message, file=sys.stderr, flush=True)


def check_options(name: str, options: dict) -> None:
    """Reject options that are unknown, malformed or meaningless for source ``name``."""
    source = get_source(name)
    own = dict(source.options)
    for key, value in options.items():
        if key == "image_size":
            check_positive("data.image_size", value)
        elif key == "channels":
            if value is not None and value not in (1, 3):
                raise SSGANError(f"data.channels must be 1 (grayscale) or 3 (RGB), got {value!r}")
        elif key not in own:
            users = sorted(n for n, s in SOURCES.items() if key in dict(s.options))
            if not users:
                raise SSGANError(f"unknown dataset option {key!r}")
            if value != dict(SOURCES[users[0]].options)[key]:
                raise SSGANError(f"data.{key} applies only to the {', '.join(users)} dataset, "
                                 f"not to {name}")


def source_image_shape(name: str, image_size: Optional[int] = None,
                       channels: Optional[int] = None) -> Optional[tuple[int, int, int]]:
    """The image shape source ``name`` yields under these options, when known without
    reading the data (None for sources such as ``image_folder`` and ``npz``)."""
    shape = get_source(name).image_shape
    if shape is None:
        return None
    c, h, w = shape
    return (channels or c, image_size or h, image_size or w)


def load_dataset(name: str, data_root: str | os.PathLike = "datasets", download: bool = True,
                 **options) -> ImageData:
    """Load source ``name`` from ``data_root`` with ``options`` (see the module docstring)."""
    check_options(name, options)
    source = get_source(name)
    own = dict(source.options)
    kwargs = {k: v for k, v in options.items() if k in own}
    data = source.load(Path(data_root), download=download, **kwargs)
    resized = bool(options.get("image_size")) and \
        tuple(data.x_train.shape[-2:]) != (options["image_size"],) * 2
    data = conform(data, image_size=options.get("image_size"), channels=options.get("channels"))
    _validate(data, name)
    prep = {"scale": 255, "resize": None, **data.preprocessing}
    if resized and prep["resize"] is None:
        prep["resize"] = "torch_bilinear_antialias"
    # with --data.channels, images of other channel counts were converted: predict may too
    data.preprocessing = {**prep, "image_shape": list(data.image_shape),
                          "channels_converted": options.get("channels") is not None}
    return data


def _validate(data: ImageData, name: str) -> None:
    for split, x, y in (("train", data.x_train, data.y_train), ("test", data.x_test, data.y_test)):
        if x.ndim != 4:
            raise SSGANError(f"{name}: {split} images must be (N, C, H, W), got {tuple(x.shape)}")
        if len(x) != len(y):
            raise SSGANError(f"{name}: {len(x)} {split} images but {len(y)} labels")
        labels = y[y != UNLABELED] if split == "train" else y
        if len(labels) and (int(labels.min()) < 0 or int(labels.max()) >= data.num_classes):
            raise SSGANError(f"{name}: {split} labels must lie in 0..{data.num_classes - 1}, "
                             f"found {int(labels.min())}..{int(labels.max())}")
    if data.has_test and data.x_train.shape[1:] != data.x_test.shape[1:]:
        raise SSGANError(f"{name}: train images are {tuple(data.x_train.shape[1:])} but test "
                         f"images are {tuple(data.x_test.shape[1:])}; set --data.image_size and "
                         "--data.channels to bring both to one shape")
    if len(data.x_train) == 0:
        raise SSGANError(f"{name}: the training set is empty")
    if not bool(data.labeled_mask.any()):
        raise SSGANError(f"{name}: no training image has a label")
    if data.train_names is not None and len(data.train_names) != len(data.x_train):
        raise SSGANError(f"{name}: {len(data.train_names)} names for {len(data.x_train)} images")


def as_images(x: np.ndarray | Tensor, scale: float) -> Tensor:
    """uint8-like (N,H,W) or (N,C,H,W) -> float32 (N,C,H,W) in [0, 1]."""
    x = torch.as_tensor(x)
    if x.ndim == 3:
        x = x.unsqueeze(1)
    return x.to(torch.float32).div_(scale).contiguous()


# ---------------------------------------------------------------------------------------------
# Batched tensor conversions (size and channels)

_LUMA = torch.tensor([0.299, 0.587, 0.114])


def convert_images(x: Tensor, image_size: Optional[int] = None, channels: Optional[int] = None,
                   chunk: int = 2048) -> Tensor:
    """Resize float images (N, C, H, W) to ``image_size`` squared (antialiased bilinear) and
    convert 1 <-> 3 channels (replication / ITU-R 601 luma), chunk by chunk, on x's device."""
    c = x.shape[1]
    if channels and c != channels:
        if c == 1 and channels == 3:
            x = x.expand(-1, 3, -1, -1)
        elif c == 3 and channels == 1:
            x = torch.einsum("nchw,c->nhw", x, _LUMA.to(x)).unsqueeze(1)
        else:
            raise SSGANError(f"cannot convert {c}-channel images to {channels} channels; "
                             "only grayscale (1) <-> RGB (3) is supported")
    if image_size and tuple(x.shape[-2:]) != (image_size, image_size):
        out = x.new_empty(len(x), x.shape[1], image_size, image_size)
        for i in range(0, len(x), chunk):
            part = F.interpolate(x[i:i + chunk], size=(image_size, image_size), mode="bilinear",
                                 align_corners=False, antialias=True)
            out[i:i + chunk] = part.clamp_(0, 1)
        x = out
    return x.contiguous()


def conform(data: ImageData, image_size: Optional[int] = None,
            channels: Optional[int] = None) -> ImageData:
    """Apply the generic ``image_size`` / ``channels`` options to loaded data."""
    if not image_size and not channels:
        return data
    return ImageData(convert_images(data.x_train, image_size, channels), data.y_train,
                     convert_images(data.x_test, image_size, channels), data.y_test, data.classes,
                     data.train_names, data.user_labeled, data.preprocessing)
