"""Evaluation of trained checkpoints: accuracy, per-class accuracy, precision and recall
(scikit-learn's classification report), confusion matrix, and the generator's sample quality
(a PNG grid and Fréchet distances in the classifier's feature space, see
:mod:`ssgan.sample_quality`)."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Optional

import pytorch_lightning as pl
import torch
from pytorch_lightning.cli import instantiate_module
from torchmetrics.classification import (MulticlassAccuracy, MulticlassConfusionMatrix)

from .data import SSLDataModule
from .errors import SSGANError
from .classifier import ClassifierModule


def load_checkpoint(path: str | Path, map_location="cpu") -> tuple[ClassifierModule, dict]:
    """Load a ``train.py`` checkpoint; returns the module it was trained with (``SSGAN``,
``Supervised``, ...; in eval mode) and the raw checkpoint.

    Any unreadable or foreign file becomes a one-line :class:`SSGANError`."""
    path = Path(path)
    if not path.is_file():
        raise SSGANError(f"checkpoint {path} does not exist; pass a .ckpt written by train.py "
                         "(e.g. runs/ssgan/version_0/checkpoints/last.ckpt)")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as e:
        raise SSGANError(f"checkpoint {path} is corrupt or not a PyTorch file ({type(e).__name__}); "
                         "pass a .ckpt written by train.py") from None
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt or "hyper_parameters" not in ckpt:
        raise SSGANError(f"{path} is not an ssgan checkpoint (no state_dict/hyper_parameters); "
                         "pass a .ckpt written by train.py")
    hparams = dict(ckpt["hyper_parameters"])
    hparams.pop("_instantiator", None)
    if "_class_path" not in hparams:
        raise SSGANError(f"{path} was written by an older ssgan (its options hold no class_path); "
                         "retrain it with this version's train.py")
    try:
        # the module and every component (objective, networks, regularizers) are rebuilt from
        # the class_path/init_args LightningCLI saved in the checkpoint, as load_from_checkpoint does
        model = instantiate_module(pl.LightningModule, hparams)
        model.load_state_dict(ckpt["state_dict"])
    except SSGANError:
        raise
    except Exception as e:
        raise SSGANError(f"{path} does not match this version of ssgan's model: {e}") from None
    return model.eval(), ckpt


def data_state(ckpt: dict) -> dict:
    """What the data module saved in the checkpoint (classes, image shape, preprocessing, the
    absolute data root; see ``SSLDataModule.state_dict``); empty for older checkpoints."""
    return ckpt.get(SSLDataModule.__qualname__) or {}


def datamodule_from_checkpoint(ckpt: dict, data_root: Optional[str] = None) -> SSLDataModule:
    """The checkpoint's data module, its split set up. Without ``data_root`` the saved one is
    used; when it was relative and is not found from here, the absolute path recorded at
    training time is tried."""
    params = inspect.signature(SSLDataModule.__init__).parameters
    hp = {k: v for k, v in (ckpt.get("datamodule_hyper_parameters") or {}).items() if k in params}
    if not hp:
        raise SSGANError("the checkpoint does not record its dataset; pass a .ckpt written by train.py")
    if data_root is not None:
        hp["data_root"] = data_root
    elif not Path(hp.get("data_root", "datasets")).expanduser().exists() and \
            data_state(ckpt).get("data_root"):
        hp["data_root"] = data_state(ckpt)["data_root"]
    dm = SSLDataModule(**hp)
    dm.setup("test")
    return dm


@torch.no_grad()
def predict(model: ClassifierModule, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """Logits of the evaluation weights (the EMA copy when enabled) for a tensor of images."""
    return torch.cat([model.predict_logits(x[i:i + batch_size].to(model.device))
                      for i in range(0, len(x), batch_size)])


def classification_metrics(logits: torch.Tensor, y: torch.Tensor, num_classes: int) -> dict:
    """``test/acc``, ``test/error``, ``test/loss``, per-class accuracy and the confusion matrix."""
    acc = MulticlassAccuracy(num_classes, average="micro")(logits, y).item()
    per_class = MulticlassAccuracy(num_classes, average=None)(logits, y)
    confusion = MulticlassConfusionMatrix(num_classes)(logits, y)
    return {"test/acc": acc, "test/error": 1.0 - acc,
            "test/loss": torch.nn.functional.cross_entropy(logits, y).item(),
            "per_class_accuracy": [round(float(v), 6) for v in per_class],
            "confusion_matrix": confusion.tolist()}


def classification_report(logits: torch.Tensor, y: torch.Tensor, classes: list[str]) -> dict:
    """scikit-learn's classification report as a dict: per class (by name) ``precision``,
    ``recall``, ``f1-score`` and ``support``, plus ``accuracy``, ``macro avg`` and
    ``weighted avg``. A class never predicted has precision 0 (``zero_division=0``)."""
    from sklearn.metrics import classification_report as sk_report

    pred = logits.argmax(1).cpu().numpy()
    return sk_report(y.cpu().numpy(), pred, labels=list(range(len(classes))),
                     target_names=[str(c) for c in classes], output_dict=True, zero_division=0)


def run_folder_of(checkpoint: str | Path) -> Path:
    """The run folder of ``RUN/checkpoints/x.ckpt`` (else the checkpoint's own folder)."""
    parent = Path(checkpoint).resolve().parent
    return parent.parent if parent.name == "checkpoints" else parent


def evaluate_checkpoint(path: str | Path, data_root: Optional[str] = None, *,
                        samples_path: Optional[str | Path] = None, sample_quality: bool = True,
                        num_samples: int = 100, fid_samples: Optional[int] = None,
                        seed: int = 0) -> dict:
    """Re-evaluate a checkpoint on its dataset's test split.

    Adds scikit-learn's classification report (``classification_report``,
    ``per_class_precision``, ``per_class_recall``) and, unless ``sample_quality`` is False or
    the checkpoint is a supervised-only baseline (no trained generator), the Fréchet distances
    of :func:`ssgan.sample_quality.sample_quality` under ``fid``. With ``samples_path`` a PNG
    grid of ``num_samples`` generated images is saved there (``samples_png``)."""
    model, ckpt = load_checkpoint(path)
    dm = datamodule_from_checkpoint(ckpt, data_root)
    if tuple(dm.image_shape) != tuple(model.hparams.image_shape):
        raise SSGANError(f"the checkpoint expects images of shape {tuple(model.hparams.image_shape)} "
                         f"but {dm.hparams.dataset} has {tuple(dm.image_shape)}")
    if not dm.has_test:
        raise SSGANError(f"{dm.hparams.dataset} in {dm.hparams.data_root} has no test split to "
                         "evaluate on; add a test/ folder (or test.npz), or label images with "
                         "evaluate.py predict")
    logits = predict(model, dm.data.x_test)
    out = classification_metrics(logits, dm.data.y_test, model.hparams.num_classes)
    report = classification_report(logits, dm.data.y_test, dm.data.classes)
    out.update({"dataset": dm.hparams.dataset, "num_labels": dm.num_labels_used,
                "checkpoint": str(path), "classes": dm.data.classes,
                "per_class_precision": [round(report[str(c)]["precision"], 6) for c in dm.data.classes],
                "per_class_recall": [round(report[str(c)]["recall"], 6) for c in dm.data.classes],
                "classification_report": report})
    if not model.has_generator:
        out["sample_quality_skipped"] = "supervised-only checkpoint: its generator was never trained"
        return out
    from . import sample_quality as sq
    if samples_path is not None:
        if num_samples <= 0:
            raise SSGANError(f"--num-samples must be > 0, got {num_samples}")
        out["samples_png"] = str(sq.sample_grid(model, samples_path, num_samples, seed=seed))
    if sample_quality:
        if fid_samples is not None and fid_samples < 2:
            raise SSGANError(f"--fid-samples must be at least 2, got {fid_samples}")
        out["fid"] = sq.sample_quality(model, dm.data.x_test, num_generated=fid_samples, seed=seed)
    return out
