"""``evaluate.py CHECKPOINT``: JSON on stdout, classification report, sample grid, Fréchet distances."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from ssgan.cli import run_training
from ssgan.eval_cli import main as eval_main
from ssgan.evaluation import datamodule_from_checkpoint, evaluate_checkpoint, load_checkpoint
from ssgan.sample_quality import ClassifierFeatures, frechet_distance, generate

REPO = Path(__file__).resolve().parents[2]
FID_KEYS = {"generated_vs_test", "test_half_vs_half", "generated_vs_test_half"}




def train_tiny(root: Path, *extra: str) -> Path:
    _, run_dir = run_training([
        "--data.dataset", "digits", "--data.num_labels", "50", "--data.data_root", str(root / "data"),
        "--seed_everything", "0", "--trainer.max_epochs", "2", "--trainer.enable_progress_bar", "false",
        "--trainer.logger.init_args.save_dir", str(root / "runs"), *extra])
    return Path(run_dir) / "checkpoints" / "last.ckpt"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return train_tiny(tmp_path_factory.mktemp("eval"))


@pytest.mark.slow  # a train.py/evaluate.py subprocess: ~20 s on a loaded 2-core machine
def test_subprocess_stdout_is_pure_json(checkpoint, tmp_path):
    png = tmp_path / "grid.png"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, str(REPO / "evaluate.py"), str(checkpoint),
                           "--samples", str(png), "--fid-samples", "300"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)  # nothing but the JSON on stdout
    for key in ("test/acc", "test/error", "per_class_accuracy", "confusion_matrix",
                "per_class_precision", "per_class_recall", "classification_report", "fid",
                "samples_png"):
        assert key in result, key
    assert FID_KEYS <= set(result["fid"])
    assert result["fid"]["num_generated"] == 300 and result["fid"]["num_test"] == 450
    assert all(result["fid"][k] >= -1e-3 for k in FID_KEYS)
    report = result["classification_report"]
    assert {str(c) for c in range(10)} <= set(report)
    assert {"precision", "recall", "f1-score", "support"} <= set(report["3"])
    with Image.open(png) as im:
        im.verify()
    with Image.open(png) as im:
        assert im.format == "PNG" and im.size[0] >= 10 * 32  # 10 per row, enlarged to >= 32 px


def test_report_agrees_with_confusion_matrix(checkpoint):
    r = evaluate_checkpoint(checkpoint, sample_quality=False)
    cm = torch.tensor(r["confusion_matrix"], dtype=torch.float64)  # rows: true, cols: predicted
    recall = cm.diag() / cm.sum(1)
    precision = cm.diag() / cm.sum(0).clamp(min=1)
    assert torch.allclose(torch.tensor(r["per_class_recall"], dtype=torch.float64), recall, atol=1e-5)
    assert torch.allclose(torch.tensor(r["per_class_precision"], dtype=torch.float64), precision,
                          atol=1e-5)
    assert r["per_class_recall"] == pytest.approx(r["per_class_accuracy"], abs=1e-5)
    assert r["classification_report"]["accuracy"] == pytest.approx(r["test/acc"], abs=1e-6)
    assert "fid" not in r and "samples_png" not in r


def test_default_grid_goes_to_the_run_folder(checkpoint, capsys):
    assert eval_main([str(checkpoint), "--no-fid"]) == 0
    out = json.loads(capsys.readouterr().out)
    grid = checkpoint.parent.parent / "samples.png"
    assert out["samples_png"] == str(grid.resolve()) and grid.is_file()
    assert "fid" not in out


def test_frechet_distance_in_classifier_features(checkpoint):
    model, ckpt = load_checkpoint(checkpoint)
    dm = datamodule_from_checkpoint(ckpt)
    feats = ClassifierFeatures(model.eval_discriminator)
    x = dm.data.x_test
    a, b = x[:225], x[225:]
    same = frechet_distance(feats, a, a)
    halves = frechet_distance(feats, a, b)
    noise = frechet_distance(feats, a, torch.rand_like(b))
    assert abs(same) < 1e-3 * max(1.0, halves)
    assert 0 < halves < noise
    # the features are the classifier's feature layer in eval mode, not pixels
    d = model.eval_discriminator.eval()
    assert torch.equal(feats(a[:4]), d(a[:4]).features)
    # seeded sampling is reproducible
    g1, _ = generate(model, 8, seed=3)
    g2, _ = generate(model, 8, seed=3)
    assert torch.equal(g1, g2) and g1.min() >= 0 and g1.max() <= 1


def test_supervised_checkpoint_skips_sample_quality(tmp_path):
    ckpt = train_tiny(tmp_path, "--model", "Supervised", "--trainer.max_epochs", "1")
    model, _ = load_checkpoint(ckpt)
    assert type(model).__name__ == "Supervised" and not hasattr(model, "generator")
    r = evaluate_checkpoint(ckpt, samples_path=tmp_path / "s.png")
    assert "fid" not in r and "sample_quality_skipped" in r
    assert not (tmp_path / "s.png").exists()
    assert "classification_report" in r
