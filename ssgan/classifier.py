"""What the two LightningModules share: the classifier D and its evaluation copy.

:class:`ClassifierModule` is the base of :class:`~ssgan.model.SSGAN` and of the supervised-only
baseline :class:`~ssgan.supervised.Supervised`, so that both train the same classifier network
with the same optimiser settings, from the same defaults (the signature below is the one
source of them): Adam with ``lr`` and ``betas``, an optional linear learning-rate decay, the
data-dependent initialisation of D's weight-normalised layers, the EMA copy of D used for
validation and test, and the per-epoch training logs. Pick the module on the command line with
``--model SSGAN`` (the default) or ``--model Supervised``.
"""

from __future__ import annotations

import inspect
import warnings
from typing import Callable, Optional

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Timer
import torch
import torch.nn.functional as F
from jsonargparse import lazy_instance
from torch import Tensor, nn
from torchmetrics.classification import MulticlassAccuracy

from .ema import EMA
from .errors import SSGANError, check_positive
from .networks import Auto, Networks
from .regularizers.base import evaluation_mode


def training_augmentation(datamodule) -> Callable[[Tensor], Tensor]:
    """The data module's training augmentation as a function of a batch (a fresh random draw
    each call; the identity when augmentation is off), for regularizers that want a second
    view of a batch."""
    own = getattr(datamodule, "augment", None)
    if callable(own):
        return own
    hp = getattr(datamodule, "hparams", {})
    translate, flip = hp.get("augment_translate", 0), hp.get("augment_flip", False)
    from .data.module import random_augment  # the identity when both are off

    return lambda x: random_augment(x, translate, flip)


def lr_decay_factor(progress: float, start: float) -> float:
    """The learning-rate factor of the linear decay: 1 until ``start`` (a fraction of the
    training budget), then linearly to 0 at the end, ``min(1, (1 - progress) / (1 - start))``
    (the original code's schedule: Salimans et al. 2016, older MNIST variant and CIFAR/SVHN,
    decay over the last third)."""
    return min(1.0, max(0.0, (1.0 - progress) / (1.0 - start)))


def prior_shift(logits: Tensor, prior: Optional[Tensor] = None, iterations: int = 100) -> Tensor:
    """The per-class shift ``b`` of the class logits after which the mean K-class prediction over
    ``logits`` is ``prior`` (uniform when None): ``mean_i softmax(l_i + b) = prior``.

    Found by the fixed-point iteration ``b <- b - log(mean_i softmax(l_i + b) / prior)`` (the
    known-prior case of Saerens, Latinne & Decaestecker 2002, "Adjusting the Outputs of a
    Classifier to New a Priori Probabilities"; ReMixMatch's distribution alignment, Berthelot et
    al. 2020, applies the same ratio to its targets). ``b`` is defined up to a constant; this one
    has mean 0 across classes."""
    logits = logits.detach().double()
    k = logits.shape[1]
    if prior is None:
        target = torch.full((k,), 1.0 / k, dtype=torch.float64, device=logits.device)
    else:
        target = prior.to(logits).clamp_min(1e-12)
        target = target / target.sum()
    b = torch.zeros(k, dtype=torch.float64, device=logits.device)
    for _ in range(iterations):
        b -= torch.log(F.softmax(logits + b, 1).mean(0) / target)
    return (b - b.mean()).float()


#: the scale of the class-mean readout's logits, ``scale * cos``: cosine similarities lie in
#: [-1, 1], far too flat a softmax for probabilities; 10 is the usual order for cosine
#: classifiers (NormFace, Wang et al. 2017). It changes the probabilities, not the predictions
CLASS_MEAN_SCALE = 10.0

#: ``readout`` choices: D's K-class head, or the nearest class mean of its features
READOUTS = ("head", "class_mean")


def class_mean_logits(features: Tensor, class_means: Tensor, scale: float = CLASS_MEAN_SCALE) -> Tensor:
    """``scale * cos(f_i, m_k)``: the class logits of the nearest-class-mean readout, with
    ``class_means`` (K, F) already L2-normalised (:func:`class_means_of`)."""
    return scale * F.normalize(features.flatten(1).float(), dim=1) @ class_means.T.to(torch.float32)


def read_class_logits(out, class_means: Optional[Tensor] = None) -> Tensor:
    """The class logits of a D output (:class:`~ssgan.networks.base.DOutput`): the head's, or
    with ``class_means`` the class-mean readout's (:func:`class_mean_logits`)."""
    return out.logits if class_means is None else class_mean_logits(out.features, class_means)


