"""The semi-supervised LightningDataModule: labeled split, unlabeled stream, test and val.

The whole dataset lives in memory as normalised tensors. A training "sample" is a whole step:
the sampler yields index tensors for (labeled, unlabeled-for-D, unlabeled-for-G) and the
dataset gathers them with one fancy-indexing call each, so there is no per-image Python or PIL
work on the training path.
"""

from __future__ import annotations

import math
import os
from typing import Iterator, Optional

import numpy as np
import pytorch_lightning as pl
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Sampler

from ..errors import SSGANError, check_positive
from .sources import ImageData, get_source, load_dataset


def select_labeled(y: np.ndarray, num_labels: int, num_classes: int, seed_data: int) -> np.ndarray:
    """Class-balanced labeled subset: permute with ``seed_data`` and take the first
    ``num_labels / K`` of each class (the improved-gan procedure). Returns sorted indices."""
    if num_labels <= 0 or num_labels % num_classes:
        raise SSGANError(f"num_labels must be a positive multiple of the {num_classes} classes "
                         f"(e.g. {num_classes * max(1, num_labels // num_classes)}), got {num_labels}")
    per_class = num_labels // num_classes
    counts = np.bincount(y, minlength=num_classes)
    if counts.min() < per_class:
        c = int(counts.argmin())
        raise SSGANError(f"num_labels={num_labels} needs {per_class} images per class but class "
                         f"{c} has only {counts[c]} in the training pool; use at most "
                         f"{counts.min() * num_classes}")
    perm = np.random.RandomState(seed_data).permutation(len(y))
    chosen = [perm[y[perm] == c][:per_class] for c in range(num_classes)]
    return np.sort(np.concatenate(chosen))


def carve_validation(y: np.ndarray, val_size: int, seed_data: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified (train, val) index split of the training set with scikit-learn."""
    idx = np.arange(len(y))
    if val_size <= 0:
        return idx, idx[:0]
    if val_size >= len(y):
        raise SSGANError(f"val_size={val_size} must be smaller than the {len(y)} training images")
    from sklearn.model_selection import train_test_split
    tr, va = train_test_split(idx, test_size=val_size, stratify=y, random_state=seed_data)
    return np.sort(tr), np.sort(va)


class SSLBatchSampler(Sampler):
    """Yields, per step, index tensors ``(labeled, unlabeled_d, unlabeled_g)``.

    One epoch is one pass over the unlabeled pool in batches of ``batch_size`` (for D, and a
    second independent permutation for G, as in the original code). The labeled set is
    re-permuted and tiled to the same number of batches. Shuffling is seeded from
    ``(seed, epoch)`` so a resumed run replays the same order. Under DDP each rank takes every
    ``world_size``-th step of the same global order.
    """

    def __init__(self, labeled: Tensor, unlabeled: Tensor, batch_size: int,
                 labeled_batch_size: int, seed: int = 0):
        self.labeled, self.unlabeled = labeled, unlabeled
        self.batch_size, self.labeled_batch_size = batch_size, labeled_batch_size
        self.seed, self.epoch = seed, 0
        self.rank, self.world_size = 0, 1
        self.global_steps = max(1, len(unlabeled) // batch_size)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def set_distributed(self, rank: int, world_size: int) -> None:
        self.rank, self.world_size = rank, world_size

    def __len__(self) -> int:
        return len(range(self.rank, self.global_steps, self.world_size))

    def _tiled(self, pool: Tensor, n: int, g: torch.Generator) -> Tensor:
        reps = math.ceil(n / len(pool))
        return torch.cat([pool[torch.randperm(len(pool), generator=g)] for _ in range(reps)])[:n]

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor, Tensor]]:
        g = torch.Generator().manual_seed((self.seed * 1_000_003 + self.epoch) % 2**63)
        n, b, bl = self.global_steps, self.batch_size, self.labeled_batch_size
        unl_d = self._tiled(self.unlabeled, n * b, g).view(n, b)
        unl_g = self._tiled(self.unlabeled, n * b, g).view(n, b)
        lab = self._tiled(self.labeled, n * bl, g).view(n, bl)
        for i in range(self.rank, n, self.world_size):
            yield lab[i], unl_d[i], unl_g[i]


class StepDataset(Dataset):
    """Gathers a whole step from the in-memory tensors given the sampler's index tensors."""

    def __init__(self, x: Tensor, y: Tensor):
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, idx: tuple[Tensor, Tensor, Tensor]):
        lab, unl_d, unl_g = idx
        return self.x[lab], self.y[lab], self.x[unl_d], self.x[unl_g]


class SliceDataset(Dataset):
    """Evaluation batches as contiguous slices (no per-image collation)."""

    def __init__(self, x: Tensor, y: Tensor, batch_size: int):
        self.x, self.y, self.batch_size = x, y, batch_size

    def __len__(self) -> int:
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, i: int):
        s = slice(i * self.batch_size, (i + 1) * self.batch_size)
        return self.x[s], self.y[s]


