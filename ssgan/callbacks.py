"""Callbacks that make a training run trustworthy: resumable, reproducible and guarded.

* :class:`RunCheckpoint` (``--checkpoint.*``): ``last.ckpt`` written atomically at the end of
  every epoch, optionally every N training batches, and when the run receives SIGTERM.
* :class:`RNGState`: the random generators' states travel in the checkpoint, so that a run
  resumed on CPU continues exactly as the uninterrupted run would have; under DDP every process
  draws its own noise.
* :class:`TrainingGuard` (``--guard.*``): stops a run whose losses stop being finite or whose
  generator collapses, and keeps ``last.ckpt`` from being overwritten by such weights.
"""

from __future__ import annotations

import os
from typing import Any, Optional
from weakref import proxy

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback, ModelCheckpoint
from pytorch_lightning.utilities.exceptions import SIGTERMException
from pytorch_lightning.utilities.rank_zero import rank_zero_info, rank_zero_warn

from .errors import SSGANError, check_positive


class TrainingStopped(SSGANError):
    """The training guard stopped the run (divergence or collapse). Exit code 3.

    ``reason`` is ``"divergence"`` or ``"collapse"``, ``epoch``/``batch`` where it was noticed
    (0-based), ``checkpoint`` the last good ``last.ckpt`` (None when none had been written).
    ``train.py`` still tests the last good weights and writes ``metrics.json`` before it
    exits; it then sets ``metrics`` and ``run_dir`` here (see :func:`ssgan.cli.fit_and_test`)."""

    exit_code = 3
    same_on_all_ranks = True  # the guard's decision is reduced over all processes

    def __init__(self, message: str, reason: str = "", epoch: Optional[int] = None,
                 batch: Optional[int] = None, checkpoint: Optional[str] = None):
        super().__init__(message)
        self.reason, self.epoch, self.batch, self.checkpoint = reason, epoch, batch, checkpoint
        self.metrics: Optional[dict] = None
        self.run_dir = None


def _is_local(path: str) -> bool:
    return "://" not in str(path)


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:  # some file systems cannot fsync a directory
        pass
    finally:
        os.close(fd)


class RunCheckpoint(ModelCheckpoint):
    """Lightning's ModelCheckpoint, made for resuming:

    * ``last.ckpt`` is written at the end of every epoch (Lightning only writes it together
      with a top-k checkpoint), and every ``last_every_n_batches`` training batches if set;
    * every write is atomic: the checkpoint goes to ``<name>.tmp`` in the same folder, is
      flushed to disk and renamed over the old file, so a crash or SIGKILL leaves either the old
      or the new checkpoint, never a truncated one (remote ``scheme://`` paths use Lightning's
      own write);
    * on SIGTERM, Lightning stops after the current batch; ``last.ckpt`` is then written
      before the process exits;
    * a :class:`TrainingGuard` is consulted before each write: weights that produced
      non-finite losses or collapsed samples never replace the last good checkpoint.

    Args:
        last_every_n_batches: also write ``last.ckpt`` every N training batches (steps of the
            data loader; a GAN step is 2 of Lightning's optimizer steps). None = epoch ends only.
        **kwargs: the options of ModelCheckpoint.
    """

    def __init__(self, last_every_n_batches: Optional[int] = None, **kwargs: Any):
        check_positive("checkpoint.last_every_n_batches", last_every_n_batches)
        super().__init__(**kwargs)
        self.last_every_n_batches = last_every_n_batches

    # -- when ----------------------------------------------------------------------------------
    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                           outputs: Any, batch: Any, batch_idx: int) -> None:
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
        n = self.last_every_n_batches
        if n and (batch_idx + 1) % n == 0:
            self._save_last_now(trainer)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        super().on_train_epoch_end(trainer, pl_module)
        self._save_last_now(trainer)

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                     exception: BaseException) -> None:
        super().on_exception(trainer, pl_module, exception)
        if isinstance(exception, SIGTERMException) and self.save_last:
            if self._last_global_step_saved != trainer.global_step:
                self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))
            rank_zero_info(f"SIGTERM: checkpoint at step {trainer.global_step} in {self.last_model_path}")

    def _save_last_now(self, trainer: pl.Trainer) -> None:
        if self.save_last and not self._should_skip_saving_checkpoint(trainer):
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))

    # -- how -----------------------------------------------------------------------------------
    def _save_checkpoint(self, trainer: pl.Trainer, filepath: str) -> None:
        for guard in trainer.callbacks:
            if isinstance(guard, TrainingGuard) and not guard.allows_save(trainer):
                return
        if not _is_local(filepath):
            return super()._save_checkpoint(trainer, filepath)
        tmp = f"{filepath}.tmp"
        trainer.save_checkpoint(tmp, self.save_weights_only)
        if trainer.is_global_zero:
            _fsync(tmp)
            os.replace(tmp, filepath)
            _fsync(os.path.dirname(os.path.abspath(filepath)))
        trainer.strategy.barrier("RunCheckpoint._save_checkpoint")
        self._last_global_step_saved = trainer.global_step
        self._last_checkpoint_saved = filepath
        if trainer.is_global_zero:
            for logger in trainer.loggers:
                logger.after_save_checkpoint(proxy(self))


