"""Run folders and command-line plumbing shared by ``train.py`` and ``evaluate.py``."""

from __future__ import annotations

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


class RunArtifacts(pl.Callback):
    """Writes ``labeled_indices.json`` into the run folder as soon as training starts."""

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        dm = trainer.datamodule
        if trainer.is_global_zero and dm is not None and trainer.log_dir:
            write_json(Path(trainer.log_dir) / "labeled_indices.json", dm.labeled_record())


_QUIET_WARNINGS = [
    r".*does not have many workers.*",
    r".*Trying to infer the `batch_size`.*",
    r".*The number of training batches .* is smaller than the logging interval.*",
    r".*`isinstance\(treespec, LeafSpec\)` is deprecated.*",
    r".*LeafSpec.*",
]


def quiet_library_noise() -> None:
    """Silence warnings that are expected by design (in-memory data needs no workers)."""
    for pattern in _QUIET_WARNINGS:
        warnings.filterwarnings("ignore", message=pattern)
    logging.getLogger("pytorch_lightning.utilities.rank_zero").setLevel(logging.WARNING)


def run_entry_point(fn: Callable[[list[str]], object], argv: Optional[list[str]] = None) -> int:
    """Run ``fn(args)``; a user error becomes one line on stderr and exit code 2.

    ``--debug`` anywhere on the command line shows the full traceback instead."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    if debug:
        args.remove("--debug")
    # the parsers read ``args``; an emptied sys.argv keeps LightningCLI from reading it twice
    sys.argv = sys.argv[:1]
    quiet_library_noise()
    try:
        fn(args)
    except SSGANError as e:
        if debug:
            traceback.print_exc()
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0