def class_means_of(features: Tensor, labels: Tensor, num_classes: int) -> Tensor:
    """(K, F): per class, the mean of the L2-normalised features of its labeled images,
    L2-normalised; a class with no labeled image gets a zero row (cosine 0 to everything)."""
    f = F.normalize(features.flatten(1).float(), dim=1)
    sums = torch.zeros(num_classes, f.shape[1], dtype=f.dtype, device=f.device).index_add_(0, labels, f)
    return F.normalize(sums, dim=1)


def _timers(trainer) -> list[Timer]:
    return [cb for cb in trainer.callbacks if isinstance(cb, Timer) and cb.time_remaining() is not None]


def has_budget(trainer) -> bool:
    """Whether the run ends by a limit: ``max_steps``, ``max_epochs`` or ``max_time``."""
    return ((trainer.max_steps or -1) > 0 or (trainer.max_epochs or -1) > 0
            or bool(_timers(trainer)))


def budget_progress(trainer, batch_idx: int) -> Optional[float]:
    """The fraction of the training budget done before batch ``batch_idx`` of the current
    epoch, or None when the run has no finite budget.

    Each limit in force gives a fraction: ``global_step / max_steps`` (optimizer steps),
    ``(epoch + batch_idx / batches_per_epoch) / max_epochs`` and, for ``max_time``, the elapsed
    training time over the duration (Lightning's ``Timer``, which a resumed run restores).
    Lightning stops at whichever limit comes first, so the progress is the largest fraction."""
    fractions = []
    if (trainer.max_steps or -1) > 0:
        fractions.append(trainer.global_step / trainer.max_steps)
    if (trainer.max_epochs or -1) > 0:
        fractions.append((trainer.current_epoch + batch_idx / trainer.num_training_batches)
                         / trainer.max_epochs)
    for timer in _timers(trainer):
        elapsed = timer.time_elapsed()
        # duration = elapsed + remaining, through the public API
        fractions.append(elapsed / (elapsed + timer.time_remaining()))
    return max(fractions) if fractions else None


def default(option: str):
    """The default of one of :class:`ClassifierModule`'s options (its signature is the one
    source of them), for code that reads options from a checkpoint that may lack them."""
    return inspect.signature(ClassifierModule.__init__).parameters[option].default


