import csv
import os
import warnings

import pytest
import torch

from ssgan.runs import quiet_library_noise

# tiny networks: one thread is as fast and never oversubscribes a shared machine
torch.set_num_threads(1)
quiet_library_noise()


def logged_metrics(run_dir) -> dict:
    """Every value logged in a run folder's metrics.csv, the last one of each column winning."""
    out = {}
    with open(run_dir / "metrics.csv") as f:
        for row in csv.DictReader(f):
            out.update({k: float(v) for k, v in row.items() if v not in ("", None)})
    return out


@pytest.fixture
def quiet_trainer_args(tmp_path):
    """CLI arguments that keep a test run small, silent and inside tmp_path."""
    return ["--trainer.enable_progress_bar", "false",
            "--trainer.logger.init_args.save_dir", str(tmp_path / "runs"),
            "--data.data_root", str(tmp_path / "data")]
