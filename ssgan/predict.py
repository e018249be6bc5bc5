"""``evaluate.py predict``: class probabilities for new images, from a checkpoint alone.

    python evaluate.py predict CHECKPOINT INPUT... [--out predictions.csv] [--unlabeled]

``INPUT`` is image files, folders (searched recursively for images) or ``.npz`` files (``x``:
uint8 (N, H, W) or (N, H, W, C)). Each image gets the checkpoint's own preprocessing (saved by
the data module at training time, see ``SSLDataModule.state_dict``):

* channels: a colour image given to a grayscale checkpoint, or an ``.npz`` with another channel
  count, is an error, unless training converted channels itself (``--data.channels``), in
  which case they are converted the same way; grayscale image files given to a colour
  checkpoint are replicated to RGB, as training did for the grayscale files of a mixed folder;
* size: resized to the training size with the training's filter (Pillow bicubic for image
  folders, antialiased bilinear on tensors for the built-in sets);
* scaling: ``uint8 / scale`` (255; 16 for ``digits``, whose pixels are 0..16).

``--unlabeled`` adds the checkpoint's unlabeled pool (re-read from its data root): pseudo-labels
for the images the user did not label. The CSV has one row per image: ``path``, ``label`` (the
class name), ``confidence`` (its probability) and ``p_<class>`` for every class. Without
``--out`` it goes to stdout and the logs to stderr.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from torch import Tensor

from .errors import SSGANError


@dataclass
class Preprocessing:
    """How training turned image files into D's input (from the checkpoint)."""

    classes: list[str]
    image_shape: tuple[int, int, int]
    scale: float = 255.0
    resize: Optional[str] = None  # pil_bicubic, torch_bilinear_antialias, none / None
    extra: Optional[dict] = None

    @classmethod
    def from_checkpoint(cls, model, ckpt: dict) -> "Preprocessing":
        from .evaluation import data_state
        state = data_state(ckpt)
        shape = tuple(int(v) for v in model.hparams.image_shape)
        num_classes = int(model.hparams.num_classes)
        classes = [str(c) for c in state.get("classes") or range(num_classes)]
        prep = dict(state.get("preprocessing") or {})
        return cls(classes, shape, float(prep.get("scale", 255)), prep.get("resize"), prep)

    @property
    def converts_channels(self) -> bool:
        """Training converted images to its channel count (``--data.channels`` was given)."""
        return bool((self.extra or {}).get("channels_converted"))

    def describe(self) -> dict:
        c, h, w = self.image_shape
        return {"channels": c, "height": h, "width": w, "scale": self.scale,
                "to_float": f"x.float() / {self.scale:g}",
                "resize": self.resize or "none",
                "color": "grayscale (L)" if c == 1 else "RGB",
                **{k: v for k, v in (self.extra or {}).items()
                   if k not in ("scale", "resize", "image_shape")}}


def _image_inputs(paths: list[Path], prep: Preprocessing) -> Tensor:
    """Decode image files as training did -> float (N, C, H, W)."""
    from .data.sources.base import convert_images
    from .data.sources.images import GRAY_MODES, decode_image, parallel_map, read_header
    c, h, w = prep.image_shape
    headers = parallel_map(read_header, paths)
    for p, hd in zip(paths, headers):
        if isinstance(hd, Exception):
            raise hd
        if c == 1 and hd[0] not in GRAY_MODES and not prep.converts_channels:
            raise SSGANError(f"{p} is a colour ({hd[0]}) image but the checkpoint was trained on "
                             "1-channel (grayscale) images; give grayscale images")
    torch_resize = prep.resize == "torch_bilinear_antialias"
    size = None if torch_resize else (w, h)
    arrays = parallel_map(lambda p: decode_image(p, c, size), paths,
                          desc=f"decoding {len(paths)} images")
    out = torch.empty(len(paths), c, h, w)
    for i, a in enumerate(arrays):
        if isinstance(a, Exception):
            raise a
        x = torch.from_numpy(a).float().div_(prep.scale)[None]
        if tuple(x.shape[-2:]) != (h, w):
            if h != w:
                raise SSGANError(f"{paths[i]} is {x.shape[-1]}x{x.shape[-2]}; the checkpoint "
                                 f"takes {w}x{h} images")
            x = convert_images(x, h)
        out[i] = x[0]
    return out


def _npz_inputs(path: Path, prep: Preprocessing) -> Tensor:
    from .data.sources.base import as_images, convert_images
    from .data.sources.npz import _read_npz
    x, _ = _read_npz(path, labels=False)
    c, h, w = prep.image_shape
    if x.shape[1] != c and not prep.converts_channels:
        raise SSGANError(f"{path} holds {x.shape[1]}-channel images but the checkpoint was "
                         f"trained on {c}-channel images")
    x = convert_images(as_images(x, prep.scale), channels=c)
    if tuple(x.shape[-2:]) != (h, w):
        x = convert_images(x, h)
    return x


