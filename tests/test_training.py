"""End-to-end training on digits: the run folder, learning, gradients and checkpoints."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch

from ssgan.cli import run_training
from ssgan.evaluation import load_checkpoint, predict

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def short_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("short")
    args = ["--trainer.max_epochs", "3", "--trainer.enable_progress_bar", "false",
            "--trainer.logger.init_args.save_dir", str(out)]
    metrics, run_dir = run_training(args)
    return metrics, run_dir


def test_run_folder_has_config_indices_metrics_and_checkpoint(short_run):
    metrics, run_dir = short_run
    for name in ("config.yaml", "labeled_indices.json", "metrics.json", "checkpoints/last.ckpt"):
        assert (run_dir / name).is_file(), name
    saved = json.loads((run_dir / "metrics.json").read_text())
    assert 0.0 <= saved["test/acc"] <= 1.0
    assert saved["test/error"] == pytest.approx(1 - saved["test/acc"])
    lab = json.loads((run_dir / "labeled_indices.json").read_text())
    assert len(lab["indices"]) == 50 and sorted(set(lab["labels"])) == list(range(10))
    # the default (null) means 50 for a fully labeled source such as digits
    assert "num_labels: null" in (run_dir / "config.yaml").read_text()


def test_checkpoint_round_trip_gives_identical_predictions(short_run):
    _, run_dir = short_run
    model, ckpt = load_checkpoint(run_dir / "checkpoints" / "last.ckpt")
    again, _ = load_checkpoint(run_dir / "checkpoints" / "last.ckpt")
    x = torch.rand(16, 1, 8, 8)
    assert torch.equal(predict(model, x), predict(again, x))
    # the EMA evaluation copy was saved, not just the raw discriminator
    assert any(k.startswith("ema.") for k in ckpt["state_dict"])


def test_evaluate_py_reproduces_metrics_json(short_run):
    _, run_dir = short_run
    proc = subprocess.run([sys.executable, str(ROOT / "evaluate.py"),
                           str(run_dir / "checkpoints" / "last.ckpt")],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)  # stdout is only JSON
    saved = json.loads((run_dir / "metrics.json").read_text())
    assert result["test/acc"] == pytest.approx(saved["test/acc"], abs=1e-6)
    assert len(result["per_class_accuracy"]) == 10
    cm = torch.tensor(result["confusion_matrix"])
    assert cm.shape == (10, 10) and int(cm.sum()) == 450
    assert int(cm.trace()) == round(result["test/acc"] * 450)


def test_generator_gets_gradient_only_from_its_own_loss(tmp_path):
    """The D loss's backward leaves G's gradients untouched and vice versa."""
    from ssgan.cli import build_cli

    cli = build_cli(["--trainer.max_steps", "4", "--trainer.enable_progress_bar", "false",
                     "--trainer.logger.init_args.save_dir", str(tmp_path), "--test", "false"])
    model = cli.model
    g_params, d_params = list(model.generator.parameters()), list(model.discriminator.parameters())
    changed = []
    original = model.manual_backward

    def snapshot(params):
        return [None if p.grad is None else p.grad.clone() for p in params]

    def differs(before, params):
        return any((b is None) != (p.grad is None) or (b is not None and not torch.equal(b, p.grad))
                   for b, p in zip(before, params))

    def spy(loss, *args, **kwargs):
        g0, d0 = snapshot(g_params), snapshot(d_params)
        original(loss, *args, **kwargs)
        changed.append((differs(g0, g_params), differs(d0, d_params)))

    model.manual_backward = spy
    cli.trainer.fit(model, datamodule=cli.datamodule)
    # two batches (4 optimizer steps), each: D backward (changes D only), then G backward (G only)
    assert changed == [(False, True), (True, False)] * 2


def test_training_beats_chance_and_supervised_only(tmp_path):
    base = ["--trainer.max_epochs", "25", "--trainer.enable_progress_bar", "false",
            "--trainer.logger.init_args.save_dir", str(tmp_path), "--seed_everything", "0"]
    gan, gan_dir = run_training(base)
    sup, sup_dir = run_training(base + ["--model.supervised_only", "true"])
    same = [json.loads((d / "labeled_indices.json").read_text())["indices"] for d in (gan_dir, sup_dir)]
    assert same[0] == same[1]
    assert gan["global_step"] == sup["global_step"] or gan["epochs"] == sup["epochs"]
    assert gan["test/acc"] > 0.8  # chance is 0.1
    assert gan["test/acc"] > sup["test/acc"] + 0.03


class _Recorder(pl.Callback):
    """Records each step's D loss and both learning rates."""

    def __init__(self):
        self.loss_d, self.lrs = [], []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.loss_d.append(float(outputs["loss_d"]))
        self.lrs.append([o.param_groups[0]["lr"] for o in pl_module.optimizers()])


def _fit_with_recorder(tmp_path, extra):
    from ssgan.cli import build_cli

    cli = build_cli(["--trainer.max_epochs", "2", "--trainer.limit_train_batches", "5",
                     "--trainer.enable_progress_bar", "false", "--test", "false",
                     "--trainer.logger.init_args.save_dir", str(tmp_path), *extra])
    rec = _Recorder()
    cli.trainer.callbacks.append(rec)
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    return cli, rec


def test_train_logs_are_the_mean_of_the_epochs_steps(tmp_path):
    """Training values are summed on the device and logged once an epoch: the logged
    train/loss_d is exactly the mean of the last epoch's per-step losses."""
    cli, rec = _fit_with_recorder(tmp_path, [])
    logged = cli.trainer.logged_metrics
    last_epoch = rec.loss_d[5:]
    assert len(last_epoch) == 5
    assert float(logged["train/loss_d"]) == pytest.approx(sum(last_epoch) / 5, rel=1e-5)
    assert float(logged["train/loss_d"]) != pytest.approx(sum(rec.loss_d[:5]) / 5, rel=1e-5)


def test_linear_lr_decay_reaches_zero_at_the_end(tmp_path):
    cli, rec = _fit_with_recorder(tmp_path, ["--model.lr", "0.002", "--model.lr_g", "0.001",
                                             "--model.lr_decay_start", "0.5"])
    d_lrs = [lr[0] for lr in rec.lrs]
    g_lrs = [lr[1] for lr in rec.lrs]
    # 10 steps; progress = step / 10; decay over the second half: factor = (1 - p) / 0.5
    expected = [min(1.0, (1 - s / 10) / 0.5) for s in range(10)]
    assert d_lrs == pytest.approx([0.002 * f for f in expected])
    assert g_lrs == pytest.approx([0.001 * f for f in expected])
    assert d_lrs[:6] == pytest.approx([0.002] * 6) and d_lrs[-1] == pytest.approx(0.0004)


def test_lr_decay_needs_max_epochs(tmp_path):
    from ssgan.errors import SSGANError

    with pytest.raises(SSGANError, match="lr_decay_start.*max_epochs"):
        _fit_with_recorder(tmp_path, ["--model.lr_decay_start", "0.5", "--trainer.max_epochs", "-1",
                                      "--trainer.max_steps", "4"])
