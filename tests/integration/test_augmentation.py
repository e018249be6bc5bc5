"""``evaluate.py augment``: labeled generated samples, their export, Dataset API and --evaluate."""

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn
from torch.utils.data import ConcatDataset, DataLoader, Dataset, TensorDataset

from ssgan.augmentation import (GeneratedDataset, class_folder_names, generate_labeled,
                                labeled_real_dataset, save_samples)
from ssgan.baselines import train_supervised_classifier
from ssgan.cli import run_training
from ssgan.eval_cli import main as eval_main
from ssgan.evaluation import datamodule_from_checkpoint, load_checkpoint




class StubModel:
    """A generator/classifier pair with known answers.

    Every image is constant with value v ~ U[0, 1) (unconditional) or v in class y's bin
    (conditional). The classifier predicts c = floor(v * K) with confidence 0.5 + 0.5 * t,
    t = v * K - c the position inside the bin, so the confidence of each sample is known.
    ``top`` < 1 keeps v below ``top``: the classes above it are never generated."""

    def __init__(self, k=4, shape=(1, 5, 5), conditional=False, top=1.0):
        self.hparams = {"num_classes": k, "image_shape": shape}
        self.hparams = SimpleNamespace(**self.hparams, get=self.hparams.get)
        self.has_generator = True
        self.g_objective = SimpleNamespace(conditional=conditional)
        self.generator = nn.Identity()
        self.device = torch.device("cpu")
        self.k, self.shape, self.top = k, shape, top

    def sample(self, n, y=None):
        if self.g_objective.conditional:
            v = (y.float() + torch.rand(n)) / self.k
        else:
            y = None
            v = torch.rand(n) * self.top
        return v.view(n, 1, 1, 1).expand(n, *self.shape).clone(), y

    def confidence(self, x):
        v = x.flatten(1).mean(1) * self.k
        c = v.floor().clamp(max=self.k - 1)
        return c.long(), 0.5 + 0.5 * (v - c)

    def predict_logits(self, x):
        c, conf = self.confidence(x)
        p = ((1 - conf) / (self.k - 1)).unsqueeze(1).repeat(1, self.k)
        p[torch.arange(len(x)), c] = conf
        return p.log()


def test_class_balance_and_confidence_filter():
    model = StubModel(k=4)
    s = generate_labeled(model, 30, min_confidence=0.8, seed=0)
    assert torch.bincount(s.y, minlength=4).tolist() == [30] * 4
    assert s.x.shape == (120, 1, 5, 5) and s.x.dtype == torch.float32
    # every kept sample has confidence >= 0.8 (recomputed independently), labels = predictions
    pred, conf = model.confidence(s.x)
    assert (conf >= 0.8 - 1e-6).all() and torch.equal(pred, s.y)
    assert (s.confidence >= 0.8 - 1e-6).all()
    # about 60% of draws are below 0.8 here: the filter really dropped them (and oversampled)
    assert s.info["rejected_low_confidence"] > 0.4 * s.info["drawn"]
    assert s.info["drawn"] > 120 and not s.info["limit_hit"]
    # without the filter the same generator yields low-confidence samples
    loose = generate_labeled(model, 30, seed=0)
    assert loose.confidence.min() < 0.8 and loose.info["rejected_low_confidence"] == 0


def test_limit_is_stated_when_a_class_never_comes(capsys):
    model = StubModel(k=4, top=0.74)  # class 3 is never generated
    messages = []
    s = generate_labeled(model, 10, max_draws=500, seed=0, warn=messages.append)
    assert s.info["limit_hit"] and s.info["drawn"] == 500
    assert s.info["counts"] == {"0": 10, "1": 10, "2": 10, "3": 0}
    assert len(messages) == 1 and "3: 0" in messages[0] and "--max-draws" in messages[0]


def test_conditional_labels_are_the_conditioning_labels():
    model = StubModel(k=3, conditional=True)
    s = generate_labeled(model, 8, seed=1)
    assert s.info["labels_from"] == "conditioning label"
    assert torch.bincount(s.y).tolist() == [8, 8, 8]
    assert torch.equal(model.confidence(s.x)[0], s.y)  # each image lies in its class's bin
    strict = generate_labeled(model, 8, min_confidence=0.9, seed=1)
    assert (model.confidence(strict.x)[1] >= 0.9 - 1e-6).all()
    assert strict.info["rejected_low_confidence"] > 0


