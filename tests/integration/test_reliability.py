"""Reliability (issue 8): reproducible metrics, resume after SIGKILL and SIGTERM, the training
guard, and one-line errors for bad input that leave earlier runs untouched.

Runs are small (digits, 13 batches per epoch, one CPU thread). The kill and SIGTERM tests start
real ``train.py`` processes; a helper callback (:class:`BlockAt`, passed with
``--trainer.callbacks``) parks the process at a known batch so that the signal lands mid-epoch.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch

from ssgan.callbacks import TrainingGuard, TrainingStopped
from ssgan.cli import main, run_training
from ssgan.data.module import SSLBatchSampler
from ssgan.model import SSGAN

ROOT = Path(__file__).absolute().parents[2]
TRAIN = ROOT / "train.py"
TESTS = Path(__file__).absolute().parent
EPOCHS = 3
STEPS = 13  # digits: 1347 training images / batch_size 100


class BlockAt(pl.Callback):
    """Test helper for ``train.py`` subprocesses: at the start of batch ``batch`` of epoch
    ``epoch``, write the global step to ``marker`` and wait (until SIGTERM or ``timeout``)."""

    # generous: on a loaded CI machine the test process may need long to notice the marker;
    # the test's own timeout (pytest-timeout) bounds the whole test
    def __init__(self, epoch: int, batch: int, marker: str, timeout: float = 600.0):
        self.epoch, self.batch, self.marker, self.timeout = epoch, batch, marker, timeout

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.current_epoch == self.epoch and batch_idx == self.batch:
            Path(self.marker).write_text(str(trainer.global_step))
            deadline = time.time() + self.timeout
            while not trainer.received_sigterm and time.time() < deadline:
                time.sleep(0.02)


def small_args(save_dir: Path, *extra: str, epochs: int = EPOCHS) -> list[str]:
    return ["--trainer.max_epochs", str(epochs), "--trainer.enable_progress_bar", "false",
            "--trainer.logger.init_args.save_dir", str(save_dir), *extra]


def child_env() -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(TESTS), env.get("PYTHONPATH")) if p)
    return env


def train_process(args: list[str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(TRAIN), *args], cwd=cwd, env=child_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def block_at(epoch: int, batch: int, marker: Path) -> list[str]:
    spec = [{"class_path": "test_reliability.BlockAt",
             "init_args": {"epoch": epoch, "batch": batch, "marker": str(marker)}}]
    return ["--trainer.callbacks", json.dumps(spec)]


def wait_for(path: Path, proc: subprocess.Popen, timeout: float = 600.0) -> None:
    deadline = time.time() + timeout
    while not path.exists():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"train.py ended (rc={proc.returncode}) before {path.name}:\n{err[-3000:]}")
        if time.time() > deadline:
            proc.kill()
            pytest.fail(f"timed out waiting for {path}")
        time.sleep(0.05)
    # the marker's content is written after the file appears: wait until it is complete
    while not path.read_text().strip().isdigit():
        time.sleep(0.05)


def load_ckpt(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=False)


def run_dirs(save_dir: Path) -> list[Path]:
    root = save_dir / "ssgan"
    return sorted(root.iterdir()) if root.is_dir() else []


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted EPOCHS-epoch run (in-process): ``(metrics.json text, run_dir)``."""
    save_dir = tmp_path_factory.mktemp("reference")
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _, run_dir = run_training(small_args(save_dir))
    finally:
        torch.set_num_threads(n)
    return (run_dir / "metrics.json").read_text(), run_dir


@pytest.fixture(scope="module")
def reference_process(tmp_path_factory):
    """The same uninterrupted run as a train.py process (what the killed runs are compared with,
    so that nothing left in this process by other tests can matter): metrics.json's text."""
    save_dir = tmp_path_factory.mktemp("reference_process")
    proc = subprocess.run([sys.executable, str(TRAIN), *small_args(save_dir)], cwd=save_dir,
                          env=child_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run_dir,) = run_dirs(save_dir)
    return (run_dir / "metrics.json").read_text()


# -- 1. reproducibility ------------------------------------------------------------------------

def test_same_seeds_give_identical_metrics_json(reference, tmp_path):
    ref_text, ref_dir = reference
    # the defaults are --seed_everything 0 --data.seed_data 1; spelled out here
    _, run_dir = run_training(small_args(tmp_path / "runs", "--seed_everything", "0",
                                         "--data.seed_data", "1"))
    assert (run_dir / "metrics.json").read_text() == ref_text
    assert (run_dir / "metrics.csv").read_text() == (ref_dir / "metrics.csv").read_text()
    metrics = json.loads(ref_text)
    assert "train_seconds" not in metrics  # wall clock lives in timing.json
    timing = json.loads((run_dir / "timing.json").read_text())
    assert timing["train_seconds"] > 0 and timing["processes"] == 1
    # the seeds matter (so the equality above is not vacuous)
    _, other = run_training(small_args(tmp_path / "other", "--seed_everything", "1"))
    assert json.loads((other / "metrics.json").read_text())["test/loss"] != metrics["test/loss"]


