"""The semi-supervised LightningDataModule: labeled split, unlabeled stream, test and val.

The whole dataset lives in memory as normalised tensors. A training "sample" is a whole step:
the sampler yields index tensors for (labeled, unlabeled-for-D, unlabeled-for-G) and the
dataset gathers them with one fancy-indexing call each, so there is no per-image Python or PIL
work on the training path. Optional augmentation (random translation, horizontal flip) runs on
whole batches after they reach the training device (:meth:`SSLDataModule.on_after_batch_transfer`).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Iterator, Optional, Sequence

import numpy as np
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Sampler

from ..errors import SSGANError, check_positive
from .sources import (UNLABELED, ImageData, check_options, get_source, load_dataset, log,
                      source_image_shape)

#: labeled images of a fully labeled (benchmark) source when --data.num_labels is not given
DEFAULT_NUM_LABELS = 50


def select_labeled(y: np.ndarray, num_labels: int, num_classes: int, seed_data: int, *,
                   classes: Optional[Sequence[str]] = None) -> np.ndarray:
    """Class-balanced labeled subset: permute with ``seed_data`` and take the first
    ``num_labels / K`` of each class (the improved-gan procedure). Returns sorted indices.
    ``classes`` (names) only make the error messages clearer."""
    if num_labels <= 0 or num_labels % num_classes:
        raise SSGANError(f"num_labels must be a positive multiple of the {num_classes} classes "
                         f"(e.g. {num_classes * max(1, num_labels // num_classes)}), got {num_labels}")
    per_class = num_labels // num_classes
    counts = np.bincount(y, minlength=num_classes)
    if counts.min() < per_class:
        c = int(counts.argmin())
        name = f" ({classes[c]})" if classes is not None and len(classes) > c else ""
        raise SSGANError(f"num_labels={num_labels} needs {per_class} images per class but class "
                         f"{c}{name} has only {counts[c]} in the training pool; use at most "
                         f"{counts.min() * num_classes} or add images")
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
    try:
        tr, va = train_test_split(idx, test_size=val_size, stratify=y, random_state=seed_data)
    except ValueError as e:  # e.g. a class with one image cannot be split stratified
        raise SSGANError(f"val_size={val_size}: cannot carve a stratified validation split "
                         f"from {len(y)} images: {' '.join(str(e).split())}") from None
    return np.sort(tr), np.sort(va)


def random_translate(x: Tensor, max_shift: int, generator: Optional[torch.Generator] = None) -> Tensor:
    """Shift each image of a batch (N, C, H, W) by its own random offset in
    [-max_shift, max_shift] pixels along each axis, reflect-padding the borders. One gather for
    the whole batch, on x's device."""
    if max_shift <= 0:
        return x
    n, c, h, w = x.shape
    pad = F.pad(x, (max_shift, max_shift, max_shift, max_shift), mode="reflect")
    off = torch.randint(0, 2 * max_shift + 1, (2, n, 1), device=x.device, generator=generator)
    rows = (torch.arange(h, device=x.device) + off[0])[:, :, None]   # (N, H, 1)
    cols = (torch.arange(w, device=x.device) + off[1])[:, None, :]   # (N, 1, W)
    batch = torch.arange(n, device=x.device)[:, None, None]
    return pad.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2).contiguous()


def random_hflip(x: Tensor, generator: Optional[torch.Generator] = None) -> Tensor:
    """Mirror a random half of the batch left-right."""
    flip = torch.rand(len(x), device=x.device, generator=generator) < 0.5
    return torch.where(flip[:, None, None, None], x.flip(-1), x)


def random_cutout(x: Tensor, size: int, generator: Optional[torch.Generator] = None) -> Tensor:
    """Cutout (DeVries & Taylor 2017, "Improved Regularization of Convolutional Neural Networks
    with Cutout"): set a ``size`` x ``size`` square of each image of a batch (N, C, H, W) to 0,
    the square's centre drawn uniformly over the image, so that near a border only the part
    inside the image is erased. 0 is the background of data in [0, 1]."""
    if size <= 0:
        return x
    n, _, h, w = x.shape
    centre = torch.rand(2, n, 1, device=x.device, generator=generator)
    top = (centre[0] * h).floor().long() - size // 2          # (N, 1)
    left = (centre[1] * w).floor().long() - size // 2
    rows = torch.arange(h, device=x.device)[None, :]           # (1, H)
    cols = torch.arange(w, device=x.device)[None, :]
    in_rows = (rows >= top) & (rows < top + size)              # (N, H)
    in_cols = (cols >= left) & (cols < left + size)            # (N, W)
    erased = in_rows[:, :, None] & in_cols[:, None, :]         # (N, H, W)
    return x.masked_fill(erased[:, None], 0.0)