@pytest.mark.parametrize("shape", [(1, 5, 5), (3, 4, 6)])
def test_export_shape_dtype_range_and_dataset(tmp_path, shape):
    model = StubModel(k=3, shape=shape)
    s = generate_labeled(model, 6, seed=2)
    save_samples(s, tmp_path)
    with np.load(tmp_path / "samples.npz") as f:
        x, y = f["x"], f["y"]
        classes = list(f["classes"])
    expected = (18, shape[1], shape[2]) if shape[0] == 1 else (18, shape[1], shape[2], shape[0])
    assert x.shape == expected and x.dtype == np.uint8
    assert y.dtype == np.int64 and np.bincount(y).tolist() == [6, 6, 6]
    assert x.min() >= 0 and x.max() <= 255 and x.max() > 100  # 0..255, not 0..1
    ref = np.round(s.x.numpy() * 255)
    ref = ref[:, 0] if shape[0] == 1 else ref.transpose(0, 2, 3, 1)
    assert np.abs(x.astype(int) - ref).max() <= 1
    assert classes == ["0", "1", "2"]
    with Image.open(tmp_path / "samples.png") as im:
        im.verify()
    # the Dataset: same format as the real data, concatenable
    ds = GeneratedDataset.from_npz(tmp_path / "samples.npz")
    img, label = ds[0]
    assert img.shape == shape and img.dtype == torch.float32 and label.dtype == torch.long
    assert 0 <= float(img.min()) and float(img.max()) <= 1
    assert torch.allclose(torch.stack([ds[i][0] for i in range(len(ds))]), s.x, atol=1 / 255)
    real = TensorDataset(torch.rand(5, *shape), torch.zeros(5, dtype=torch.long))
    xb, yb = next(iter(DataLoader(ConcatDataset([real, ds]), batch_size=23)))
    assert xb.shape == (23, *shape) and yb.dtype == torch.long


