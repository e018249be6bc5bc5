"""Multi-process training with Lightning's DDP (issue 8): ``train.py --trainer.strategy ddp
--trainer.devices 2 --trainer.accelerator cpu`` runs 2 processes over gloo, each on its own shard
of the data, with the weights kept in sync and the test metrics computed over the whole test set.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch

ROOT = Path(__file__).absolute().parents[2]
TESTS = Path(__file__).absolute().parent
EPOCHS = 2
STEPS_PER_RANK = 13 // 2  # digits: 13 global steps of 100 images, the odd one is dropped


class RecordRanks(pl.Callback):
    """Test helper for ``train.py`` subprocesses: writes ``rank<r>.json`` with the data indices
    each process trained on, whether the batches it received match them, and its parameters."""

    def __init__(self, out_dir: str):
        self.out_dir = Path(out_dir)
        self.record = {"epochs": [], "batches_match": True}
        self._steps: list = []

    def on_train_epoch_start(self, trainer, pl_module):
        probe = copy.copy(trainer.train_dataloader.sampler)  # same order, own position
        probe._resume = None
        self._steps = list(probe)
        self.record["epochs"].append({"unlabeled": [int(i) for s in self._steps for i in s[1]],
                                      "labeled": [int(i) for s in self._steps for i in s[0]]})

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        lab, unl_d, _ = self._steps[batch_idx]
        data = trainer.datamodule.data
        ok = torch.equal(batch[2].cpu(), data.x_train[unl_d]) and \
            torch.equal(batch[1].cpu(), data.y_train[lab])
        self.record["batches_match"] = self.record["batches_match"] and ok

    def on_train_end(self, trainer, pl_module):
        self.record.update(rank=trainer.global_rank, world_size=trainer.world_size,
                           labels=trainer.datamodule.data.y_train.tolist(),
                           params=[float(p.detach().double().sum()) for p in pl_module.parameters()])
        self.out_dir.mkdir(parents=True, exist_ok=True)
        (self.out_dir / f"rank{trainer.global_rank}.json").write_text(json.dumps(self.record))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_ddp_two_cpu_processes(tmp_path):
    save_dir, record_dir = tmp_path / "runs", tmp_path / "ranks"
    callbacks = [{"class_path": "test_ddp.RecordRanks", "init_args": {"out_dir": str(record_dir)}}]
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(TESTS), env.get("PYTHONPATH")) if p)
    env.pop("MASTER_ADDR", None)
    for attempt in range(3):
        # a port of our own: a free port found by the launcher can be taken by another job
        # (a parallel test run, another user) before the processes bind it
        env.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port()))
        shutil.rmtree(save_dir, ignore_errors=True)
        proc = subprocess.run(
            [sys.executable, str(ROOT / "train.py"), "--trainer.strategy", "ddp",
             "--trainer.devices", "2", "--trainer.accelerator", "cpu",
             "--trainer.max_epochs", str(EPOCHS), "--trainer.enable_progress_bar", "false",
             "--trainer.logger.init_args.save_dir", str(save_dir),
             "--trainer.callbacks", json.dumps(callbacks)],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=800)
        # gloo's rendezvous can also abort at start-up ("terminate called without an active
        # exception", seen once in CI right after both ranks initialised); try again as for a
        # taken port, with every assertion below unchanged. The same abort after the results were
        # written (seen once at exit, session 21) is a failure, not a retry.
        err = proc.stderr.lower()
        written = any(save_dir.glob("ssgan/*/metrics.json"))
        if proc.returncode == 0 or not ("address already in use" in err or
                                        ("terminate called without an active exception" in err
                                         and not written)):
            break
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "Traceback" not in proc.stderr

    (run_dir,) = sorted((save_dir / "ssgan").iterdir())
    metrics = json.loads((run_dir / "metrics.json").read_text())
    timing = json.loads((run_dir / "timing.json").read_text())
    assert timing["processes"] == 2
    # each process trained on its half of every epoch (2 optimizer steps per batch)
    assert metrics["epochs"] == EPOCHS and metrics["global_step"] == 2 * EPOCHS * STEPS_PER_RANK

    ranks = [json.loads((record_dir / f"rank{r}.json").read_text()) for r in range(2)]
    assert [r["world_size"] for r in ranks] == [2, 2]
    assert all(r["batches_match"] for r in ranks)
    labels = torch.tensor(ranks[0]["labels"])
    for epoch in range(EPOCHS):
        unl = [set(r["epochs"][epoch]["unlabeled"]) for r in ranks]
        assert len(unl[0]) == len(unl[1]) == STEPS_PER_RANK * 100
        assert not unl[0] & unl[1], "the processes must see different unlabeled data"
        for r in ranks:
            counts = torch.bincount(labels[r["epochs"][epoch]["labeled"]], minlength=10)
            assert counts.min() == counts.max(), "labeled batches must stay class-balanced"
    # gradients are averaged: the replicas stay identical
    assert ranks[0]["params"] == ranks[1]["params"]

    # the reported test accuracy is the accuracy on the whole test set
    from ssgan.evaluation import evaluate_checkpoint
    single = evaluate_checkpoint(run_dir / "checkpoints" / "last.ckpt")
    assert metrics["test/acc"] == pytest.approx(single["test/acc"], abs=1e-6)