def random_augment(x: Tensor, translate: int = 0, flip: bool = False) -> Tensor:
    """The training augmentation of a batch (N, C, H, W): :func:`random_translate` by up to
    ``translate`` pixels, then :func:`random_hflip` when ``flip``; the batch itself when
    neither. A shift must be smaller than the image (reflect padding needs it)."""
    if translate:
        if translate >= min(x.shape[-2:]):
            raise SSGANError(f"a translation of up to {translate} pixels needs images larger "
                             f"than that; these are {x.shape[-2]}x{x.shape[-1]}: use a shift "
                             f"below {min(x.shape[-2:])}")
        x = random_translate(x, translate)
    return random_hflip(x) if flip else x


class SSLBatchSampler(Sampler):
    """Yields, per step, index tensors ``(labeled, unlabeled_d, unlabeled_g)``.

    One epoch is one pass over the unlabeled pool in batches of ``batch_size`` (for D, and a
    second independent permutation for G, as in the original code). The labeled set is
    re-permuted and tiled to the same number of batches, so every labeled image is seen equally
    often and the labeled stream stays class-balanced. Shuffling is seeded from
    ``(seed, epoch)`` so a resumed run replays the same order.

    Under DDP each rank takes every ``world_size``-th step of the same global order, so the
    ranks see disjoint unlabeled batches and together one pass over the pool; the last
    ``global_steps % world_size`` steps are dropped so that every rank runs the same number of
    steps (unequal counts would hang the gradient all-reduce).

    The sampler is resumable: :meth:`state_dict` records the epoch and the steps handed out in
    it (the training loader passes both to Lightning, which saves them with its loop state), and
    after :meth:`load_state_dict` the first epoch iterated skips the steps already trained on,
    so a run resumed mid-epoch continues with the next step of the same order.
    """

    class Loader(DataLoader):
        """The training DataLoader, resumable through its sampler (Lightning saves the state of
        loaders with ``state_dict``/``load_state_dict`` in the checkpoint)."""

        def state_dict(self) -> dict:
            return self.sampler.state_dict()

        def load_state_dict(self, state: dict) -> None:
            self.sampler.load_state_dict(state)

    def __init__(self, labeled: Tensor, unlabeled: Tensor, batch_size: int,
                 labeled_batch_size: int, seed: int = 0,
                 labeled_classes: Optional[Tensor] = None):
        self.labeled, self.unlabeled = labeled, unlabeled
        # given for an imbalanced labeled set: each labeled batch then draws the classes equally
        self.labeled_classes = labeled_classes
        self.batch_size, self.labeled_batch_size = batch_size, labeled_batch_size
        self.seed, self.epoch = seed, 0
        self.rank, self.world_size = 0, 1
        self.global_steps = max(1, len(unlabeled) // batch_size)
        self.steps_done = 0  # steps handed out in the current epoch
        self._resume: Optional[tuple[int, int]] = None

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def set_distributed(self, rank: int, world_size: int) -> None:
        if self.global_steps < world_size:
            raise SSGANError(f"an epoch has only {self.global_steps} steps of batch_size "
                             f"{self.batch_size}, fewer than the {world_size} processes; lower "
                             "--data.batch_size or use fewer devices")
        self.rank, self.world_size = rank, world_size

    def _steps(self) -> range:
        """The global step numbers this rank trains on, in order."""
        usable = self.global_steps - self.global_steps % self.world_size
        return range(self.rank, usable, self.world_size)

    def __len__(self) -> int:
        return len(self._steps())

    def _tiled(self, pool: Tensor, n: int, g: torch.Generator) -> Tensor:
        reps = math.ceil(n / len(pool))
        return torch.cat([pool[torch.randperm(len(pool), generator=g)] for _ in range(reps)])[:n]

    def _class_balanced(self, steps: int, g: torch.Generator) -> Tensor:
        """``(steps, labeled_batch_size)`` labeled indices in which every batch starts with a
        random permutation of the classes (repeated to fill it), so each batch holds every class
        (when it has room for them) about equally often; within a class the images are
        re-permuted and tiled, so a class's images are seen equally often."""
        classes = torch.unique(self.labeled_classes)
        bl = self.labeled_batch_size
        order = torch.stack([self._tiled(torch.arange(len(classes)), bl, g) for _ in range(steps)])
        order = order.view(-1)
        out = torch.empty(len(order), dtype=self.labeled.dtype)
        for k, c in enumerate(classes):
            slots = (order == k).nonzero().squeeze(1)
            members = self.labeled[self.labeled_classes == c]
            out[slots] = self._tiled(members, len(slots), g)
        return out.view(steps, bl)

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "steps_done": self.steps_done, "seed": self.seed,
                "world_size": self.world_size, "global_steps": self.global_steps}

    def load_state_dict(self, state: dict) -> None:
        done = int(state.get("steps_done", 0))
        if 0 < done < len(self) and (state.get("world_size"), state.get("global_steps")) != \
                (self.world_size, self.global_steps):
            raise SSGANError(
                f"the checkpoint was saved in the middle of an epoch by {state.get('world_size')} "
                f"process(es) with {state.get('global_steps')} steps per epoch; resume it with the "
                "same --data.batch_size and number of processes (or from an end-of-epoch checkpoint)")
        self._resume = (int(state.get("epoch", -1)), done)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor, Tensor]]:
        g = torch.Generator().manual_seed((self.seed * 1_000_003 + self.epoch) % 2**63)
        n, b, bl = self.global_steps, self.batch_size, self.labeled_batch_size
        unl_d = self._tiled(self.unlabeled, n * b, g).view(n, b)
        unl_g = self._tiled(self.unlabeled, n * b, g).view(n, b)
        if self.labeled_classes is None:
            lab = self._tiled(self.labeled, n * bl, g).view(n, bl)
        else:
            lab = self._class_balanced(n, g)
        skip = 0
        if self._resume is not None:
            epoch, done = self._resume
            self._resume = None
            if epoch == self.epoch:
                skip = done
        self.steps_done = skip
        for i in self._steps()[skip:]:
            self.steps_done += 1
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
        dataset: a registered source: digits, fashion_mnist, mnist, svhn, cifar10,
            image_folder, npz (datasets/README.md says where each is looked for).
        data_root: where files are looked for and downloaded to.
        num_labels: labeled images, class-balanced (num_labels / K per class). Default: 50
            for a fully labeled source (the benchmarks); every labeled image for a source
            with its own unlabeled pool (image_folder's labeled/ + unlabeled/, npz with
            unlabeled.npz), where a number subsamples the user's labeled set.
        seed_data: seed of the labeled (and validation) split, independent of the training seed.
        batch_size: unlabeled images per step (for D, and again for G).
        labeled_batch_size: labeled images per step (default: batch_size).
        exclude_labeled: keep the labeled images out of the unlabeled pool.
        val_size: images carved (stratified) from the training set for validation; 0 = none.
            For a source with its own unlabeled pool they are carved from the labeled images.
        download: allow downloading missing files.
        eval_batch_size: batch size for validation and test.
        image_size: resize every image to image_size x image_size (any dataset; without it
            image_folder resizes images of mixed sizes to a size it chooses and reports).
        channels: 1 (grayscale) or 3 (RGB): convert the images (default: as stored; for
            image_folder, 1 when every image is grayscale).
        svhn_extra: svhn only: add the 531,131 'extra' images to the training pool.
        augment_translate: training batches only: shift each image by up to this many pixels
            (reflect padding), on the training device; 0 = off.
        augment_flip: training batches only: mirror a random half of each batch left-right.
    """

    def __init__(self, dataset: str = "digits", data_root: str = "datasets",
                 num_labels: Optional[int] = None,
                 seed_data: int = 1, batch_size: int = 100, labeled_batch_size: Optional[int] = None,
                 exclude_labeled: bool = False, val_size: int = 0, download: bool = True,
                 eval_batch_size: int = 1000, image_size: Optional[int] = None,
                 channels: Optional[int] = None, svhn_extra: bool = False,
                 augment_translate: int = 0, augment_flip: bool = False):
        super().__init__()
        self.source = get_source(dataset)
        check_positive("data.batch_size", batch_size)
        check_positive("data.labeled_batch_size", labeled_batch_size)
        check_positive("data.eval_batch_size", eval_batch_size)
        check_positive("data.val_size", val_size, allow_zero=True)
        check_positive("data.augment_translate", augment_translate, allow_zero=True)
        check_options(dataset, self._source_options(image_size, channels, svhn_extra))
        wanted = DEFAULT_NUM_LABELS if num_labels is None else num_labels
        if self.source.num_classes and wanted % self.source.num_classes:
            # fail before any data is read
            select_labeled(np.zeros(0, dtype=np.int64), wanted, self.source.num_classes, 0)
        self.save_hyperparameters()
        self.data: Optional[ImageData] = None
        self.labeled_indices: Optional[np.ndarray] = None
        self.balanced_labeled_classes: Optional[Tensor] = None
        if self.source.image_shape is None or self.source.num_classes is None:
            # the model needs the shape now: read the files here, where a user error surfaces
            # as itself (inside the CLI's argument links it would come wrapped in a ValueError)
            self._load()

    @staticmethod
    def _source_options(image_size, channels, svhn_extra) -> dict:
        """The options handed to the source (see ``ssgan.data.sources.load_dataset``)."""
        return {"image_size": image_size, "channels": channels, "svhn_extra": svhn_extra}

    # -- what the model needs before data is loaded ----------------------------------------
    @property
    def image_shape(self) -> tuple[int, int, int]:
        hp = self.hparams
        return (source_image_shape(hp.dataset, hp.image_size, hp.channels)
                or self._load().image_shape)

    @property
    def num_classes(self) -> int:
        return self.source.num_classes or self._load().num_classes

    def _load(self) -> ImageData:
        if self.data is None:
            hp = self.hparams
            root = os.path.expanduser(hp.data_root)
            self.data = load_dataset(hp.dataset, root, download=hp.download,
                                     **self._source_options(hp.image_size, hp.channels,
                                                            hp.svhn_extra))
        return self.data

    def prepare_data(self) -> None:
        # downloads happen here, once per node
        self._load()

    def setup(self, stage: Optional[str] = None) -> None:
        if self.labeled_indices is not None:
            return
        hp, data = self.hparams, self._load()
        y = data.y_train.numpy()
        if data.user_labeled:
            # the user's labeled set: validation is carved from it, and it is used whole unless
            # num_labels subsamples it
            labeled = np.flatnonzero(y != UNLABELED)
            keep, val = carve_validation(y[labeled], hp.val_size, hp.seed_data)
            val_idx = labeled[val]
            train_idx = np.setdiff1d(np.arange(len(y)), val_idx)
            lab = labeled[keep]
            if hp.num_labels is not None:
                lab = lab[select_labeled(y[lab], hp.num_labels, data.num_classes, hp.seed_data,
                                         classes=data.classes)]
        else:
            train_idx, val_idx = carve_validation(y, hp.val_size, hp.seed_data)
            num_labels = DEFAULT_NUM_LABELS if hp.num_labels is None else hp.num_labels
            lab = train_idx[select_labeled(y[train_idx], num_labels, data.num_classes,
                                           hp.seed_data, classes=data.classes)]
        unl = np.setdiff1d(train_idx, lab) if hp.exclude_labeled else train_idx
        self.labeled_indices, self.val_indices, self.unlabeled_indices = lab, val_idx, unl
        self._describe_split(y)

    def _describe_split(self, y: np.ndarray) -> None:
        """One line each: the labeled set and its sampling, and the missing test split."""
        data, lab = self.data, self.labeled_indices
        counts = np.bincount(y[lab], minlength=data.num_classes)
        missing = [data.classes[c] for c in np.flatnonzero(counts == 0)]
        if missing:
            raise SSGANError(f"no labeled training image in class(es) {', '.join(missing)}; "
                             "label some or lower --data.val_size")
        if counts.min() != counts.max():
            self.balanced_labeled_classes = torch.as_tensor(y[lab])
            bl = self.hparams.labeled_batch_size or self.hparams.batch_size
            log(f"labeled classes are imbalanced ({counts.min()} to {counts.max()} images per "
                f"class): each labeled batch of {bl} draws the {data.num_classes} classes equally "
                "often (class-balanced sampling; the images of small classes repeat more often)")
        if data.user_labeled:
            log(f"{len(lab)} labeled images, {len(self.unlabeled_indices)} in the unlabeled pool "
                f"({int((y == UNLABELED).sum())} without a label)")
        if not data.has_test:
            log(f"{self.hparams.dataset}: no test split in {self.hparams.data_root}, so no test "
                "error is computed" + ("" if len(self.val_indices) else
                                      "; --data.val_size N validates on N labeled images"))

    @property
    def has_test(self) -> bool:
        return self._load().has_test

    @property
    def num_labels_used(self) -> int:
        """The size of the labeled set (``num_labels`` resolved)."""
        self.setup()
        return len(self.labeled_indices)

    def pool_only_indices(self) -> np.ndarray:
        """Training images of the unlabeled pool that are not in the labeled set: what
        ``evaluate.py predict --unlabeled`` labels and ``suggest`` chooses from."""
        self.setup()
        return np.setdiff1d(self.unlabeled_indices, self.labeled_indices)

    def train_name(self, i: int) -> str:
        """Where training image ``i`` came from: its path, or ``DATASET:train[i]``."""
        names = self.data.train_names
        if names is None:
            return f"{self.hparams.dataset}:train[{i}]"
        return str(Path(os.path.expanduser(self.hparams.data_root)) / names[i])

    # -- loaders -------------------------------------------------------------------------------
    def train_dataloader(self) -> DataLoader:
        hp = self.hparams
        # the shuffling seed is taken once, before Lightning starts training (under DDP the
        # processes then re-seed their noise differently, see ssgan.callbacks.RNGState)
        seed = self.__dict__.setdefault("_sampler_seed", torch.initial_seed())
        sampler = SSLBatchSampler(torch.as_tensor(self.labeled_indices),
                                  torch.as_tensor(self.unlabeled_indices), hp.batch_size,
                                  hp.labeled_batch_size or hp.batch_size, seed=seed,
                                  labeled_classes=self.balanced_labeled_classes)
        trainer = self.trainer
        if trainer is not None and trainer.world_size > 1:
            sampler.set_distributed(trainer.global_rank, trainer.world_size)
        # an own generator: creating the iterator then draws nothing from the global one, so a
        # resumed run's random stream lines up with the uninterrupted run's
        return SSLBatchSampler.Loader(StepDataset(self.data.x_train, self.data.y_train),
                                      sampler=sampler, batch_size=None,
                                      generator=torch.Generator().manual_seed(seed % 2**63))

    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        """Batched augmentation of training steps, on the device the batch now lives on."""
        hp = self.hparams
        trainer = self.trainer
        if not (hp.augment_translate or hp.augment_flip) or trainer is None or not trainer.training:
            return batch
        x_lab, y_lab, x_unl, x_unl2 = batch
        sizes = [len(x_lab), len(x_unl), len(x_unl2)]
        x = torch.cat([x_lab, x_unl, x_unl2])
        x = random_augment(x, hp.augment_translate, hp.augment_flip)
        x_lab, x_unl, x_unl2 = x.split(sizes)
        return x_lab, y_lab, x_unl, x_unl2

    def _eval_loader(self, x: Tensor, y: Tensor) -> DataLoader:
        return DataLoader(SliceDataset(x, y, self.hparams.eval_batch_size), batch_size=None)

    def val_dataloader(self):
        if not len(self.val_indices):
            return []
        idx = torch.as_tensor(self.val_indices)
        return self._eval_loader(self.data.x_train[idx], self.data.y_train[idx])

    def test_dataloader(self):
        if not self.data.has_test:
            return []
        return self._eval_loader(self.data.x_test, self.data.y_test)

    # -- bookkeeping ---------------------------------------------------------------------------
    def labeled_record(self) -> dict:
        """The labeled split, as written to ``labeled_indices.json``."""
        lab = self.labeled_indices
        return {"dataset": self.hparams.dataset, "num_labels": len(lab),
                "seed_data": self.hparams.seed_data, "indices": [int(i) for i in lab],
                "labels": [int(v) for v in self.data.y_train[torch.as_tensor(lab)]]}

    def state_dict(self) -> dict:
        """Saved in checkpoints: the labeled split, and what ``evaluate.py predict``,
        ``suggest`` and ``export`` need to treat new images as training did."""
        state = {"labeled_indices": None if self.labeled_indices is None
                 else [int(i) for i in self.labeled_indices]}
        if self.data is not None:
            root = Path(os.path.expanduser(self.hparams.data_root))
            state.update({"classes": list(self.data.classes),
                          "image_shape": list(self.data.image_shape),
                          "preprocessing": dict(self.data.preprocessing),
                          "dataset": self.hparams.dataset, "data_root": str(root.resolve()),
                          "has_test": self.data.has_test})
        return state

    def load_state_dict(self, state: dict) -> None:
        saved = state.get("labeled_indices")
        if saved is None:
            return
        self.setup()
        if list(map(int, self.labeled_indices)) != list(saved):
            raise SSGANError("the checkpoint was trained on a different labeled split than "
                             "--data.num_labels/--data.seed_data select now; resume with the "
                             "checkpoint's own data settings")