def test_image_folder_loads_back(tmp_path):
    from torchvision.datasets import ImageFolder
    names = ["T-shirt/top", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"]  # 12 classes
    model = StubModel(k=12, shape=(1, 6, 6))
    s = generate_labeled(model, 3, seed=0, classes=names)
    save_samples(s, tmp_path, image_folder=True)
    folder = ImageFolder(str(tmp_path / "image_folder"))
    assert len(folder) == 36
    assert folder.classes == class_folder_names(names)
    assert folder.classes[0] == "00_T-shirt_top" and folder.classes[10] == "10_k"
    assert sorted(folder.targets) == s.y.tolist()
    with np.load(tmp_path / "samples.npz") as f:
        x8, y = f["x"], f["y"]
    for path, target in folder.samples:
        img = np.array(Image.open(path).convert("L"))
        i = int(Path(path).stem)
        assert np.array_equal(img, x8[y == target][i])


class CountingDataset(Dataset):
    def __init__(self, base):
        self.base, self.reads = base, 0

    def __len__(self):
        return len(self.base)

    def __getitem__(self, i):
        self.reads += 1
        return self.base[i]


def test_supervised_loop_runs_exactly_the_given_steps():
    hp = {"image_shape": (1, 8, 8), "num_classes": 10, "lr": 0.003, "betas": (0.5, 0.999),
          "ema": True, "ema_decay": 0.999}
    ds = CountingDataset(TensorDataset(torch.rand(30, 1, 8, 8), torch.randint(0, 10, (30,))))
    net = train_supervised_classifier(ds, hp, steps=7, batch_size=20, seed=0,
                                      init_images=torch.rand(50, 1, 8, 8))
    assert ds.reads == 7 * 20
    assert not net.training


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    root = tmp_path_factory.mktemp("aug")
    _, run_dir = run_training([
        "--data.dataset", "digits", "--data.num_labels", "50", "--data.data_root", str(root / "data"),
        "--seed_everything", "0", "--trainer.max_epochs", "2", "--trainer.enable_progress_bar", "false",
        "--trainer.logger.init_args.save_dir", str(root / "runs")])
    return Path(run_dir) / "checkpoints" / "last.ckpt"


def augment(checkpoint, out, capsys, *options) -> tuple[dict, dict]:
    """``evaluate.py augment`` in this process: (its JSON output, the arrays it saved)."""
    assert eval_main(["augment", str(checkpoint), "--out", str(out), *options]) == 0
    printed = json.loads(capsys.readouterr().out)
    with np.load(out / "samples.npz") as f:
        return printed, dict(f)


def test_augment_command_with_evaluate(checkpoint, tmp_path, capsys):
    out = tmp_path / "aug"
    printed, saved = augment(checkpoint, out, capsys, "--n-per-class", "5", "--image-folder",
                             "--evaluate", "--eval-steps", "15")
    x, y = saved["x"], saved["y"]
    assert x.dtype == np.uint8 and x.shape[1:] == (8, 8) and len(x) == len(y)
    counts = np.bincount(y, minlength=10)
    assert printed["limit_hit"] or counts.tolist() == [5] * 10
    aug = json.loads((out / "augmentation.json").read_text())
    for arm in ("real", "real+generated"):
        assert len(aug[arm]["errors"]) == 3
        assert 0 <= aug[arm]["error_mean"] <= 1 and aug[arm]["error_std"] >= 0
    assert aug["steps"] == 15 and aug["seeds"] == [0, 1, 2]
    assert aug["n_real"] == 50 and aug["n_generated"] == len(y)
    assert printed["augmentation"]["real"]["error_mean"] == aug["real"]["error_mean"]
    # the labeled real images are the checkpoint's split
    model, ckpt = load_checkpoint(checkpoint)
    dm = datamodule_from_checkpoint(ckpt)
    assert len(labeled_real_dataset(dm)) == 50


def test_min_confidence_through_the_cli_on_a_real_checkpoint(checkpoint, tmp_path, capsys):
    out = tmp_path / "conf"
    _, saved = augment(checkpoint, out, capsys, "--n-per-class", "2", "--min-confidence", "0.6",
                       "--max-draws", "20000")
    conf, y = saved["confidence"], saved["y"]
    assert len(conf) > 0 and (conf >= 0.6).all()
    info = json.loads((out / "samples.json").read_text())
    assert info["min_confidence"] == 0.6
    assert info["rejected_low_confidence"] > 0  # the 2-epoch classifier is unsure of some
    # the confidences are the checkpoint's classifier's (its EMA copy) on the saved images,
    # up to their 8-bit quantisation
    model, _ = load_checkpoint(checkpoint)
    x = torch.as_tensor(saved["x"]).float().div(255).unsqueeze(1)
    probs = torch.softmax(model.predict_logits(x), 1)
    assert torch.allclose(probs.max(1).values, torch.as_tensor(conf), atol=0.05)
    assert torch.equal(probs.argmax(1), torch.as_tensor(y))


def test_augment_refuses_bad_input(checkpoint, tmp_path, capsys):
    assert eval_main(["augment", str(checkpoint), "--n-per-class", "0", "--out", str(tmp_path)]) == 2
    assert eval_main(["augment", str(checkpoint), "--n-per-class", "3", "--out", str(tmp_path),
                      "--min-confidence", "1.5"]) == 2
    assert eval_main(["augment", str(tmp_path / "nope.ckpt"), "--n-per-class", "3",
                      "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "--n-per-class" in err and "--min-confidence" in err and "does not exist" in err


def test_conditional_checkpoint_uses_its_conditioning_labels(tmp_path, capsys):
    root = tmp_path
    _, run_dir = run_training([
        "--data.dataset", "digits", "--data.num_labels", "50", "--data.data_root", str(root / "data"),
        "--seed_everything", "0", "--trainer.max_epochs", "1", "--trainer.enable_progress_bar", "false",
        "--trainer.logger.init_args.save_dir", str(root / "runs"), "--model.objective", "ContraGAN"])
    ckpt = Path(run_dir) / "checkpoints" / "last.ckpt"
    model, _ = load_checkpoint(ckpt)
    assert model.g_objective.conditional
    s = generate_labeled(model, 4, seed=0)
    assert s.info["labels_from"] == "conditioning label" and s.info["drawn"] == 40
    assert torch.bincount(s.y).tolist() == [4] * 10
    capsys.readouterr()  # training's own prints
    assert eval_main(["augment", str(ckpt), "--n-per-class", "3", "--out", str(tmp_path / "a")]) == 0
    assert json.loads(capsys.readouterr().out)["labels_from"] == "conditioning label"
