"""Generated samples for data augmentation: ``evaluate.py augment``, a Dataset, and a measurement.

    python evaluate.py augment CHECKPOINT --n-per-class N --out DIR [--min-confidence P]
                               [--image-folder] [--evaluate] [--max-draws M] [--seed S]
                               [--eval-steps STEPS] [--eval-seeds 0,1,2] [--data-root DIR]

Labels:

* class-conditional generator (the checkpoint's generator objective is conditional): each
  sample gets the class it was generated for. With ``--min-confidence P`` a sample is kept only
  when the trained classifier gives that class a probability of at least P;
* otherwise: the trained classifier's prediction (argmax of its K-way softmax, evaluation
  weights, i.e. the EMA copy) labels each sample, and only samples whose confidence (that
  maximum probability) is at least P are kept (default 0: all).

Samples are drawn in batches until every class has N, or until ``--max-draws`` samples have
been drawn (default ``50 * N * K``); then the export holds fewer for the classes that came up
short, and says so on stderr and in ``samples.json``.

Files in DIR: ``samples.npz`` (``x`` uint8 in the dataset's image shape: (N, H, W) for one
channel, (N, H, W, C) otherwise; ``y`` int64; ``confidence`` float32; ``classes``),
``samples.png`` (one row per class), ``samples.json`` (counts, draws, settings), with
``--image-folder`` ``DIR/image_folder/<k>_<class>/<i>.png`` (class folders sort in label
order, so ``torchvision.datasets.ImageFolder(DIR/'image_folder')`` gives back the labels), and
with ``--evaluate`` ``augmentation.json``.

``--evaluate`` trains the supervised-only classifier (the checkpoint's discriminator network,
fresh; :func:`ssgan.baselines.train_supervised_classifier`) for the same number of steps and
batch size, once per seed and arm: on the checkpoint's labeled real images, and on those plus
the exported samples (a ``ConcatDataset``, batches drawn uniformly from it), and reports the
test error of each arm as mean ± sample std over the seeds.

Python API::

    from ssgan.augmentation import GeneratedDataset, labeled_real_dataset
    gen = GeneratedDataset.from_npz("DIR/samples.npz")
    train_set = torch.utils.data.ConcatDataset([labeled_real_dataset(dm), gen])
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import ConcatDataset, Dataset, TensorDataset

from .errors import SSGANError
from .runs import write_json
from .sample_quality import generate, is_conditional, save_grid

# ---------------------------------------------------------------------------------------------
# drawing labeled samples


@dataclass
class GeneratedSamples:
    """Labeled generated images, sorted by class: ``x`` float32 (N, C, H, W) in [0, 1]."""

    x: Tensor
    y: Tensor
    confidence: Tensor
    classes: list[str]
    info: dict = field(default_factory=dict)


@torch.no_grad()
def _probabilities(model, x: Tensor) -> Tensor:
    return torch.softmax(model.predict_logits(x.to(model.device)).float(), 1).cpu()


@torch.no_grad()
def generate_labeled(model, n_per_class: int, *, min_confidence: float = 0.0,
                     max_draws: Optional[int] = None, batch_size: int = 1000, seed: int = 0,
                     classes: Optional[list[str]] = None,
                     warn: Callable[[str], None] = lambda m: print(m, file=sys.stderr)
                     ) -> GeneratedSamples:
    """Draw up to ``n_per_class`` labeled samples per class (see the module docstring)."""
    if n_per_class <= 0:
        raise SSGANError(f"--n-per-class must be > 0, got {n_per_class}")
    if not 0.0 <= min_confidence <= 1.0:
        raise SSGANError(f"--min-confidence must be in [0, 1], got {min_confidence}")
    k = int(model.hparams.num_classes)
    classes = list(classes) if classes is not None else [str(i) for i in range(k)]
    limit = max_draws if max_draws is not None else 50 * n_per_class * k
    if limit < n_per_class * k:
        raise SSGANError(f"--max-draws={limit} is below the {n_per_class * k} samples asked for")
    conditional = is_conditional(model)
    xs: list[list[Tensor]] = [[] for _ in range(k)]
    confs: list[list[Tensor]] = [[] for _ in range(k)]
    counts = np.zeros(k, dtype=np.int64)
    drawn = rejected = 0
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        while counts.min() < n_per_class and drawn < limit:
            if conditional:
                need = np.maximum(n_per_class - counts, 0)
                want = torch.arange(k).repeat_interleave(torch.as_tensor(need))
                want = want[: min(batch_size, limit - drawn)]
                x, _ = generate(model, len(want), want, batch_size=batch_size)
                probs = _probabilities(model, x)
                label = want
                conf = probs[torch.arange(len(want)), want]
            else:
                x, _ = generate(model, min(batch_size, limit - drawn), batch_size=batch_size)
                conf, label = _probabilities(model, x).max(1)
            drawn += len(x)
            keep = conf >= min_confidence
            rejected += int((~keep).sum())
            for c in range(k):
                sel = torch.nonzero(keep & (label == c)).flatten()[: n_per_class - counts[c]]
                if len(sel):
                    xs[c].append(x[sel])
                    confs[c].append(conf[sel])
                    counts[c] += len(sel)
    short = {classes[c]: int(counts[c]) for c in range(k) if counts[c] < n_per_class}
    info = {"n_per_class": n_per_class, "counts": {classes[c]: int(counts[c]) for c in range(k)},
            "drawn": drawn, "max_draws": limit, "limit_hit": bool(short),
            "rejected_low_confidence": rejected, "min_confidence": min_confidence,
            "labels_from": "conditioning label" if conditional else "classifier prediction",
            "conditional": conditional, "seed": seed}
    if short:
        warn(f"warning: stopped at the limit of {limit} drawn samples (--max-draws) with classes "
             f"short of {n_per_class}: " + ", ".join(f"{c}: {n}" for c, n in short.items()) +
             ("; lower --min-confidence or raise --max-draws" if min_confidence > 0 else
              "; the generator rarely produces them (raise --max-draws)"))
    shape = tuple(model.hparams.image_shape)
    x = torch.cat([t for c in range(k) for t in xs[c]]) if counts.sum() else torch.zeros(0, *shape)
    conf = torch.cat([t for c in range(k) for t in confs[c]]) if counts.sum() else torch.zeros(0)
    y = torch.arange(k).repeat_interleave(torch.as_tensor(counts))
    return GeneratedSamples(x, y, conf, classes, info)


# ---------------------------------------------------------------------------------------------
# export


def to_uint8(x: Tensor) -> np.ndarray:
    """Float (N, C, H, W) in [0, 1] -> uint8 (N, H, W) for one channel, else (N, H, W, C)."""
    u = (x.float().clamp(0, 1) * 255).round().to(torch.uint8)
    u = u[:, 0] if u.shape[1] == 1 else u.permute(0, 2, 3, 1)
    return u.contiguous().numpy()


def from_uint8(x: np.ndarray) -> Tensor:
    """The inverse of :func:`to_uint8`: float32 (N, C, H, W) in [0, 1]."""
    t = torch.from_numpy(np.ascontiguousarray(x))
    t = t.unsqueeze(1) if t.ndim == 3 else t.permute(0, 3, 1, 2)
    return t.to(torch.float32).div_(255.0).contiguous()


def class_folder_names(classes: list[str]) -> list[str]:
    """``<k>_<class>`` with k zero-padded, so folders sort in label order (ImageFolder's rule)
    and class names with path characters stay one folder."""
    width = len(str(len(classes) - 1))
    return [f"{k:0{width}d}_{re.sub(r'[^A-Za-z0-9._-]+', '_', str(c)).strip('_') or 'class'}"
            for k, c in enumerate(classes)]


def per_class_grid(x: Tensor, y: Tensor, num_classes: int, columns: int) -> Tensor:
    """Images arranged with one row per class (first ``columns`` of each; blanks pad)."""
    rows = []
    for c in range(num_classes):
        xc = x[y == c][:columns]
        pad = torch.zeros(columns - len(xc), *x.shape[1:])
        rows.append(torch.cat([xc, pad]))
    return torch.cat(rows)


def save_samples(samples: GeneratedSamples, out: str | Path, *, image_folder: bool = False,
                 grid_columns: int = 16) -> dict:
    """Write ``samples.npz``, ``samples.png``, ``samples.json`` and, with ``image_folder``, the
    ImageFolder tree. Returns the paths written."""
    from PIL import Image

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    x8 = to_uint8(samples.x)
    y = samples.y.numpy().astype(np.int64)
    np.savez_compressed(out / "samples.npz", x=x8, y=y,
                        confidence=samples.confidence.numpy().astype(np.float32),
                        classes=np.array(samples.classes, dtype=str))
    k = len(samples.classes)
    cols = max(1, min(grid_columns, samples.info.get("n_per_class", grid_columns)))
    grid = per_class_grid(from_uint8(x8), samples.y, k, cols)
    paths = {"npz": str(out / "samples.npz"),
             "png": str(save_grid(grid, out / "samples.png", nrow=cols))}
    if image_folder:
        root = out / "image_folder"
        names = class_folder_names(samples.classes)
        for c, name in enumerate(names):
            (root / name).mkdir(parents=True, exist_ok=True)
        index = np.zeros(k, dtype=np.int64)
        for img, c in zip(x8, y):
            Image.fromarray(img).save(root / names[c] / f"{index[c]:06d}.png")
            index[c] += 1
        paths["image_folder"] = str(root)
    write_json(out / "samples.json", {**samples.info, "classes": samples.classes,
                                      "total": int(len(y)), "files": paths,
                                      "image_shape": list(x8.shape[1:])})
    return paths


# ---------------------------------------------------------------------------------------------
# Dataset API


class GeneratedDataset(Dataset):
    """Generated ``(image, label)`` pairs in the format of the real data: float32 tensors of
    shape (C, H, W) in [0, 1] and int64 label tensors, ready for ``ConcatDataset`` with e.g.
    :func:`labeled_real_dataset`. ``transform`` (optional) is applied to the image tensor."""

    def __init__(self, x: Tensor | np.ndarray, y: Tensor | np.ndarray,
                 classes: Optional[list[str]] = None, transform: Optional[Callable] = None):
        if isinstance(x, np.ndarray):
            if x.dtype != np.uint8:
                raise SSGANError(f"images as arrays must be uint8 (N,H,W[,C]), got {x.dtype}")
            x = from_uint8(x)
        self.x = x.to(torch.float32)
        self.y = torch.as_tensor(np.asarray(y), dtype=torch.long)
        if len(self.x) != len(self.y):
            raise SSGANError(f"{len(self.x)} images but {len(self.y)} labels")
        self.classes = classes
        self.transform = transform

    @classmethod
    def from_npz(cls, path: str | Path, transform: Optional[Callable] = None) -> "GeneratedDataset":
        """Load ``samples.npz`` written by ``evaluate.py augment``."""
        try:
            with np.load(path) as f:
                classes = [str(c) for c in f["classes"]] if "classes" in f else None
                return cls(f["x"], f["y"], classes, transform)
        except (OSError, KeyError, ValueError) as e:
            raise SSGANError(f"{path} is not a samples.npz written by evaluate.py augment: {e}") from None

    @classmethod
    def from_samples(cls, samples: GeneratedSamples, quantize: bool = True,
                     transform: Optional[Callable] = None) -> "GeneratedDataset":
        """From :func:`generate_labeled`; ``quantize`` rounds to 8 bits, as the export does."""
        x = from_uint8(to_uint8(samples.x)) if quantize else samples.x
        return cls(x, samples.y, samples.classes, transform)

    @classmethod
    def from_checkpoint(cls, checkpoint: str | Path, n_per_class: int, **kwargs) -> "GeneratedDataset":
        """Draw samples from a checkpoint (``kwargs`` as :func:`generate_labeled`)."""
        from .evaluation import load_checkpoint
        model, ckpt = load_checkpoint(checkpoint)
        _check_generator(model, checkpoint)
        return cls.from_samples(generate_labeled(model, n_per_class, **kwargs))

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int):
        x = self.x[i]
        if self.transform is not None:
            x = self.transform(x)
        return x, self.y[i]


def labeled_real_dataset(dm) -> TensorDataset:
    """The labeled real images of a set-up :class:`ssgan.data.SSLDataModule` as a Dataset of
    the same ``(float32 (C,H,W), int64)`` pairs."""
    idx = torch.as_tensor(dm.labeled_indices)
    return TensorDataset(dm.data.x_train[idx], dm.data.y_train[idx])


def _check_generator(model, checkpoint) -> None:
    if not model.has_generator:
        raise SSGANError(f"{checkpoint} is a supervised-only checkpoint: its generator was never "
                         "trained; pass an ssgan checkpoint")


# ---------------------------------------------------------------------------------------------
# measuring whether it helps


def evaluate_augmentation(hparams: dict, dm, generated: Dataset, *, steps: int, batch_size: int,
                          seeds: list[int], progress: bool = True) -> dict:
    """Train the supervised-only classifier on real vs real + generated labeled images (same
    steps, batch size, seeds, initialisation data); test errors per seed, mean and std."""
    from tqdm import tqdm

    from .baselines import classifier_error, train_supervised_classifier
    from .classifier import default

    real = labeled_real_dataset(dm)
    arms = {"real": real, "real+generated": ConcatDataset([real, generated])}
    pool = torch.as_tensor(dm.unlabeled_indices)
    n_init = int(hparams.get("data_init_size", default("data_init_size")))
    errors: dict[str, list[float]] = {a: [] for a in arms}
    bar = tqdm(total=len(seeds) * len(arms), unit="run", file=sys.stderr, disable=not progress,
               desc="augmentation --evaluate", smoothing=0.0)
    try:
        for s in seeds:
            g = torch.Generator().manual_seed(s)
            init = dm.data.x_train[pool[torch.randperm(len(pool), generator=g)[:n_init]]]
            for arm, ds in arms.items():
                net = train_supervised_classifier(ds, hparams, steps=steps, batch_size=batch_size,
                                                  seed=s, init_images=init)
                errors[arm].append(classifier_error(net, dm.data.x_test, dm.data.y_test))
                bar.update(1)
    finally:
        bar.close()

    def stats(v: list[float]) -> dict:
        a = np.array(v)
        return {"errors": [round(float(e), 6) for e in a], "error_mean": float(a.mean()),
                "error_std": float(a.std(ddof=1)) if len(a) > 1 else None}

    out = {arm: stats(v) for arm, v in errors.items()}
    diff = np.array(errors["real+generated"]) - np.array(errors["real"])
    out.update({"difference_mean": float(diff.mean()),
                "difference_std": float(diff.std(ddof=1)) if len(diff) > 1 else None,
                "seeds": list(seeds), "steps": steps, "batch_size": batch_size,
                "n_real": len(real), "n_generated": len(generated),
                "classifier": "supervised-only: the checkpoint's discriminator network, fresh "
                              "weights, Adam with the checkpoint's lr/betas, EMA evaluation copy",
                "std": "sample std (ddof=1) over seeds; difference = (real+generated) - real per seed"})
    return out


# ---------------------------------------------------------------------------------------------
# command line


def _seed_list(text: str) -> list[int]:
    try:
        seeds = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise SSGANError(f"--eval-seeds takes comma-separated integers, got {text!r}") from None
    if not seeds:
        raise SSGANError("--eval-seeds needs at least one seed")
    return seeds


def main(argv: list[str]) -> None:
    p = argparse.ArgumentParser(prog="evaluate.py augment", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", help="an ssgan .ckpt written by train.py")
    p.add_argument("--n-per-class", type=int, required=True, metavar="N", help="samples per class")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--min-confidence", type=float, default=0.0, metavar="P",
                   help="keep samples whose classifier probability for their label is >= P (default 0)")
    p.add_argument("--max-draws", type=int, default=None, metavar="M",
                   help="stop drawing after this many samples (default 50 * N * classes)")
    p.add_argument("--image-folder", action="store_true",
                   help="also write DIR/image_folder/<k>_<class>/*.png (torchvision ImageFolder)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="seed of the generated samples (default 0)")
    p.add_argument("--data-root", default=None, metavar="DIR", help="override the data root saved in the checkpoint")
    p.add_argument("--evaluate", action="store_true",
                   help="measure real vs real+generated with the supervised-only classifier")
    p.add_argument("--eval-steps", type=int, default=1000, metavar="STEPS", help="training steps per run (default 1000)")
    p.add_argument("--eval-batch-size", type=int, default=None, metavar="B",
                   help="batch size of those runs (default: the checkpoint's data batch size)")
    p.add_argument("--eval-seeds", default="0,1,2", metavar="SEEDS", help="seeds of those runs (default 0,1,2)")
    ns = p.parse_args(argv)
    if ns.evaluate and ns.eval_steps <= 0:
        raise SSGANError(f"--eval-steps must be > 0, got {ns.eval_steps}")
    seeds = _seed_list(ns.eval_seeds)

    from .evaluation import datamodule_from_checkpoint, load_checkpoint, predict
    model, ckpt = load_checkpoint(ns.checkpoint)
    _check_generator(model, ns.checkpoint)
    dm = datamodule_from_checkpoint(ckpt, ns.data_root)
    if tuple(dm.image_shape) != tuple(model.hparams.image_shape):
        raise SSGANError(f"the checkpoint expects images of shape {tuple(model.hparams.image_shape)} "
                         f"but {dm.hparams.dataset} has {tuple(dm.image_shape)}")
    samples = generate_labeled(model, ns.n_per_class, min_confidence=ns.min_confidence,
                               max_draws=ns.max_draws, seed=ns.seed, classes=dm.data.classes)
    if len(samples.y) == 0:
        raise SSGANError(f"no sample reached --min-confidence {ns.min_confidence} in "
                         f"{samples.info['drawn']} draws; lower it")
    paths = save_samples(samples, ns.out, image_folder=ns.image_folder)
    result = {"checkpoint": str(ns.checkpoint), "dataset": dm.hparams.dataset,
              "out": str(ns.out), "files": paths, **samples.info}
    print(f"wrote {len(samples.y)} samples to {ns.out}", file=sys.stderr)
    if ns.evaluate:
        dm.setup("fit")
        gen = GeneratedDataset.from_npz(Path(ns.out) / "samples.npz")
        batch = ns.eval_batch_size or int(dm.hparams.batch_size)
        aug = evaluate_augmentation(dict(model.hparams), dm, gen, steps=ns.eval_steps,
                                    batch_size=batch, seeds=seeds)
        logits = predict(model, dm.data.x_test)
        aug["checkpoint_error"] = float((logits.argmax(1) != dm.data.y_test).float().mean())
        aug.update({"checkpoint": str(ns.checkpoint), "dataset": dm.hparams.dataset,
                    "num_labels": dm.num_labels_used, "samples": samples.info})
        write_json(Path(ns.out) / "augmentation.json", aug)
        result["augmentation"] = {k: aug[k] for k in ("real", "real+generated", "difference_mean",
                                                      "difference_std", "steps", "seeds")}
        print(f"test error, real only: {100 * aug['real']['error_mean']:.2f} ± "
              f"{100 * aug['real']['error_std']:.2f} %; real + generated: "
              f"{100 * aug['real+generated']['error_mean']:.2f} ± "
              f"{100 * aug['real+generated']['error_std']:.2f} %", file=sys.stderr)
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