class RNGState(Callback):
    """Saves the torch random generators (CPU, and the current CUDA device's) of every process
    in the checkpoint and restores them when training resumes, so that on CPU a resumed run
    continues exactly as the uninterrupted run would have.

    Under DDP, process ``r > 0`` re-seeds its generators from ``(seed, r)`` when training
    starts, so that each process draws different noise (latents, D's input noise); model
    initialisation, data-dependent initialisation and the data order happen before and stay
    identical on all processes."""

    def __init__(self) -> None:
        self._restore: Optional[dict] = None

    @staticmethod
    def _local_states() -> dict:
        states = {"cpu": torch.get_rng_state()}
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            states["cuda"] = torch.cuda.get_rng_state()
        return states

    def on_save_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                           checkpoint: dict) -> None:
        local = self._local_states()
        if trainer.world_size > 1 and torch.distributed.is_initialized():
            # every process takes part (Lightning dumps the checkpoint on all of them)
            device = trainer.strategy.root_device
            gathered = {}
            for key, state in local.items():
                parts = [torch.empty_like(state, device=device) for _ in range(trainer.world_size)]
                torch.distributed.all_gather(parts, state.to(device))
                gathered[key] = [p.cpu() for p in parts]
            per_rank = [{k: g[r] for k, g in gathered.items()} for r in range(trainer.world_size)]
        else:
            per_rank = [local]
        checkpoint["rng_states"] = per_rank

    def on_load_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                           checkpoint: dict) -> None:
        states = checkpoint.get("rng_states") or []
        rank = trainer.global_rank
        self._restore = states[rank] if rank < len(states) else None

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._restore is not None:
            torch.set_rng_state(self._restore["cpu"].to(torch.uint8))
            if "cuda" in self._restore and torch.cuda.is_available():
                torch.cuda.set_rng_state(self._restore["cuda"].to(torch.uint8))
            self._restore = None
        elif trainer.global_rank > 0:
            torch.manual_seed((torch.initial_seed() + 1_000_003 * trainer.global_rank) % 2**63)


