"""Run folders and command-line plumbing shared by ``train.py`` and ``evaluate.py``."""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import sys
import tempfile
import traceback
import warnings
from pathlib import Path
from typing import Callable, Optional

import pytorch_lightning as pl
from pytorch_lightning.loggers import CSVLogger
from pytorch_lightning.loggers.csv_logs import ExperimentWriter
from pytorch_lightning.utilities.exceptions import SIGTERMException
from pytorch_lightning.utilities.rank_zero import rank_zero_only

from .errors import SSGANError


def write_json(path: Path, obj) -> None:
    """Write JSON atomically: a reader never sees a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


def version_folders(root: Path) -> list[tuple[int, Path]]:
    """``(N, root/version_N)`` for every run folder under ``root`` (= save_dir/name), sorted by N."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = []
    for d in root.iterdir():
        if d.is_dir() and d.name.startswith("version_") and d.name[8:].isdigit():
            found.append((int(d.name[8:]), d))
    return sorted(found)


class RunArtifacts(pl.Callback):
    """Writes ``labeled_indices.json`` into the run folder as soon as training starts.

    When the run folder already has one (a resumed run), it is compared with the split the data
    module selected now instead of being overwritten: a different split stops the run."""

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        dm = trainer.datamodule
        if dm is None or not trainer.log_dir:
            return
        path = Path(trainer.log_dir) / "labeled_indices.json"
        record = dm.labeled_record()
        # every rank reads (so that all of them stop together), rank 0 writes
        if path.is_file():
            try:
                saved = json.loads(path.read_text())
            except (OSError, ValueError):
                saved = None
            if not isinstance(saved, dict) or saved.get("indices") != record["indices"]:
                raise SSGANError(f"the labeled split selected now differs from the one recorded in "
                                 f"{path}; resume with the run's own --data options "
                                 f"(see {path.parent / 'config.yaml'})")
        elif trainer.is_global_zero:
            write_json(path, record)


class _AppendingWriter(ExperimentWriter):
    """CSV writer that keeps the rows of an earlier session of the same run folder.

    Lightning's writer deletes an existing ``metrics.csv``; a resumed run appends to it instead."""

    def _check_log_dir_exists(self) -> None:
        if self._fs.isfile(self.metrics_file_path):
            with self._fs.open(self.metrics_file_path, "r", newline="") as f:
                header = next(csv.reader(f), [])
            self.metrics_keys = sorted(header)


class RunLogger(CSVLogger):
    """:class:`~pytorch_lightning.loggers.CSVLogger` that appends to the ``metrics.csv`` of a
    resumed run folder rather than deleting it (same options as CSVLogger)."""

    @property
    def experiment(self):
        if rank_zero_only.rank > 0:
            return super().experiment  # Lightning's dummy experiment
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _AppendingWriter(log_dir=self.log_dir)
        return self._experiment


_QUIET_WARNINGS = [
    r".*does not have many workers.*",
    r".*Trying to infer the `batch_size`.*",
    r".*The number of training batches .* is smaller than the logging interval.*",
    r".*`isinstance\(treespec, LeafSpec\)` is deprecated.*",
    r".*LeafSpec.*",
    # by design: the EMA copy of D is always in eval mode; without --data.val_size there is no
    # validation loader
    r".*module\(s\) in eval mode at the start of training.*",
    r".*Total length of `list` across ranks is zero.*",
    # accuracies come from torchmetrics, which synchronises across processes itself
    r".*It is recommended to use `self.log\('(val|test)/(acc|error)'.*",
]


def quiet_library_noise() -> None:
    """Silence warnings that are expected by design (in-memory data needs no workers)."""
    for pattern in _QUIET_WARNINGS:
        warnings.filterwarnings("ignore", message=pattern)
    logging.getLogger("pytorch_lightning.utilities.rank_zero").setLevel(logging.WARNING)
    # "Seed set to N": the seed is recorded in config.yaml
    logging.getLogger("lightning_fabric.utilities.seed").setLevel(logging.WARNING)


def _one_line(message: str) -> str:
    return " ".join(str(message).split())


def _rank() -> int:
    return int(getattr(rank_zero_only, "rank", 0) or 0)


def _close_process_group() -> None:
    """Close DDP's process group before the interpreter exits instead of leaving it to the
    interpreter's shutdown: one DDP run aborted there ("terminate called without an active
    exception", exit code 134) after its results were written (not reproduced since)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def run_entry_point(fn: Callable[[list[str]], object], argv: Optional[list[str]] = None) -> int:
    """Run ``fn(args)``; a user error becomes one line on stderr and exit code 2.

    * :class:`SSGANError` (and a command-line parse error): ``error: ...`` and exit code 2, or the
      error's own ``exit_code`` (a run stopped by the training guard exits with 3);
    * SIGTERM (after Lightning stopped the loop and the checkpoint was saved): exit code 143;
    * Ctrl-C: exit code 130.

    ``--debug`` anywhere on the command line shows the full traceback instead.

    ``sys.argv`` is left as it is: Lightning's DDP launcher starts the other processes with the
    same command line (``build_cli`` hides it from LightningCLI while parsing)."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    if debug:
        args = [a for a in args if a != "--debug"]
    quiet_library_noise()
    try:
        fn(args)
    except SSGANError as e:
        if debug:
            traceback.print_exc()
        code = getattr(e, "exit_code", 2)
        # under DDP every process stops with the same error; one line is enough
        if _rank() == 0 or not getattr(e, "same_on_all_ranks", False):
            prefix = "error" if _rank() == 0 else f"error (rank {_rank()})"
            print(f"{prefix}: {_one_line(e)}", file=sys.stderr)
        return code
    except argparse.ArgumentError as e:
        if debug:
            traceback.print_exc()
        prog = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "train.py"
        print(f"error: {_one_line(e.message if hasattr(e, 'message') else e)} "
              f"({prog} --help lists the options)", file=sys.stderr)
        return 2
    except SIGTERMException:
        if debug:
            traceback.print_exc()
        if _rank() == 0:
            print("stopped by SIGTERM; the last checkpoint was saved: run the same command with "
                  "--ckpt_path last to continue", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        _close_process_group()
    return 0