class SSLDataModule(pl.LightningDataModule):
    """Few labeled, many unlabeled images, from any registered source.

    Args:
        dataset: a registered source: digits, fashion_mnist, mnist, ...
        data_root: where files are looked for and downloaded to.
        num_labels: labeled images, class-balanced (num_labels / K per class).
        seed_data: seed of the labeled (and validation) split, independent of the training seed.
        batch_size: unlabeled images per step (for D, and again for G).
        labeled_batch_size: labeled images per step (default: batch_size).
        exclude_labeled: keep the labeled images out of the unlabeled pool.
        val_size: images carved (stratified) from the training set for validation; 0 = none.
        download: allow downloading missing files.
        eval_batch_size: batch size for validation and test.
    """

    def __init__(self, dataset: str = "digits", data_root: str = "datasets", num_labels: int = 50,
                 seed_data: int = 1, batch_size: int = 100, labeled_batch_size: Optional[int] = None,
                 exclude_labeled: bool = False, val_size: int = 0, download: bool = True,
                 eval_batch_size: int = 1000):
        super().__init__()
        self.source = get_source(dataset)
        check_positive("data.batch_size", batch_size)
        check_positive("data.labeled_batch_size", labeled_batch_size)
        check_positive("data.eval_batch_size", eval_batch_size)
        check_positive("data.val_size", val_size, allow_zero=True)
        if self.source.num_classes and num_labels % self.source.num_classes:
            # fail before any data is read
            select_labeled(np.zeros(0, dtype=np.int64), num_labels, self.source.num_classes, 0)
        self.save_hyperparameters()
        self.data: Optional[ImageData] = None
        self.labeled_indices: Optional[np.ndarray] = None

    # -- what the model needs before data is loaded ----------------------------------------
    @property
    def image_shape(self) -> tuple[int, int, int]:
        return self.source.image_shape or self._load().image_shape

    @property
    def num_classes(self) -> int:
        return self.source.num_classes or self._load().num_classes

    def _load(self) -> ImageData:
        if self.data is None:
            hp = self.hparams
            root = os.path.expanduser(hp.data_root)
            self.data = load_dataset(hp.dataset, root, download=hp.download)
        return self.data

    def prepare_data(self) -> None:
        # downloads happen here, once per node
        self._load()

    def setup(self, stage: Optional[str] = None) -> None:
        if self.labeled_indices is not None:
            return
        hp, data = self.hparams, self._load()
        y = data.y_train.numpy()
        train_idx, val_idx = carve_validation(y, hp.val_size, hp.seed_data)
        lab = train_idx[select_labeled(y[train_idx], hp.num_labels, data.num_classes, hp.seed_data)]
        unl = np.setdiff1d(train_idx, lab) if hp.exclude_labeled else train_idx
        self.labeled_indices, self.val_indices, self.unlabeled_indices = lab, val_idx, unl

    # -- loaders -------------------------------------------------------------------------------
    def train_dataloader(self) -> DataLoader:
        hp = self.hparams
        sampler = SSLBatchSampler(torch.as_tensor(self.labeled_indices),
                                  torch.as_tensor(self.unlabeled_indices), hp.batch_size,
                                  hp.labeled_batch_size or hp.batch_size, seed=torch.initial_seed())
        trainer = self.trainer
        if trainer is not None and trainer.world_size > 1:
            sampler.set_distributed(trainer.global_rank, trainer.world_size)
        return DataLoader(StepDataset(self.data.x_train, self.data.y_train), sampler=sampler,
                          batch_size=None)

    def _eval_loader(self, x: Tensor, y: Tensor) -> DataLoader:
        return DataLoader(SliceDataset(x, y, self.hparams.eval_batch_size), batch_size=None)

    def val_dataloader(self):
        if not len(self.val_indices):
            return []
        idx = torch.as_tensor(self.val_indices)
        return self._eval_loader(self.data.x_train[idx], self.data.y_train[idx])

    def test_dataloader(self) -> DataLoader:
        return self._eval_loader(self.data.x_test, self.data.y_test)

    # -- bookkeeping ---------------------------------------------------------------------------
    def labeled_record(self) -> dict:
        """The labeled split, as written to ``labeled_indices.json``."""
        lab = self.labeled_indices
        return {"dataset": self.hparams.dataset, "num_labels": self.hparams.num_labels,
                "seed_data": self.hparams.seed_data, "indices": [int(i) for i in lab],
                "labels": [int(v) for v in self.data.y_train[torch.as_tensor(lab)]]}

    def state_dict(self) -> dict:
        return {"labeled_indices": None if self.labeled_indices is None
                else [int(i) for i in self.labeled_indices]}

    def load_state_dict(self, state: dict) -> None:
        saved = state.get("labeled_indices")
        if saved is None:
            return
        self.setup()
        if list(map(int, self.labeled_indices)) != list(saved):
            raise SSGANError("the checkpoint was trained on a different labeled split than "
                             "--data.num_labels/--data.seed_data select now; resume with the "
                             "checkpoint's own data settings")