# -- 2. resume ---------------------------------------------------------------------------------

def test_sampler_resumes_mid_epoch_and_shards():
    lab, unl = torch.arange(50), torch.arange(50, 1397)
    full = SSLBatchSampler(lab, unl, 100, 100, seed=3)
    full.set_epoch(2)
    steps = list(full)
    assert len(steps) == STEPS and full.state_dict()["steps_done"] == STEPS
    resumed = SSLBatchSampler(lab, unl, 100, 100, seed=3)
    resumed.load_state_dict({**full.state_dict(), "steps_done": 5})
    resumed.set_epoch(2)
    rest = list(resumed)
    assert len(rest) == STEPS - 5
    assert all(torch.equal(a[1], b[1]) and torch.equal(a[0], b[0]) for a, b in zip(rest, steps[5:]))
    # a recorded position of another epoch is ignored
    other = SSLBatchSampler(lab, unl, 100, 100, seed=3)
    other.load_state_dict({**full.state_dict(), "steps_done": 5})
    other.set_epoch(3)
    assert len(list(other)) == STEPS
    # two processes: equal step counts, disjoint unlabeled data, balanced labeled stream
    shards = []
    for rank in range(2):
        s = SSLBatchSampler(lab, unl, 100, 100, seed=3)
        s.set_distributed(rank, 2)
        s.set_epoch(0)
        shards.append(list(s))
    assert [len(x) for x in shards] == [STEPS // 2] * 2
    seen = [torch.cat([step[1] for step in shard]) for shard in shards]
    assert not set(seen[0].tolist()) & set(seen[1].tolist())
    for shard in shards:
        counts = torch.bincount(torch.cat([step[0] for step in shard]), minlength=50)
        assert counts.max() - counts.min() <= 1


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_sigkill_mid_epoch_then_ckpt_path_last_finishes_the_same_run(reference_process, tmp_path):
    ref_text = reference_process
    save_dir, marker = tmp_path / "runs", tmp_path / "blocked"
    args = small_args(save_dir, "--checkpoint.last_every_n_batches", "3")
    proc = train_process(args + block_at(epoch=1, batch=7, marker=marker), tmp_path)
    wait_for(marker, proc)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=300)  # also drains the pipes
    assert proc.returncode == -signal.SIGKILL
    (run_dir,) = run_dirs(save_dir)
    last = run_dir / "checkpoints" / "last.ckpt"
    ckpt = load_ckpt(last)
    # the newest checkpoint is the one after batch 5 of epoch 1: mid-epoch
    assert (ckpt["epoch"], ckpt["global_step"]) == (1, 2 * (STEPS + 6))
    assert not (run_dir / "metrics.json").exists()
    labeled_before = (run_dir / "labeled_indices.json").read_text()
    config_before = (run_dir / "config.yaml").read_text()

    proc = train_process(args + ["--ckpt_path", "last"], tmp_path)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    assert run_dirs(save_dir) == [run_dir]  # continued in the same folder
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["epochs"] == EPOCHS and metrics["global_step"] == 2 * STEPS * EPOCHS
    assert 0 <= metrics["test/acc"] <= 1
    # the resumed run trained on exactly what the uninterrupted run trained on
    assert (run_dir / "metrics.json").read_text() == ref_text
    assert (run_dir / "labeled_indices.json").read_text() == labeled_before
    assert (run_dir / "config.yaml").read_text() == config_before
    assert (run_dir / "config.resume-1.yaml").is_file()
    assert json.loads((run_dir / "timing.json").read_text())["resumed_from"].endswith("last.ckpt")
    assert not list(run_dir.glob("checkpoints/*.tmp"))
    assert load_ckpt(last)["global_step"] == 2 * STEPS * EPOCHS


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_sigterm_saves_a_checkpoint_and_the_run_resumes(reference_process, tmp_path):
    ref_text = reference_process
    save_dir, marker = tmp_path / "runs", tmp_path / "blocked"
    args = small_args(save_dir)  # last.ckpt at epoch ends only
    proc = train_process(args + block_at(epoch=1, batch=7, marker=marker), tmp_path)
    wait_for(marker, proc)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 143, err[-3000:]
    assert "SIGTERM" in err and "Traceback" not in err
    (run_dir,) = run_dirs(save_dir)
    ckpt = load_ckpt(run_dir / "checkpoints" / "last.ckpt")
    # Lightning finishes the batch in flight (batch 7), then the checkpoint is written
    assert (ckpt["epoch"], ckpt["global_step"]) == (1, 2 * (STEPS + 8))

    proc = train_process(args + ["--ckpt_path", "last"], tmp_path)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    assert (run_dir / "metrics.json").read_text() == ref_text


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    """A write that dies half-way leaves the previous last.ckpt whole."""
    real, calls = pl.Trainer.save_checkpoint, []

    def dying_save(self, filepath, *args, **kwargs):
        calls.append(filepath)
        if len(calls) == 3:
            Path(filepath).write_bytes(b"half a checkpoint")  # what a crash mid-write leaves
            raise RuntimeError("disk died")
        return real(self, filepath, *args, **kwargs)

    monkeypatch.setattr(pl.Trainer, "save_checkpoint", dying_save)
    with pytest.raises(RuntimeError, match="disk died"):
        run_training(small_args(tmp_path / "runs", "--checkpoint.last_every_n_batches", "1"))
    (run_dir,) = run_dirs(tmp_path / "runs")
    assert all(Path(c).parent == run_dir / "checkpoints" and c.endswith(".tmp") for c in calls)
    assert load_ckpt(run_dir / "checkpoints" / "last.ckpt")["global_step"] == 2 * 2