def gather_inputs(inputs: list[str], prep: Preprocessing) -> tuple[list[str], Tensor]:
    """``(names, images)`` of the INPUT arguments (files, folders, npz)."""
    from .data.sources.images import IMAGE_EXTENSIONS, find_images
    names: list[str] = []
    parts: list[Tensor] = []
    files: list[Path] = []
    for arg in inputs:
        p = Path(arg).expanduser()
        if p.is_dir():
            found = find_images(p)
            if not found:
                raise SSGANError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) in folder {p}")
            files += found
        elif p.suffix.lower() == ".npz" and p.is_file():
            x = _npz_inputs(p, prep)
            names += [f"{p}[{i}]" for i in range(len(x))]
            parts.append(x)
        elif p.is_file():
            if p.suffix.lower() not in IMAGE_EXTENSIONS:
                raise SSGANError(f"{p} is not an image file ({', '.join(IMAGE_EXTENSIONS)}) or "
                                 "an .npz")
            files.append(p)
        else:
            raise SSGANError(f"input {p} does not exist")
    if files:
        parts.insert(0, _image_inputs(files, prep))
        names = [str(f) for f in files] + names
    if not parts:
        return [], torch.empty(0, *prep.image_shape)
    return names, torch.cat(parts)


@torch.no_grad()
def probabilities(model, x: Tensor, batch_size: int = 1000) -> Tensor:
    """Softmax over the K class logits of the evaluation weights."""
    from .evaluation import predict
    if not len(x):
        return torch.empty(0, model.hparams.num_classes)
    return torch.softmax(predict(model, x, batch_size).float(), dim=1).cpu()


def write_csv(out, names: list[str], probs: Tensor, classes: list[str],
              extra: Optional[dict[str, list]] = None) -> None:
    """One row per image: path, label, confidence, [extra columns], p_<class>..."""
    extra = extra or {}
    writer = csv.writer(out)
    writer.writerow(["path", "label", "confidence", *extra, *[f"p_{c}" for c in classes]])
    conf, idx = probs.max(1) if len(probs) else (torch.empty(0), torch.empty(0, dtype=torch.long))
    for i, name in enumerate(names):
        row = [name, classes[int(idx[i])], f"{float(conf[i]):.8f}"]
        row += [values[i] for values in extra.values()]
        row += [f"{float(v):.8f}" for v in probs[i]]
        writer.writerow(row)


def emit_csv(out_path: Optional[str], fill) -> None:
    """Write a CSV to ``out_path`` (atomically enough: written whole) or to stdout."""
    buf = io.StringIO(newline="")
    fill(buf)
    if out_path:
        path = Path(out_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(buf.getvalue())
        print(f"wrote {path}", file=sys.stderr)
    else:
        sys.stdout.write(buf.getvalue())
        sys.stdout.flush()


def predict_files(checkpoint: str, inputs: list[str], *, unlabeled: bool = False,
                  data_root: Optional[str] = None, batch_size: int = 1000) -> tuple[list[str], Tensor, list[str]]:
    """``(names, probabilities (N, K), classes)`` for the inputs (and the unlabeled pool)."""
    from .evaluation import datamodule_from_checkpoint, load_checkpoint
    if not inputs and not unlabeled:
        raise SSGANError("give images, folders or .npz files to predict, or --unlabeled")
    model, ckpt = load_checkpoint(checkpoint)
    prep = Preprocessing.from_checkpoint(model, ckpt)
    names, x = gather_inputs(inputs, prep)
    if unlabeled:
        dm = datamodule_from_checkpoint(ckpt, data_root)
        idx = dm.pool_only_indices()
        if not len(idx):
            raise SSGANError("the checkpoint's unlabeled pool holds no image outside the labeled set")
        names += [dm.train_name(int(i)) for i in idx]
        x = torch.cat([x, dm.data.x_train[torch.as_tensor(idx)]])
    return names, probabilities(model, x, batch_size), prep.classes


def main(args: list[str]) -> None:
    p = argparse.ArgumentParser(prog="evaluate.py predict", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", help="a .ckpt written by train.py")
    p.add_argument("inputs", nargs="*", metavar="INPUT",
                   help="image files, folders (searched recursively) or .npz files")
    p.add_argument("--out", default=None, help="CSV file (default: stdout)")
    p.add_argument("--unlabeled", action="store_true",
                   help="also predict the checkpoint's unlabeled pool (pseudo-labels)")
    p.add_argument("--data-root", default=None,
                   help="with --unlabeled: override the data root saved in the checkpoint")
    p.add_argument("--batch-size", type=int, default=1000, help="images per forward pass")
    ns = p.parse_args(args)
    if ns.batch_size <= 0:
        raise SSGANError(f"--batch-size must be > 0, got {ns.batch_size}")
    names, probs, classes = predict_files(ns.checkpoint, ns.inputs, unlabeled=ns.unlabeled,
                                          data_root=ns.data_root, batch_size=ns.batch_size)
    emit_csv(ns.out, lambda f: write_csv(f, names, probs, classes))
    print(f"predicted {len(names)} images", file=sys.stderr)


def read_predictions(path: str | Path) -> tuple[list[str], np.ndarray, list[str]]:
    """``(paths, probabilities, classes)`` of a predict CSV (for tests and benchmarks)."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header = rows[0]
    cols = [i for i, h in enumerate(header) if h.startswith("p_")]
    probs = np.array([[float(r[i]) for i in cols] for r in rows[1:]]).reshape(-1, len(cols))
    return [r[0] for r in rows[1:]], probs, [header[i][2:] for i in cols]
