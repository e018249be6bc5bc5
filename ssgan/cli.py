"""``train.py``: LightningCLI over :class:`SSGAN` and :class:`SSLDataModule`.

Every option is typed and listed in ``--help``; ``--config FILE`` reads YAML. One run folder
(the logger's directory) receives ``config.yaml`` (the resolved config), ``labeled_indices.json``,
``metrics.csv`` (per-epoch logs), ``metrics.json`` (the final test metrics) and
``checkpoints/last.ckpt``.
"""

from __future__ import annotations

import json
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Optional

import pytorch_lightning as pl
from jsonargparse import lazy_instance
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.cli import LightningCLI
from pytorch_lightning.loggers import CSVLogger

from .data import SSLDataModule
from .errors import SSGANError
from .model import SSGAN
from .runs import RunArtifacts, run_entry_point, write_json


class SSGANCLI(LightningCLI):
    def add_arguments_to_parser(self, parser) -> None:
        parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
        parser.set_defaults({"checkpoint.save_last": True, "checkpoint.save_top_k": 0})
        parser.add_lightning_class_args(RunArtifacts, "run_artifacts")
        parser.link_arguments("data", "model.image_shape", apply_on="instantiate",
                              compute_fn=lambda dm: dm.image_shape)
        parser.link_arguments("data", "model.num_classes", apply_on="instantiate",
                              compute_fn=lambda dm: dm.num_classes)
        parser.add_argument("--ckpt_path", type=Optional[str], default=None,
                            help="resume training from this checkpoint ('last' = the run's last.ckpt)")
        parser.add_argument("--test", type=bool, default=True,
                            help="evaluate on the test split after training")


TRAINER_DEFAULTS = {
    "max_epochs": 100,
    "logger": lazy_instance(CSVLogger, save_dir="runs", name="ssgan"),
    "log_every_n_steps": 50,
    "num_sanity_val_steps": 0,
    "use_distributed_sampler": False,  # the SSL sampler shards itself
    "enable_model_summary": False,
}


def fit_and_test(cli: SSGANCLI) -> dict:
    """Train, test the final weights and write ``metrics.json``; returns the metrics."""
    trainer, model, dm = cli.trainer, cli.model, cli.datamodule
    ckpt_path = cli.config.get("ckpt_path")
    start = time.perf_counter()
    trainer.fit(model, datamodule=dm, ckpt_path=ckpt_path)
    train_seconds = time.perf_counter() - start
    metrics: dict = {}
    if cli.config.get("test", True):
        results = trainer.test(model, datamodule=dm, verbose=False)
        metrics.update({k: float(v) for k, v in results[0].items()})
    metrics.update({"train_seconds": round(train_seconds, 3), "epochs": trainer.current_epoch,
                    "global_step": trainer.global_step,
                    "num_labels": dm.hparams.num_labels, "dataset": dm.hparams.dataset})
    run_dir = Path(trainer.log_dir)
    if trainer.is_global_zero:
        write_json(run_dir / "metrics.json", metrics)
        if "test/acc" in metrics:
            print(f"test accuracy: {metrics['test/acc']:.4f}")
        print(f"run folder: {run_dir}")
    return metrics


def build_cli(args: list[str]) -> SSGANCLI:
    """Parse ``args`` exactly as ``train.py`` does and instantiate model, data and trainer."""
    return SSGANCLI(SSGAN, SSLDataModule, run=False, args=args,
                    trainer_defaults=TRAINER_DEFAULTS, save_config_kwargs={"overwrite": True},
                    seed_everything_default=0, auto_configure_optimizers=False,
                    parser_kwargs={"description": "Train a semi-supervised GAN classifier."})


def run_training(args: list[str]) -> tuple[dict, Path]:
    """Programmatic ``train.py``: returns ``(metrics, run_dir)``. Used by sweeps and tests."""
    cli = build_cli(list(args))
    metrics = fit_and_test(cli)
    return metrics, Path(cli.trainer.log_dir)


def main(argv: Optional[list[str]] = None) -> int:
    return run_entry_point(lambda args: fit_and_test(build_cli(args)), argv)