def test_resume_checks_the_labeled_split(reference, tmp_path):
    """The data module compares the checkpoint's labeled indices with the split it selects."""
    _, ref_dir = reference
    ckpt = load_ckpt(ref_dir / "checkpoints" / "last.ckpt")
    ckpt["SSLDataModule"]["labeled_indices"] = list(range(50))
    bad = tmp_path / "other_split.ckpt"
    torch.save(ckpt, bad)
    with pytest.raises(Exception, match="different labeled split"):
        run_training(small_args(tmp_path / "runs", "--ckpt_path", str(bad), epochs=EPOCHS + 1))


# -- 3. divergence and collapse ----------------------------------------------------------------

def _patch_training_step(monkeypatch, after_batches: int, mode: str) -> None:
    original = SSGAN.training_step

    def training_step(self, batch, batch_idx):
        trained = self.global_step // 2  # batches before this one (2 optimizer steps each)
        out = original(self, batch, batch_idx)
        if trained >= after_batches:
            if mode == "nan":
                with torch.no_grad():
                    for p in self.parameters():
                        p.fill_(float("nan"))
                out = {**out, "loss_d": out["loss_d"] * float("nan")}
            else:  # collapse: every sample the same image
                out = {**out, "x_fake": out["x_fake"][:1].expand_as(out["x_fake"]).clone()}
        return out

    monkeypatch.setattr(SSGAN, "training_step", training_step)


def test_nonfinite_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch, capsys):
    _patch_training_step(monkeypatch, after_batches=STEPS + 4, mode="nan")
    # a checkpoint is due after every batch, the guard reads values back only every 5 batches:
    # the veto at write time must still keep the NaN weights out
    args = small_args(tmp_path / "runs", "--checkpoint.last_every_n_batches", "1",
                      "--guard.check_every_n_batches", "5")
    assert main(args) == 3
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error")]
    assert len(lines) == 1 and "NaN" in lines[0] and "last good checkpoint" in lines[0]
    assert "test error of the last good checkpoint" in lines[0]
    assert "Traceback" not in err
    (run_dir,) = run_dirs(tmp_path / "runs")
    ckpt = load_ckpt(run_dir / "checkpoints" / "last.ckpt")
    assert ckpt["global_step"] == 2 * (STEPS + 4)
    assert all(torch.isfinite(v).all() for v in ckpt["state_dict"].values() if v.is_floating_point())
    # the run's result is that checkpoint's (tests/integration/test_guard_results.py)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["stop_reason"] == "divergence" and metrics["evaluated_global_step"] == 2 * (STEPS + 4)
    assert 0 <= metrics["test/error"] <= 1


def test_generator_collapse_stops_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    _patch_training_step(monkeypatch, after_batches=STEPS + 2, mode="collapse")
    args = small_args(tmp_path / "runs", "--checkpoint.last_every_n_batches", "1",
                      "--guard.collapse_batches", "6", "--guard.check_every_n_batches", "4")
    with pytest.raises(TrainingStopped, match="collapse"):
        run_training(args)
    (run_dir,) = run_dirs(tmp_path / "runs")
    # the last checkpoint is from before the collapse began: none was written during it
    assert load_ckpt(run_dir / "checkpoints" / "last.ckpt")["global_step"] == 2 * (STEPS + 2)


def test_guard_diversity_and_options(tmp_path):
    assert TrainingGuard.diversity(torch.zeros(8, 1, 4, 4)) == 0
    assert TrainingGuard.diversity(torch.rand(64, 1, 8, 8)) > 0.2
    for bad in (["--guard.collapse_batches", "0"], ["--guard.min_diversity", "-1"],
                ["--guard.check_every_n_batches", "0"]):
        assert main(small_args(tmp_path / "runs", *bad, epochs=1)) == 2
    assert not run_dirs(tmp_path / "runs")


