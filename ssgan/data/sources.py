"""Dataset sources: each turns files on disk (or an embedded set) into in-memory tensors.

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

Raw formats (idx, SVHN's ``.mat``, CIFAR-10's pickles, image folders) are decoded once and
cached as uint8 tensors in a ``*.ssgan-cache.pt`` file next to the raw files; the cache
records each raw file's name, size and modification time and is rebuilt when they change.
When the folder is not writable the cache is skipped.
"""

from __future__ import annotations

import gzip
import inspect
import os
import pickle
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import SSGANError, check_choice, check_positive


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


def _one_line(e: object) -> str:
    return " ".join(str(e).split())


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
    data = conform(data, image_size=options.get("image_size"), channels=options.get("channels"))
    _validate(data, name)
    return data


def _validate(data: ImageData, name: str) -> None:
    for split, x, y in (("train", data.x_train, data.y_train), ("test", data.x_test, data.y_test)):
        if x.ndim != 4:
            raise SSGANError(f"{name}: {split} images must be (N, C, H, W), got {tuple(x.shape)}")
        if len(x) != len(y):
            raise SSGANError(f"{name}: {len(x)} {split} images but {len(y)} labels")
        if len(y) and (int(y.min()) < 0 or int(y.max()) >= data.num_classes):
            raise SSGANError(f"{name}: {split} labels must lie in 0..{data.num_classes - 1}, "
                             f"found {int(y.min())}..{int(y.max())}")
    if data.x_train.shape[1:] != data.x_test.shape[1:]:
        raise SSGANError(f"{name}: train images are {tuple(data.x_train.shape[1:])} but test "
                         f"images are {tuple(data.x_test.shape[1:])}; set --data.image_size and "
                         "--data.channels to bring both to one shape")
    if len(data.x_train) == 0:
        raise SSGANError(f"{name}: the training set is empty")


def _as_images(x: np.ndarray | Tensor, scale: float) -> Tensor:
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
                     convert_images(data.x_test, image_size, channels), data.y_test, data.classes)


# ---------------------------------------------------------------------------------------------
# Cache of decoded raw files

CACHE_SUFFIX = ".ssgan-cache.pt"
CACHE_VERSION = 1


def _signature(paths: Sequence[Path], base: Optional[Path] = None) -> list:
    sig = []
    for p in paths:
        st = p.stat()
        name = str(p.relative_to(base)) if base is not None else p.name
        sig.append([name, int(st.st_size), int(st.st_mtime_ns)])
    return sig


