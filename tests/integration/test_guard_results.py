"""No lost result (issue 14, item 6): a run stopped by the training guard tests its last good
checkpoint and writes metrics.json with the stop reason, and a sweep records such a row and
goes on with the others.

The stops are forced with a diversity threshold no sample reaches (``--guard.min_diversity
10``, in the images' units of [0, 1]). While samples look collapsed the guard never lets a
checkpoint be written, so the "last good checkpoint" comes from a first, unguarded session of
the same run folder that the guarded session resumes. Digits, 13 batches per epoch."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest

from ssgan.callbacks import TrainingStopped
from ssgan.cli import main, run_training
from ssgan import sweep

STEPS = 13  # digits: batches per epoch
FORCE_COLLAPSE = ["--guard.min_diversity", "10", "--guard.collapse_batches", "6",
                  "--guard.check_every_n_batches", "3"]


def args(save_dir: Path, epochs: int, *extra: str) -> list[str]:
    return ["--trainer.max_epochs", str(epochs), "--trainer.enable_progress_bar", "false",
            "--trainer.logger.init_args.save_dir", str(save_dir), *extra]


def test_a_stopped_run_tests_its_last_good_checkpoint(tmp_path, capsys):
    runs = tmp_path / "runs"
    assert main(args(runs, 1)) == 0
    run_dir = runs / "ssgan" / "version_0"
    first = json.loads((run_dir / "metrics.json").read_text())  # the weights of last.ckpt
    capsys.readouterr()

    # the same run continued with a threshold no sample reaches: stopped during epoch 1
    assert main(args(runs, 3, "--ckpt_path", "last", *FORCE_COLLAPSE)) == 3
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error")]
    assert len(err) == 1 and "generator collapse" in err[0]
    assert "test error of the last good checkpoint" in err[0]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["stop_reason"] == "collapse" and metrics["stop_epoch"] == 1
    assert "collapse" in metrics["stop_message"]
    assert metrics["evaluated"] == "last good checkpoint"
    assert (metrics["evaluated_epoch"], metrics["evaluated_global_step"]) == (0, 2 * STEPS)
    # the run went on past the checkpoint before it stopped ...
    assert metrics["global_step"] >= 2 * (STEPS + 6)
    # ... but the test metrics are the checkpoint's, not those of the weights at the stop
    for key in ("test/acc", "test/error", "test/loss"):
        assert metrics[key] == first[key]
    assert (run_dir / "timing.json").is_file()


def test_a_stop_without_checkpoint_still_reports(tmp_path):
    """Collapse before any checkpoint: the final (finite) weights are tested; the error carries
    the metrics for callers such as the sweep."""
    with pytest.raises(TrainingStopped) as stopped:
        run_training(args(tmp_path / "runs", 2, *FORCE_COLLAPSE))
    stop = stopped.value
    assert stop.reason == "collapse" and stop.epoch == 0 and stop.checkpoint is None
    metrics = json.loads((Path(stop.run_dir) / "metrics.json").read_text())
    assert metrics["evaluated"] == "final weights" and metrics["stop_epoch"] == 0
    assert metrics["evaluated_global_step"] == metrics["global_step"] == 2 * 6
    assert 0 <= metrics["test/error"] <= 1
    assert stop.metrics["test/error"] == metrics["test/error"]
    assert not (Path(stop.run_dir) / "checkpoints" / "last.ckpt").exists()


def read_rows(out: Path) -> dict:
    with open(out / "results.csv", newline="") as f:
        return {(r["method"], int(r["seed"])): r for r in csv.DictReader(f)}


def test_a_sweep_records_the_stopped_row_and_finishes_the_others(tmp_path):
    out = tmp_path / "sweep"
    cfg = sweep.parse_args(["--dataset", "digits", "--labels", "50", "--seeds", "0",
                            "--out", str(out), "--max-epochs", "2", "--no-checkpoints",
                            "--data-root", str(tmp_path / "data"), "--", *FORCE_COLLAPSE])
    sweep.run_sweep(cfg)  # supervised-only draws no samples: the guard stops only ssgan
    rows = read_rows(out)
    assert set(rows) == {("ssgan", 0), ("supervised", 0), ("label_spreading", 0)}
    stopped = rows[("ssgan", 0)]
    assert stopped["stop_reason"] == "collapse at epoch 0"
    run_dir = out / "runs" / "ssgan" / "labels50_seed0"
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert float(stopped["error"]) == pytest.approx(metrics["test/error"], abs=1e-6)
    for method in ("supervised", "label_spreading"):
        assert rows[(method, 0)]["stop_reason"] == ""
        assert 0 <= float(rows[(method, 0)]["error"]) <= 1
    assert not (run_dir / "checkpoints").exists()  # --no-checkpoints: deleted after the run
    summary = (out / "summary.md").read_text()
    assert "ssgan labels=50 seed=0: collapse at epoch 0" in summary
    # a stopped run with a result is a row of the summary like the others
    assert {r["method"] for r in csv.DictReader(open(out / "summary.csv"))} == \
        {"ssgan", "supervised", "label_spreading"}


def test_a_failed_run_costs_only_its_row_and_is_retried(tmp_path, monkeypatch):
    out = tmp_path / "sweep"
    argv = ["--dataset", "digits", "--labels", "50", "--seeds", "0,1", "--methods", "ssgan",
            "--out", str(out), "--max-epochs", "1", "--data-root", str(tmp_path / "data")]
    real_train = sweep.train

    def train(train_args):
        if train_args[train_args.index("--seed_everything") + 1] == "0":
            raise RuntimeError("the disk died\nsecond line")
        return real_train(train_args)

    monkeypatch.setattr(sweep, "train", train)
    with pytest.raises(sweep.SSGANError, match="1 of 2 runs failed"):
        sweep.run_sweep(sweep.parse_args(argv))
    rows = read_rows(out)
    assert math.isnan(float(rows[("ssgan", 0)]["error"]))
    assert rows[("ssgan", 0)]["stop_reason"] == "failed: RuntimeError: the disk died second line"
    assert 0 <= float(rows[("ssgan", 1)]["error"]) <= 1
    assert "RuntimeError" in (out / "errors.log").read_text()
    assert "(no result)" in (out / "summary.md").read_text()

    # run again: only the failed row runs, and it replaces the failed one
    monkeypatch.setattr(sweep, "train", real_train)
    calls = []
    monkeypatch.setattr(sweep, "train", lambda a: calls.append(a) or real_train(a))
    sweep.run_sweep(sweep.parse_args(argv))
    assert len(calls) == 1
    with open(out / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 and all(0 <= float(r["error"]) <= 1 for r in rows)