# -- 4. bad input ------------------------------------------------------------------------------

BAD_INPUT = {
    "unknown dataset": (["--data.dataset", "nope"], "unknown dataset 'nope'; choose one of"),
    "unknown objective": (["--model.objective", "nope"],
                          "unknown --model.objective 'nope'; choose one of: BEGAN"),
    "unknown objective option": (["--model.objective", "BEGAN", "--model.objective.a", "1"],
                                 "BEGAN has no option 'a'"),
    "objective check": (["--model.objective", "LSGAN", "--model.objective.a", "1"],
                        "must differ"),
    "unknown module": (["--model", "Nope"], "unknown --model 'Nope'; choose one of: SSGAN, Supervised"),
    "num_labels not divisible": (["--data.num_labels", "55"], "multiple of the 10 classes"),
    "num_labels too large": (["--data.num_labels", "100000"], "use at most"),
    "zero batch size": (["--data.batch_size", "0"], "data.batch_size must be a number > 0"),
    "negative rate": (["--model.lr", "-0.1"], "model.lr must be a number > 0"),
    "zero epochs": (["--trainer.max_epochs", "0"], "trainer.max_epochs must be >= 1"),
    "zero adam eps": (["--model.adam_eps", "0"], "model.adam_eps must be a number > 0"),
    "unknown readout": (["--model.readout", "knn"], "model.readout must be one of head, class_mean"),
    "zero init std": (["--model.networks", "MLP", "--model.networks.init_std", "0"],
                      "model.networks.init_std must be a number > 0"),
    "zero checkpoint interval": (["--checkpoint.last_every_n_batches", "0"], "must be a number > 0"),
    "missing data root": (["--data.dataset", "mnist", "--data.data_root", "/nonexistent/ssgan",
                           "--data.download", "false"], "not found in /nonexistent/ssgan"),
    "unknown option": (["--no_such_option", "1"], "unrecognized arguments"),
    "wrong type": (["--data.batch_size", "many"], "data.batch_size"),
    "missing checkpoint": (["--ckpt_path", "nowhere.ckpt"], "does not exist"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUT))
def test_bad_input_is_one_line_exit_2(case, tmp_path, capsys):
    args, expected = BAD_INPUT[case]
    save_dir = tmp_path / "runs"
    assert main(small_args(save_dir, epochs=1) + args) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and errors[0].startswith("error: ") and expected in errors[0], err
    assert not run_dirs(save_dir), "a failed run must not create a run folder"


def test_debug_shows_the_traceback(tmp_path, capsys):
    assert main(small_args(tmp_path, epochs=1) + ["--data.num_labels", "55", "--debug"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and "error: num_labels" in err


@pytest.mark.slow  # a train.py/evaluate.py subprocess: ~20 s on a loaded 2-core machine
def test_bad_checkpoints_are_refused_and_nothing_is_overwritten(reference, tmp_path, capsys):
    """Corrupt file, other dataset, existing folder: exit 2, one line, every file untouched."""
    _, ref_dir = reference
    save_dir = tmp_path / "runs"
    run_dir = save_dir / "ssgan" / "version_0"
    shutil.copytree(ref_dir, run_dir)
    before = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    garbage = tmp_path / "garbage.ckpt"
    garbage.write_bytes(os.urandom(2000))
    truncated = tmp_path / "truncated.ckpt"
    truncated.write_bytes((run_dir / "checkpoints" / "last.ckpt").read_bytes()[:5000])
    # one real process: the exit code and stderr exactly as a user sees them
    proc = subprocess.run([sys.executable, str(TRAIN), *small_args(save_dir),
                           "--ckpt_path", str(garbage)], cwd=tmp_path, env=child_env(),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error: ") and "\n" not in proc.stderr.strip()
    assert "corrupt or not a PyTorch file" in proc.stderr
    for args, expected in [
        (["--ckpt_path", str(truncated)], "corrupt or not a PyTorch file"),
        (["--ckpt_path", "last", "--data.dataset", "fashion_mnist"], "data.dataset 'digits'"),
        (["--ckpt_path", str(run_dir / "checkpoints" / "last.ckpt"), "--data.num_labels", "100"],
         "data.num_labels 50"),
        (["--trainer.logger.init_args.version", "0"], "already exists"),
    ]:
        assert main(small_args(save_dir) + args) == 2, args
        err = capsys.readouterr().err
        errors = [line for line in err.splitlines() if line.startswith("error")]
        assert len(errors) == 1 and expected in errors[0] and "Traceback" not in err, err
    assert run_dirs(save_dir) == [run_dir]
    after = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    assert after == before