def cached(cache: Path, raw: Sequence[Path], build: Callable[[], dict], *,
           base: Optional[Path] = None, key: str = "") -> dict:
    """Return ``build()`` (a dict of tensors and plain values), from ``cache`` when it was
    written from the same raw files (names, sizes, mtimes) and ``key``; otherwise build and
    try to write the cache (silently skipped when the folder is read-only)."""
    sig = [CACHE_VERSION, key, _signature(raw, base)]
    if cache.is_file():
        try:
            obj = torch.load(cache, map_location="cpu", weights_only=True)
            if obj.get("signature") == sig:
                return obj["data"]
        except Exception:  # a stale or damaged cache is rebuilt
            pass
    data = build()
    try:
        fd, tmp = tempfile.mkstemp(dir=cache.parent, prefix=cache.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                torch.save({"signature": sig, "data": data}, f)
            os.replace(tmp, cache)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError:
        pass
    return data


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
        raise SSGANError(f"cannot read idx file {path}: {_one_line(e)}; delete it and download "
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
        arrays[split] = (_as_images(t["x"], 255.0), t["y"])
    return ImageData(*arrays["train"], *arrays["test"], classes)


def _torchvision_download(cls, root: Path, name: str) -> None:
    """Fetch the raw files with torchvision (checksums verified there)."""
    try:
        for train in (True, False):
            cls(str(root), train=train, download=True)
    except Exception as e:  # network errors come in many types
        raise SSGANError(f"could not download {name} into {root}: {_one_line(e)}; copy the raw "
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


# ---------------------------------------------------------------------------------------------
# SVHN: the cropped-digits .mat files ("format 2")

SVHN_FILES = {"train": "train_32x32.mat", "test": "test_32x32.mat", "extra": "extra_32x32.mat"}


def read_svhn_mat(path: Path) -> dict:
    """One SVHN .mat file -> uint8 (N, 3, 32, 32) images and labels 0..9 (the file's 10 is 0)."""
    from scipy.io import loadmat

    try:
        mat = loadmat(str(path), variable_names=["X", "y"])
    except Exception as e:  # scipy raises several types for bad files
        raise SSGANError(f"cannot read SVHN file {path}: {_one_line(e)}; delete it and download "
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
        raise SSGANError(f"could not download SVHN {filename} into {root}: {_one_line(e)}; "
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
    return ImageData(_as_images(x_train, 255.0), y_train, _as_images(arrays["test"]["x"], 255.0),
                     arrays["test"]["y"], [str(i) for i in range(10)])


# ---------------------------------------------------------------------------------------------
# CIFAR-10: the python pickles (cifar-10-batches-py)

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
        raise SSGANError(f"cannot read CIFAR-10 file {path}: {_one_line(e)}; delete it and "
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
            raise SSGANError(f"could not download CIFAR-10 into {data_root}: {_one_line(e)}; "
                             "copy cifar-10-batches-py there or check the network") from None
        found = dirs[0]
    if found is None:
        raise SSGANError("CIFAR-10 python batches (data_batch_1..5, test_batch) not found in " +
                         ", ".join(map(str, dirs)) + "; allow the download (--data.download "
                         "true) or extract cifar-10-python.tar.gz there (no Debian package "
                         "ships CIFAR-10)")
    raw = [found / n for n in names] + ([found / CIFAR_META] if (found / CIFAR_META).is_file() else [])
    t = cached(found / ("cifar10" + CACHE_SUFFIX), raw, lambda: _read_cifar_dir(found))
    return ImageData(_as_images(t["x_train"], 255.0), t["y_train"],
                     _as_images(t["x_test"], 255.0), t["y_test"], list(t["classes"]))


# ---------------------------------------------------------------------------------------------
# image_folder: DATA_ROOT/{train,test}/CLASS/IMAGE (torchvision's ImageFolder layout)

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm",
                    ".pgm", ".pbm")
_GRAY_MODES = {"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
_LAYOUT_HINT = "DIR/train/CLASS/*.png and DIR/test/CLASS/*.png (torchvision's ImageFolder layout)"


def _scan_split(d: Path) -> dict[str, list[Path]]:
    if not d.is_dir():
        raise SSGANError(f"image_folder: {d} is not a folder; --data.data_root must hold "
                         f"{_LAYOUT_HINT}")
    classes = {}
    for sub in sorted(p for p in d.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = sorted(p for p in sub.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS
                       and p.is_file() and not p.name.startswith("."))
        if files:
            classes[sub.name] = files
    if not classes:
        raise SSGANError(f"image_folder: no images ({', '.join(IMAGE_EXTENSIONS)}) in class "
                         f"folders under {d}; expected {_LAYOUT_HINT}")
    return classes


def _image_error(path: Path, e: Exception) -> SSGANError:
    return SSGANError(f"cannot read image {path}: {_one_line(e) or type(e).__name__}; delete or "
                      "replace the file")


def _image_header(path: Path) -> tuple[str, tuple[int, int]]:
    from PIL import Image
    try:
        with Image.open(path) as im:
            return im.mode, im.size
    except Exception as e:
        raise _image_error(path, e) from None


def _decode_image(path: Path, mode: str, size: Optional[tuple[int, int]]) -> np.ndarray:
    from PIL import Image
    try:
        with Image.open(path) as im:
            im = im.convert(mode)
            if size is not None and im.size != size:
                im = im.resize(size, Image.Resampling.BICUBIC)
            a = np.asarray(im, dtype=np.uint8)
    except Exception as e:  # PIL raises OSError, ValueError, SyntaxError, ...
        raise _image_error(path, e) from None
    return a[None] if a.ndim == 2 else a.transpose(2, 0, 1)


def _read_image_folder(root: Path, files: list[Path], labels: list[int], split_of: list[str],
                       image_size: Optional[int], channels: Optional[int]) -> dict:
    workers = max(1, min(8, os.cpu_count() or 1))
    with ThreadPoolExecutor(workers) as pool:
        if channels is None or image_size is None:
            headers = list(pool.map(_image_header, files))
        if channels is None:
            channels = 1 if all(mode in _GRAY_MODES for mode, _ in headers) else 3
        if image_size is None:
            sizes = {}
            for p, (_, s) in zip(files, headers):
                sizes.setdefault(s, p)
            if len(sizes) > 1:
                (s1, p1), (s2, p2) = list(sizes.items())[:2]
                raise SSGANError(f"image_folder: images have mixed sizes ({s1[0]}x{s1[1]} in "
                                 f"{p1}, {s2[0]}x{s2[1]} in {p2}); set --data.image_size N to "
                                 "resize them all to NxN")
            size = None
        else:
            size = (image_size, image_size)
        mode = "L" if channels == 1 else "RGB"
        arrays = list(pool.map(lambda p: _decode_image(p, mode, size), files))
    x = torch.from_numpy(np.stack(arrays))
    y = torch.as_tensor(labels, dtype=torch.long)
    is_train = torch.as_tensor([s == "train" for s in split_of])
    return {"x_train": x[is_train], "y_train": y[is_train], "x_test": x[~is_train],
            "y_test": y[~is_train]}


@register_source("image_folder",
                 where="DATA_ROOT/train/CLASS/* and DATA_ROOT/test/CLASS/* (torchvision's "
                       "ImageFolder layout; png, jpg, bmp, gif, tiff, webp, ppm/pgm)")
def load_image_folder(data_root: Path, download: bool = True, *, image_size: Optional[int] = None,
                      channels: Optional[int] = None) -> ImageData:
    """Your own images: one sub-folder per class under ``train/`` and ``test/``. Classes are
    the train folder names, sorted. Images are resized to ``image_size`` x ``image_size``
    (bicubic, aspect ratio not kept); without it they must all have one size. ``channels``
    is 1 or 3; without it, 1 when every image is grayscale, else 3."""
    if not data_root.is_dir():
        raise SSGANError(f"image_folder: data root {data_root} does not exist; pass "
                         f"--data.data_root DIR with {_LAYOUT_HINT}")
    train, test = _scan_split(data_root / "train"), _scan_split(data_root / "test")
    classes = sorted(train)
    unknown = sorted(set(test) - set(train))
    if unknown:
        raise SSGANError(f"image_folder: test classes {', '.join(unknown)} have no folder (or no "
                         f"images) under {data_root / 'train'}")
    files, labels, split_of = [], [], []
    for split, folders in (("train", train), ("test", test)):
        for name, paths in folders.items():
            files += paths
            labels += [classes.index(name)] * len(paths)
            split_of += [split] * len(paths)
    key = f"image_folder size={image_size} channels={channels}"
    cache = data_root / (f".image_folder-{image_size or 'native'}-{channels or 'auto'}"
                         + CACHE_SUFFIX)
    t = cached(cache, files, lambda: _read_image_folder(data_root, files, labels, split_of,
                                                       image_size, channels),
               base=data_root, key=key)
    return ImageData(_as_images(t["x_train"], 255.0), t["y_train"], _as_images(t["x_test"], 255.0),
                     t["y_test"], classes)


# ---------------------------------------------------------------------------------------------
# npz: DATA_ROOT/train.npz and DATA_ROOT/test.npz with x (uint8) and y (int)


def _read_npz(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as f:
            keys = set(f.files)
            if not {"x", "y"} <= keys:
                raise SSGANError(f"{path} must hold arrays 'x' and 'y', found: "
                                 f"{', '.join(sorted(keys)) or 'none'}")
            x, y = f["x"], f["y"]
    except SSGANError:
        raise
    except Exception as e:  # zipfile/numpy raise several types
        raise SSGANError(f"cannot read {path}: {_one_line(e)}; write it with "
                         "numpy.savez(path, x=images, y=labels)") from None
    if x.dtype != np.uint8:
        raise SSGANError(f"{path}: x must be uint8 (0-255), got {x.dtype}; convert with "
                         "(x * 255).round().astype(numpy.uint8) if it is in [0, 1]")
    if x.ndim == 4 and x.shape[-1] not in (1, 3):
        raise SSGANError(f"{path}: x is {x.shape}; expected (N, H, W) or channels-last "
                         "(N, H, W, C) with C = 1 or 3")
    if x.ndim not in (3, 4):
        raise SSGANError(f"{path}: x is {x.shape}; expected (N, H, W) or (N, H, W, C)")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer) or len(y) != len(x):
        raise SSGANError(f"{path}: y must be {len(x)} integer labels (one per image), got "
                         f"{y.dtype} {y.shape}")
    if x.ndim == 3:
        x = x[:, None]
    else:
        x = x.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(x), y.astype(np.int64)


@register_source("npz", where="DATA_ROOT/train.npz and DATA_ROOT/test.npz, each with x: uint8 "
                              "(N,H,W) or (N,H,W,C) and y: int (N,)")
def load_npz(data_root: Path, download: bool = True, *,
             image_size: Optional[int] = None) -> ImageData:
    """Arrays you prepared: ``numpy.savez('train.npz', x=images, y=labels)`` and the same for
    ``test.npz``. Classes are the distinct train labels, sorted (named by their values)."""
    arrays = {}
    for split in ("train", "test"):
        path = data_root / f"{split}.npz"
        if not path.is_file():
            raise SSGANError(f"npz: {path} not found; --data.data_root must hold train.npz and "
                             "test.npz written with numpy.savez(path, x=images, y=labels)")
        arrays[split] = _read_npz(path)
    (x_tr, y_tr), (x_te, y_te) = arrays["train"], arrays["test"]
    if x_tr.shape[1:] != x_te.shape[1:] and image_size is None:
        raise SSGANError(f"npz: train.npz images are {x_tr.shape[1:]} (C,H,W) but test.npz "
                         f"images are {x_te.shape[1:]}; use one shape or set --data.image_size "
                         "and --data.channels")
    values = np.unique(y_tr)
    unknown = np.setdiff1d(np.unique(y_te), values)
    if len(unknown):
        raise SSGANError(f"npz: test.npz has labels {unknown[:5].tolist()} that train.npz lacks")
    y_tr, y_te = np.searchsorted(values, y_tr), np.searchsorted(values, y_te)
    return ImageData(_as_images(x_tr, 255.0), torch.from_numpy(y_tr),
                     _as_images(x_te, 255.0), torch.from_numpy(y_te), [str(v) for v in values])