class ClassifierModule(pl.LightningModule):
    """Base class of the training modules (see the module docstring).

    Args:
        image_shape: (C, H, W) of the images; linked from the data module.
        num_classes: K; linked from the data module.
        networks: the component that builds D (and G): ``Auto`` (by image size), ``MLP`` or
            ``Conv``, with their own options (``--model.networks.help MLP``).
        lr: Adam learning rate of D (and of G unless ``lr_g`` is set).
        betas: Adam betas.
        adam_eps: Adam's epsilon (torch's default 1e-8). torch divides by ``sqrt(v_hat) + eps``,
            the original code (openai/improved-gan, Theano/Lasagne-style Adam) by
            ``sqrt(v_hat + 1e-8)``. G's feature-matching gradients are mostly below 1e-4, where
            the two differ: the original's G steps up to ~10x smaller. ``adam_eps`` about 1e-4
            approximates the original for such gradients (REFERENCE.md, "Differences").
        lr_decay_start: fraction of the training budget (``trainer.max_steps``, ``max_epochs``
            or ``max_time``, whichever ends the run first: :func:`budget_progress`) after which
            the learning rates decay linearly to 0 at the last step (1 = constant learning
            rates; the older variant of the original MNIST code and the CIFAR/SVHN code decay
            over the last third: 0.667).
        ema: evaluate with an exponential moving average of D's weights.
        ema_decay: nominal decay of that average.
        ema_bias_correction: average from zero with Adam's bias correction (Kingma & Ba 2015,
            section 3), ``shadow / (1 - ema_decay^t)``, at the nominal decay from the first
            update, instead of the warm-up ``min(ema_decay, (1 + t) / (10 + t))``; lets the
            original's 0.9999 serve short runs (:class:`~ssgan.ema.EMA`).
        data_init: data-dependent initialisation of D's weight-normalised layers.
        data_init_size: number of training images used for it.
        align_prior: shift D's class logits by one constant per class, so that its mean K-class
            prediction over the unlabeled training images is uniform (:func:`prior_shift`),
            before every validation, test and checkpoint; the shift is saved in the checkpoint
            and applied wherever the classifier predicts (test, ``evaluate.py predict``,
            export). Assumes the classes are about equally common among the unlabeled images.
            With few labels D may predict one class for far fewer images than its share (on
            Fashion-MNIST-100, Shirt for 1 % of them). On 30-minute Fashion-MNIST-100 checkpoints
            it lowered the error of all 4 trained without ``ClassBalance`` (by 0.45-1.95 points)
            and was mixed on the 3 trained with it (BENCHMARKS.md, session 11).
        readout: how the class is read from D. ``head``: D's K class logits. ``class_mean``:
            the nearest class mean of D's features (the feature-matching layer): each labeled
            image's features are L2-normalised, averaged per class and normalised again, and an
            image's class logits are ``CLASS_MEAN_SCALE * cos(features, mean_k)``
            (:func:`class_mean_logits`; the nearest-class-mean classifier of Mensink et al. 2013
            on cosine similarity). The means are set from the evaluation weights before every
            validation, test and checkpoint, saved in the checkpoint and used wherever the
            classifier predicts. With 10 labels per class D's head fits the labeled images
            while the class means average them. On 12 30-minute Fashion-MNIST-100 checkpoints
            of ``configs/conv_mlp_mirror.yaml`` + ``ClassBalance`` (sessions 11-16) the class
            means were lower than the head on 10, by up to 2.54 points, and higher on 2 (by 0.09
            and 0.16, both split seed 0): 21.20 / 22.49 / 21.07 % against 21.04 / 23.67 / 21.89 %
            on seeds 0 / 1 / 2 in session 16 (BENCHMARKS.md). On digits-50
            (``configs/recommended.yaml``) it was lower on 3 of 3 splits in session 16 (22 / 20 /
            26 of 450 wrong against 24 / 22 / 27) and higher on 3 of 3 in session 7, so
            ``head`` stays the default until more is measured.
    """

    #: unlabeled images that estimate D's mean prediction for ``align_prior``: enough for each
    #: of 10 classes' share to within about +-0.3 points (binomial standard error), at the cost
    #: of one evaluation forward pass over them
    ALIGN_PRIOR_IMAGES = 10_000

    def __init__(self, image_shape: tuple[int, int, int] = (1, 8, 8), num_classes: int = 10,
                 networks: Networks = lazy_instance(Auto), lr: float = 0.003,
                 betas: tuple[float, float] = (0.5, 0.999), adam_eps: float = 1e-8,
                 lr_decay_start: float = 1.0, ema: bool = True, ema_decay: float = 0.999,
                 ema_bias_correction: bool = False, data_init: bool = True,
                 data_init_size: int = 500, align_prior: bool = False, readout: str = "head"):
        super().__init__()
        check_positive("model.lr", lr)
        check_positive("model.adam_eps", adam_eps)
        check_positive("model.data_init_size", data_init_size)
        if not 0 <= lr_decay_start <= 1:
            raise SSGANError(f"model.lr_decay_start must be a fraction of the run in [0, 1], "
                             f"got {lr_decay_start}")
        if not 0 <= ema_decay < 1:
            raise SSGANError(f"model.ema_decay must be in [0, 1), got {ema_decay}")
        if readout not in READOUTS:
            raise SSGANError(f"model.readout must be one of {', '.join(READOUTS)}, got {readout!r}")
        with warnings.catch_warnings():
            # the components are objects only when the module is built in Python; train.py
            # saves them as class_path/init_args, which is what reloads a checkpoint
            warnings.filterwarnings("ignore", message=r".*is an instance of `nn.Module`.*")
            self.save_hyperparameters()
        self.automatic_optimization = False
        self.image_shape, self.num_classes = tuple(image_shape), int(num_classes)
        self.networks = networks
        self.use_ema, self.ema_decay = bool(ema), float(ema_decay)
        self.ema_bias_correction = bool(ema_bias_correction)
        self.ema: Optional[EMA] = None
        if align_prior:  # only then: checkpoints without it keep their state_dict keys
            self.register_buffer("class_logit_shift", torch.zeros(self.num_classes))
        self.val_acc = MulticlassAccuracy(num_classes, average="micro")
        self.test_acc = MulticlassAccuracy(num_classes, average="micro")
        # training values summed over the epoch so far (see _accumulate_train_logs)
        self._train_log_keys: tuple[str, ...] = ()
        self._train_log_sums: Optional[Tensor] = None
        self._train_log_count = 0

    def _build_networks(self, conditional: bool = False) -> tuple[nn.Module, nn.Module]:
        return self.networks.build(self.image_shape, self.num_classes, conditional)

    def _init_ema(self) -> None:
        """The EMA copy of D and, with ``readout class_mean``, the class means' buffer (once D
        exists, whose ``feature_dim`` sizes it); without the option the state_dict keys stay
        those of older checkpoints."""
        self.ema = (EMA(self.discriminator, self.ema_decay, bias_correction=self.ema_bias_correction)
                    if self.use_ema else None)
        if self.hparams.get("readout", "head") == "class_mean":
            self.register_buffer("class_means", torch.zeros(self.num_classes,
                                                            self.discriminator.feature_dim))

    #: whether the module trains a generator (sample quality, augmentation need one)
    has_generator = False
    #: optimizer steps per training batch, what Lightning's ``max_steps`` counts
    optimizer_steps_per_batch = 1

    # -- public helpers ------------------------------------------------------------------------
    @property
    def eval_discriminator(self) -> nn.Module:
        """The weights used for evaluation: the EMA copy when enabled."""
        return self.ema.module if self.ema is not None else self.discriminator

    def shift_logits(self, logits: Tensor) -> Tensor:
        """D's class logits plus the ``align_prior`` shift (unchanged without the option)."""
        shift = getattr(self, "class_logit_shift", None)
        return logits if shift is None else logits + shift.to(logits.dtype)

    def _unshifted_logits(self, out) -> Tensor:
        return read_class_logits(out, getattr(self, "class_means", None))

    def readout_logits(self, out) -> Tensor:
        """The class logits of a D output (:class:`~ssgan.networks.base.DOutput`) as the
        classifier reads them: the head's or the class means' (``readout``), shifted
        (:meth:`shift_logits`)."""
        return self.shift_logits(self._unshifted_logits(out))

    def classify(self, x: Tensor) -> Tensor:
        """The class logits the classifier predicts with: :meth:`readout_logits` of the
        evaluation weights; eval-mode outputs need the module in evaluation mode."""
        return self.readout_logits(self.eval_discriminator(x))

    @torch.no_grad()
    def predict_logits(self, x: Tensor) -> Tensor:
        with evaluation_mode(self.eval_discriminator):
            return self.classify(x)

    @torch.no_grad()
    def align_prior(self, datamodule=None) -> None:
        """Set the ``align_prior`` shift from the current evaluation weights and a fixed subset
        of the unlabeled images of ``datamodule`` (default: the trainer's; the same subset each
        time)."""
        dm = datamodule if datamodule is not None else self.trainer.datamodule
        idx = torch.as_tensor(dm.unlabeled_indices)
        g = torch.Generator().manual_seed(0)
        idx = idx[torch.randperm(len(idx), generator=g)[: self.ALIGN_PRIOR_IMAGES]]
        with evaluation_mode(self.eval_discriminator) as d:
            logits = torch.cat([self._unshifted_logits(d(dm.data.x_train[idx[i:i + 1000]].to(self.device)))
                                for i in range(0, len(idx), 1000)])
        self.class_logit_shift.copy_(prior_shift(logits.float()))

    @torch.no_grad()
    def set_class_means(self, datamodule=None) -> None:
        """Set the ``readout class_mean`` means from the current evaluation weights and the
        labeled images of ``datamodule`` (default: the trainer's)."""
        dm = datamodule if datamodule is not None else self.trainer.datamodule
        lab = torch.as_tensor(dm.labeled_indices)
        with evaluation_mode(self.eval_discriminator) as d:
            feats = torch.cat([d(dm.data.x_train[lab[i:i + 1000]].to(self.device)).features
                               for i in range(0, len(lab), 1000)])
        self.class_means.copy_(class_means_of(feats, dm.data.y_train[lab].to(feats.device),
                                              self.num_classes))

    # -- training ------------------------------------------------------------------------------
    def learning_rates(self) -> list[float]:
        """The base learning rate of each optimizer, in order."""
        return [self.hparams.lr]

    def _optimizers(self) -> list:
        opts = self.optimizers()
        return list(opts) if isinstance(opts, (list, tuple)) else [opts]

    def _apply_lr_schedule(self, batch_idx: int) -> None:
        """Linear decay to 0 over the last ``1 - lr_decay_start`` of the training budget, batch
        by batch (derived from the trainer's counters, so a resumed run continues the same
        schedule); see :func:`budget_progress` and :func:`lr_decay_factor`."""
        start = self.hparams.lr_decay_start
        if start >= 1:
            return
        factor = lr_decay_factor(budget_progress(self.trainer, batch_idx), start)
        for opt, lr in zip(self._optimizers(), self.learning_rates()):
            for group in opt.param_groups:
                group["lr"] = lr * factor

    def on_fit_start(self) -> None:
        if self.hparams.lr_decay_start < 1 and not has_budget(self.trainer):
            raise SSGANError("model.lr_decay_start < 1 decays the learning rates to 0 at the end "
                             "of the training budget, and this run has none; set "
                             "trainer.max_steps, trainer.max_epochs or trainer.max_time, or leave "
                             "model.lr_decay_start at 1")
        d = self.discriminator
        if self.hparams.data_init and hasattr(d, "data_init") and not bool(d.initialised):
            dm = self.trainer.datamodule
            idx = torch.as_tensor(dm.unlabeled_indices)
            g = torch.Generator().manual_seed(torch.initial_seed() % 2**63)
            pick = idx[torch.randperm(len(idx), generator=g)[: self.hparams.data_init_size]]
            d.data_init(dm.data.x_train[pick].to(self.device))
            if self.ema is not None:
                self.ema.module.load_state_dict(d.state_dict())

    # -- training logs -------------------------------------------------------------------------
    # Lightning's self.log costs about 0.5 ms a key on CPU (~8 keys: ~10% of a Fashion-MNIST
    # step, see BENCHMARKS.md), so the step only adds its values into one tensor on the device
    # and the epoch means are logged once, at the end of the epoch (all batches have the same
    # size, so this is the mean Lightning's on_epoch=True would give).
    def _accumulate_train_logs(self, logs: dict[str, Tensor]) -> None:
        keys = tuple(logs)
        if keys != self._train_log_keys:
            self._flush_train_logs()
            self._train_log_keys = keys
        values = torch.stack([v.detach().float().reshape(()) for v in logs.values()])
        if self._train_log_sums is None:
            self._train_log_sums, self._train_log_count = values, 1
        else:
            self._train_log_sums.add_(values)
            self._train_log_count += 1

    def _flush_train_logs(self) -> None:
        if self._train_log_sums is not None and self._train_log_count:
            means = self._train_log_sums / self._train_log_count
            self.log_dict(dict(zip(self._train_log_keys, means.unbind())), on_step=False,
                          on_epoch=True, sync_dist=True)
        self._train_log_sums, self._train_log_count = None, 0

    def on_train_epoch_start(self) -> None:
        self._train_log_sums, self._train_log_count = None, 0

    def on_train_epoch_end(self) -> None:
        self._flush_train_logs()

    # -- evaluation ----------------------------------------------------------------------------
    def _prepare_readout(self) -> None:
        """Class means first: the ``align_prior`` shift is computed on the readout's logits."""
        if getattr(self.trainer, "datamodule", None) is None:
            return
        if hasattr(self, "class_means"):
            self.set_class_means()
        if self.hparams.get("align_prior"):
            self.align_prior()

    def on_validation_epoch_start(self) -> None:
        self._prepare_readout()

    def on_test_epoch_start(self) -> None:
        self._prepare_readout()

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        # the weights may have moved since the last validation (e.g. a run stopped by max_time)
        self._prepare_readout()
        for name in ("class_means", "class_logit_shift"):
            if hasattr(self, name):
                checkpoint["state_dict"][name] = getattr(self, name).clone()

    def _eval_step(self, batch, metric: MulticlassAccuracy, prefix: str) -> None:
        x, y = batch
        logits = self.classify(x)
        metric.update(logits, y)
        self.log(f"{prefix}/loss", F.cross_entropy(logits, y), on_epoch=True, batch_size=len(y),
                 sync_dist=True)

    def validation_step(self, batch, batch_idx: int) -> None:
        self._eval_step(batch, self.val_acc, "val")

    def on_validation_epoch_end(self) -> None:
        acc = self.val_acc.compute()
        self.log_dict({"val/acc": acc, "val/error": 1 - acc})
        self.val_acc.reset()

    def test_step(self, batch, batch_idx: int) -> None:
        self._eval_step(batch, self.test_acc, "test")

    def on_test_epoch_end(self) -> None:
        acc = self.test_acc.compute()
        self.log_dict({"test/acc": acc, "test/error": 1 - acc})
        self.test_acc.reset()
