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

ROOT = Path(__file__).resolve().parents[2]
#: the learning test's budget: long enough for the GAN's advantage on every split, short
#: enough for CI (6 runs of ~20 s on 2 cores)
LEARNING_EPOCHS = 15


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


def test_checkpoint_reloads_the_trained_evaluation_weights(short_run):
    metrics, run_dir = short_run
    model, ckpt = load_checkpoint(run_dir / "checkpoints" / "last.ckpt")
    # the reloaded module is the class and components the run was configured with
    assert type(model).__name__ == "SSGAN" and type(model.g_objective).__name__ == "FeatureMatching"
    # its evaluation (EMA) weights, not the raw discriminator's, give the run's test accuracy
    from ssgan.data import SSLDataModule
    dm = SSLDataModule()
    dm.setup("test")
    acc = float((predict(model, dm.data.x_test).argmax(1) == dm.data.y_test).float().mean())
    assert acc == pytest.approx(metrics["test/acc"], abs=1e-6)
    assert any(k.startswith("ema.") for k in ckpt["state_dict"])
    assert not torch.equal(model.ema.module.out.v, model.discriminator.out.v)


def test_saved_config_reruns_the_run_exactly(short_run, tmp_path):
    metrics, run_dir = short_run
    again, again_dir = run_training(["--config", str(run_dir / "config.yaml"),
                                     "--trainer.logger.init_args.save_dir", str(tmp_path)])
    assert again_dir != run_dir
    assert (again_dir / "metrics.json").read_text() == (run_dir / "metrics.json").read_text()


@pytest.mark.slow  # a train.py/evaluate.py subprocess: ~20 s on a loaded 2-core machine
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


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_training_beats_chance_and_supervised_only_over_three_splits(tmp_path):
    """The semi-supervised GAN against the supervised-only baseline (same network, data,
    steps and seeds) on three labeled splits."""
    gaps = []
    for seed in (0, 1, 2):
        base = ["--trainer.max_epochs", str(LEARNING_EPOCHS), "--trainer.enable_progress_bar",
                "false", "--trainer.logger.init_args.save_dir", str(tmp_path),
                "--seed_everything", str(seed), "--data.seed_data", str(seed),
                "--checkpoint.save_last", "false"]
        gan, gan_dir = run_training(base)
        sup, sup_dir = run_training(["--model", "Supervised", *base])
        same = [json.loads((d / "labeled_indices.json").read_text())["indices"]
                for d in (gan_dir, sup_dir)]
        assert same[0] == same[1]
        assert gan["global_step"] == 2 * sup["global_step"]  # two optimizer steps per GAN batch
        assert gan["epochs"] == sup["epochs"] == LEARNING_EPOCHS
        assert gan["test/acc"] > 0.85, seed  # chance is 0.1
        gaps.append(gan["test/acc"] - sup["test/acc"])
    # measured at 15 epochs: gaps 0.051, 0.062, 0.067 (GAN 0.916, 0.902, 0.918)
    assert min(gaps) > 0.02, gaps
    assert sum(gaps) / 3 > 0.04, gaps


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


def test_linear_lr_decay_follows_a_step_budget(tmp_path):
    # 12 optimizer steps = 6 batches of the GAN, across an epoch boundary (5 batches an epoch)
    cli, rec = _fit_with_recorder(tmp_path, ["--model.lr", "0.002", "--model.lr_decay_start",
                                             "0.5", "--trainer.max_epochs", "-1",
                                             "--trainer.max_steps", "12"])
    assert len(rec.lrs) == 6 and cli.trainer.global_step == 12
    # progress before batch b = 2b / 12
    expected = [0.002 * min(1.0, (1 - 2 * b / 12) / 0.5) for b in range(6)]
    assert [lr[0] for lr in rec.lrs] == pytest.approx(expected)
    assert rec.lrs[-1][0] == pytest.approx(0.002 / 3)


def test_lr_decay_needs_a_budget(tmp_path):
    from ssgan.errors import SSGANError

    with pytest.raises(SSGANError, match="lr_decay_start.*max_steps, trainer.max_epochs or "
                                         "trainer.max_time"):
        _fit_with_recorder(tmp_path, ["--model.lr_decay_start", "0.5", "--trainer.max_epochs", "-1"])


def _budget(extra):
    from ssgan.cli import build_cli

    cli = build_cli(["--trainer.enable_progress_bar", "false", *extra])
    return cli, cli.trainer.max_steps, cli.trainer.max_epochs


def test_default_budget_is_the_same_batches_for_both_modules(tmp_path):
    """Without a budget, 2,600 batches: 200 epochs of digits (13 batches each) as before, as
    5,200 optimizer steps for the GAN (D and G) and 2,600 for the supervised baseline."""
    save = ["--trainer.logger.init_args.save_dir", str(tmp_path)]
    cli, gan_steps, gan_epochs = _budget(save)
    _, sup_steps, sup_epochs = _budget([*save, "--model", "Supervised"])
    cli.datamodule.setup("fit")
    per_epoch = len(cli.datamodule.train_dataloader())
    assert per_epoch == 13
    assert (gan_steps, sup_steps) == (2 * 200 * per_epoch, 200 * per_epoch)
    assert gan_epochs is None and sup_epochs is None  # no epoch limit: Lightning's -1


@pytest.mark.parametrize("given", [["--trainer.max_epochs", "1"],
                                   ["--trainer.max_time", "00:00:05:00"],
                                   ["--trainer.max_steps", "6"]])
def test_a_given_budget_replaces_the_default(tmp_path, given):
    _, steps, epochs = _budget(["--trainer.logger.init_args.save_dir", str(tmp_path), *given])
    assert steps == (6 if "--trainer.max_steps" in given else -1)
    assert epochs == (1 if "--trainer.max_epochs" in given else None)


def test_a_users_max_epochs_limits_the_run(tmp_path):
    cli, rec = _fit_with_recorder(tmp_path, ["--trainer.max_epochs", "1"])
    assert len(rec.lrs) == 5 and cli.trainer.current_epoch == 1
    assert cli.trainer.global_step == 10


def test_generator_data_init_runs_once_before_training(tmp_path):
    cli, rec = _fit_with_recorder(tmp_path, ["--model.networks", "MLP",
                                             "--model.networks.g_data_init", "true",
                                             "--trainer.max_epochs", "1"])
    g = cli.model.generator
    assert bool(g.initialised) and "generator.initialised" in cli.model.state_dict()
