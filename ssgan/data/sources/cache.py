"""The cache of decoded raw files.

Raw formats (idx, SVHN's ``.mat``, CIFAR-10's pickles, image folders) are decoded once and
cached as uint8 tensors in a ``*.ssgan-cache.pt`` file. The cache records each raw file's name,
size and modification time and is rebuilt when they change.

Where: next to the raw files when that folder is writable and is not a system folder, else in
the user's cache folder (``$XDG_CACHE_HOME/ssgan``, by default ``~/.cache/ssgan``), under a
name derived from the raw folder's path. A system folder (``/usr``, ``/lib``, ``/opt``, the
Python installation) never receives a cache, even when it is writable (as root, e.g.
``/usr/share/datasets/fashion-mnist``): a package manager owns it. When no location is
writable the cache is skipped.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from pathlib import Path
from typing import Callable, Optional, Sequence

import torch

CACHE_SUFFIX = ".ssgan-cache.pt"
CACHE_VERSION = 2

_SYSTEM_PREFIXES = ("/usr", "/lib", "/lib64", "/opt", "/bin", "/sbin", "/etc", "/snap")


def user_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "ssgan"


def _is_system_folder(folder: Path) -> bool:
    folder = folder.resolve()
    roots = [Path(p) for p in _SYSTEM_PREFIXES] + [Path(sys.base_prefix), Path(sys.prefix)]
    return any(folder == r or r in folder.parents for r in roots if str(r) not in ("/", ""))


def cache_path(folder: Path, name: str) -> Path:
    """Where the cache file ``name`` of raw files in ``folder`` lives (see the module doc)."""
    folder = Path(folder)
    if folder.is_dir() and os.access(folder, os.W_OK) and not _is_system_folder(folder):
        return folder / name
    digest = hashlib.sha1(str(folder.resolve()).encode()).hexdigest()[:12]
    return user_cache_dir() / f"{digest}-{name}"


def _signature(paths: Sequence[Path], base: Optional[Path] = None) -> list:
    sig = []
    for p in paths:
        st = p.stat()
        name = str(p.relative_to(base)) if base is not None else p.name
        sig.append([name, int(st.st_size), int(st.st_mtime_ns)])
    return sig


def cached(cache: Path, raw: Sequence[Path], build: Callable[[], dict], *,
           base: Optional[Path] = None, key: str = "") -> dict:
    """Return ``build()`` (a dict of tensors and plain values), from the cache when it was
    written from the same raw files (names, sizes, mtimes) and ``key``; otherwise build and
    try to write the cache (silently skipped when no location is writable).

    ``cache`` names the file next to the raw files; :func:`cache_path` moves it to the user's
    cache folder when that folder is read-only or a system folder."""
    cache = cache_path(cache.parent, cache.name)
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
        cache.parent.mkdir(parents=True, exist_ok=True)
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
