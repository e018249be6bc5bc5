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


def supervised_loss_before_after(d, x, y, steps: int, lr: float = 3e-3) -> tuple[float, float]:
    """D's cross-entropy on ``(x, y)`` in evaluation mode, before and after ``steps`` Adam steps
    on it in training mode."""
    import torch.nn.functional as F

    def eval_loss():
        d.eval()
        with torch.no_grad():
            loss = F.cross_entropy(d(x).logits, y).item()
        d.train()
        return loss

    before = eval_loss()
    opt = torch.optim.Adam(d.parameters(), lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        F.cross_entropy(d(x).logits, y).backward()
        opt.step()
    return before, eval_loss()


@pytest.fixture
def quiet_trainer_args(tmp_path):
    """CLI arguments that keep a test run small, silent and inside tmp_path."""
    return ["--trainer.enable_progress_bar", "false",
            "--trainer.logger.init_args.save_dir", str(tmp_path / "runs"),
            "--data.data_root", str(tmp_path / "data")]