class TrainingGuard(Callback):
    """Stops a run whose losses stop being finite or whose generator collapses.

    The checks read ``loss_d``, ``loss_g`` and ``x_fake`` from what the training step returns.
    Every batch only keeps its losses (on the device) and a reference to its samples; every
    ``check_every_n_batches`` batches, and before every checkpoint write, the losses are read
    back (one host sync, plus one all-reduce under DDP, so that every process stops together)
    and the diversity of the latest batch of samples is measured. Weights that produced a
    non-finite loss are never written, and while the samples look collapsed ``last.ckpt`` is
    left as it is. A stopped run keeps its last good ``last.ckpt``; ``train.py`` tests it, writes
    ``metrics.json`` with the stop reason and exits with code 3.

    Args:
        stop_on_nonfinite: stop when a loss (or a generated pixel) is NaN or infinite.
        min_diversity: collapse threshold on the diversity of a batch of generated images:
            the standard deviation of every pixel across the batch, averaged over pixels, in the
            images' units (about 0.23 for real digits, 0.05-0.15 for a healthy G early on).
            0 turns the collapse check off.
        collapse_batches: stop when the diversity stays below ``min_diversity`` for this many
            consecutive training batches (sampled at every check: a low sample counts for all
            the batches since the previous one).
        check_every_n_batches: read the values back to the host every this many batches.
    """

    def __init__(self, stop_on_nonfinite: bool = True, min_diversity: float = 0.01,
                 collapse_batches: int = 100, check_every_n_batches: int = 10):
        check_positive("guard.min_diversity", min_diversity, allow_zero=True)
        check_positive("guard.collapse_batches", collapse_batches)
        check_positive("guard.check_every_n_batches", check_every_n_batches)
        self.stop_on_nonfinite = stop_on_nonfinite
        self.min_diversity = float(min_diversity)
        self.collapse_batches = int(collapse_batches)
        self.check_every_n_batches = int(check_every_n_batches)
        self._pending: list[torch.Tensor] = []  # per batch: are its losses finite (on the device)
        self._where: list[tuple[int, int]] = []
        self._last_fake: Optional[torch.Tensor] = None
        self.streak = 0  # consecutive low-diversity batches
        self._warned_streak = False

    @property
    def enabled(self) -> bool:
        return self.stop_on_nonfinite or self.min_diversity > 0

    @staticmethod
    def diversity(x_fake: torch.Tensor) -> torch.Tensor:
        """Per-pixel standard deviation across the batch, averaged over pixels."""
        x = x_fake.detach().flatten(1).float()
        return x.std(0).mean() if len(x) > 1 else x.new_tensor(float("nan"))

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                           outputs: Any, batch: Any, batch_idx: int) -> None:
        # kept cheap: this runs every step (measured: a per-step diversity and finiteness
        # check cost ~2 % of a Fashion-MNIST step, BENCHMARKS.md)
        if not self.enabled or not isinstance(outputs, dict):
            return
        losses = [v.detach().float().reshape(-1) for k, v in outputs.items()
                  if k.startswith("loss") and torch.is_tensor(v)]
        self._pending.append(torch.isfinite(torch.cat(losses)).all() if losses
                             else torch.ones((), dtype=torch.bool, device=pl_module.device))
        self._where.append((trainer.current_epoch, batch_idx))
        x_fake = outputs.get("x_fake")
        if torch.is_tensor(x_fake):
            self._last_fake = x_fake
        if len(self._pending) >= self.check_every_n_batches:
            self.check(trainer)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.check(trainer)

    def allows_save(self, trainer: pl.Trainer) -> bool:
        """Checks what is pending (raises :class:`TrainingStopped` when the run must stop);
        False while the samples look collapsed."""
        self.check(trainer)
        if self.streak and not self._warned_streak:
            rank_zero_warn(f"not updating the checkpoint: the generator's samples have had a "
                           f"diversity below {self.min_diversity} for {self.streak} batches")
            self._warned_streak = True
        return self.streak == 0

    def check(self, trainer: pl.Trainer) -> None:
        if not self._pending:
            return
        pending, where = self._pending, self._where
        self._pending, self._where = [], []
        bad = (~torch.stack(pending)).float()  # one flag per batch
        fake, self._last_fake = self._last_fake, None
        div = torch.full((), float("nan"), device=bad.device)
        if fake is not None:
            div = self.diversity(fake).to(bad.device)
            bad[-1] = torch.maximum(bad[-1], (~torch.isfinite(fake.detach())).any().float())
        stats = torch.cat([bad, div.reshape(1).to(bad.dtype)])
        if trainer.world_size > 1:
            stats = trainer.strategy.reduce(stats, reduce_op="mean")
        *bad_flags, div_value = stats.tolist()
        if self.stop_on_nonfinite:
            for flag, (epoch, batch_idx) in zip(bad_flags, where):
                if flag > 0:
                    self._stop(trainer, "divergence", epoch, batch_idx, f"training diverged: a loss became NaN or infinite at epoch "
                                        f"{epoch}, batch {batch_idx}",
                               "lower --model.lr, or turn the check off with --guard.stop_on_nonfinite false")
        if self.min_diversity > 0 and div_value == div_value:  # NaN: no samples to measure
            if div_value < self.min_diversity:
                self.streak += len(pending)
                if self.streak >= self.collapse_batches:
                    epoch, batch_idx = where[-1]
                    self._stop(trainer, "collapse", epoch, batch_idx, f"generator collapse: the diversity of its samples stayed "
                                        f"below --guard.min_diversity {self.min_diversity} for "
                                        f"{self.streak} batches (last {div_value:.2g} at epoch "
                                        f"{epoch}, batch {batch_idx})",
                               "change the objective or learning rates, or tune "
                               "--guard.min_diversity / --guard.collapse_batches (0 turns it off)")
            else:
                self.streak = 0
                self._warned_streak = False

    def _stop(self, trainer: pl.Trainer, reason: str, epoch: int, batch_idx: int, what: str,
              hint: str) -> None:
        kept = None
        for cb in trainer.checkpoint_callbacks:
            path = getattr(cb, "last_model_path", "")
            if path and (not _is_local(path) or os.path.isfile(path)):
                kept = path
                break
        where = (f"; the last good checkpoint is kept: {kept}" if kept
                 else " (no checkpoint had been written yet)")
        raise TrainingStopped(f"{what}; run stopped{where}. {hint}", reason=reason, epoch=epoch,
                              batch=batch_idx, checkpoint=kept)

    def state_dict(self) -> dict:
        return {"streak": self.streak}

    def load_state_dict(self, state_dict: dict) -> None:
        self.streak = int(state_dict.get("streak", 0))
