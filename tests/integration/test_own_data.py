"""Your own images: an image tree with labeled/, a nested unlabeled/ and test/; npz with
unlabeled.npz; the decoding of real-world files; the cache location; the bad inputs; and
--trainer.default_root_dir. Everything is written to tmp_path here."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ssgan.cli import run_training
from ssgan.data import SSLDataModule, load_dataset
from ssgan.data.module import SSLBatchSampler
from ssgan.data.sources import UNLABELED, cache_path, decode_image
from ssgan.errors import SSGANError

CLASSES = ["bright", "dark", "mid"]
VALUES = {"bright": 210, "dark": 40, "mid": 125}


def save(path: Path, value: int, size=(12, 12), mode="RGB", fmt=None) -> Path:
    """A flat image of grey level ``value`` (in the image's own mode) with a little noise."""
    path.parent.mkdir(parents=True, exist_ok=True)
    w, h = size
    rng = np.random.RandomState(abs(hash(path.name)) % 2**31)
    grey = np.clip(value + rng.randint(-8, 9, (h, w)), 0, 255).astype(np.uint8)
    if mode == "I;16":
        Image.fromarray(grey.astype(np.uint16) * 257).save(path)
        return path
    im = Image.fromarray(grey, "L")
    if mode == "P":
        im = im.convert("RGB").convert("P", palette=Image.Palette.ADAPTIVE)
    elif mode != "L":
        im = im.convert(mode)
    im.save(path, fmt)
    return path


def make_tree(root: Path) -> dict:
    """labeled/ with imbalanced classes (6, 3, 2) in mixed sizes and modes, a nested unlabeled/
    with one broken file, and test/. Returns the relative paths of each kind."""
    modes = ["RGB", "L", "P", "RGBA", "I;16", "RGB"]
    sizes = [(12, 12), (14, 10), (12, 12), (16, 12), (12, 12), (20, 16)]
    out = {"labeled": [], "unlabeled": [], "test": []}
    for name, count in zip(CLASSES, (6, 3, 2)):
        for i in range(count):
            p = save(root / "labeled" / name / f"{i}.png", VALUES[name], sizes[i], modes[i])
            out["labeled"].append(str(p.relative_to(root)))
        jpg = save(root / "test" / name / "a.jpg", VALUES[name], (12, 12), "RGB")
        png = save(root / "test" / name / "b.png", VALUES[name], (16, 12), "L")
        out["test"] += [str(jpg.relative_to(root)), str(png.relative_to(root))]
    for i in range(24):
        name = CLASSES[i % 3]
        sub = ["", "batch1", "batch1/deeper"][i % 3]
        p = save(root / "unlabeled" / sub / f"u{i}.png", VALUES[name], sizes[i % 6], modes[i % 6])
        out["unlabeled"].append(str(p.relative_to(root)))
    (root / "unlabeled" / "batch1" / "broken.png").write_bytes(b"not a png at all")
    (root / "unlabeled" / "notes.txt").write_text("ignored: not an image")
    return out


def run_args(tmp: Path, *extra) -> list[str]:
    return ["--trainer.enable_progress_bar", "false", "--trainer.max_epochs", "1",
            "--trainer.logger.init_args.save_dir", str(tmp / "runs"), "--data.batch_size", "8",
            "--data.labeled_batch_size", "6", "--data.eval_batch_size", "16", *extra]


def main_out(capsys, main, args) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of an entry point's ``main(argv)``."""
    capsys.readouterr()
    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def tree_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tree")
    files = make_tree(tmp / "images")
    metrics, run_dir = run_training(run_args(tmp, "--data.dataset", "image_folder",
                                             "--data.data_root", str(tmp / "images")))
    return tmp, files, metrics, run_dir


# ---------------------------------------------------------------------------------------------
# decoding real-world files


def test_sixteen_bit_png_scales_instead_of_clipping(tmp_path):
    path = tmp_path / "deep.png"
    Image.fromarray(np.full((4, 5), 50000, np.uint16)).save(path)
    a = decode_image(path, 1)
    # 50000 of 65535 is 194.55 of 255; Pillow's own convert("L") would clip to 255
    assert a.shape == (1, 4, 5) and int(a.max()) == round(50000 * 255 / 65535) == int(a.min())


def test_exif_orientation_is_applied(tmp_path):
    arr = np.zeros((4, 8), np.uint8)
    arr[:, 4:] = 255  # left half black, right half white, 8 wide and 4 high as stored
    im = Image.fromarray(arr, "L")
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to display"
    im.save(tmp_path / "phone.jpg", exif=exif, quality=95)
    a = decode_image(tmp_path / "phone.jpg", 1)[0].astype(float)
    # displayed 4 wide and 8 high; the black left half is now on top
    assert a.shape == (8, 4)
    assert a[:3].mean() < 30 and a[5:].mean() > 225


def test_palette_and_rgba_convert(tmp_path):
    rgba = Image.new("RGBA", (3, 2), (10, 200, 30, 0))
    rgba.save(tmp_path / "a.png")
    assert decode_image(tmp_path / "a.png", 3)[:, 0, 0].tolist() == [10, 200, 30]
    Image.new("RGB", (3, 2), (10, 200, 30)).convert("P").save(tmp_path / "p.png")
    assert decode_image(tmp_path / "p.png", 3).shape == (3, 2, 3)


def test_cache_never_goes_into_a_system_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    target = cache_path(Path("/usr/share/datasets/fashion-mnist"), "x.ssgan-cache.pt")
    assert target.parent == tmp_path / "xdg" / "ssgan" and target.name.endswith("x.ssgan-cache.pt")
    (tmp_path / "mine").mkdir()
    assert cache_path(tmp_path / "mine", "x.ssgan-cache.pt") == tmp_path / "mine" / "x.ssgan-cache.pt"


# ---------------------------------------------------------------------------------------------
# the image tree, trained


def test_tree_loads_as_labeled_unlabeled_and_test(tree_run, capfd):
    tmp, files, _, _ = tree_run
    data = load_dataset("image_folder", tmp / "images")
    err = capfd.readouterr().err
    assert "resizing all to 12x12" in err  # mixed sizes: a size is chosen and said
    assert "skipped 1 unreadable image" in err and "broken.png" in err
    assert data.user_labeled and data.classes == CLASSES
    assert data.x_train.shape[1:] == (3, 12, 12)  # RGB because some images have colour
    labeled = [n for n, y in zip(data.train_names, data.y_train.tolist()) if y != UNLABELED]
    assert sorted(labeled) == sorted(files["labeled"])
    unlabeled = [n for n, y in zip(data.train_names, data.y_train.tolist()) if y == UNLABELED]
    assert sorted(unlabeled) == sorted(files["unlabeled"])
    assert len(data.x_test) == len(files["test"])


def test_training_uses_exactly_the_labeled_files(tree_run):
    tmp, files, metrics, run_dir = tree_run
    from ssgan.evaluation import datamodule_from_checkpoint
    ckpt = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=False)
    dm = datamodule_from_checkpoint(ckpt)
    record = json.loads((run_dir / "labeled_indices.json").read_text())
    names = dm.data.train_names
    assert sorted(names[i] for i in record["indices"]) == sorted(files["labeled"])
    pool = {names[i] for i in dm.unlabeled_indices}
    assert set(files["unlabeled"]) <= pool and set(files["labeled"]) <= pool
    assert metrics["num_labels"] == len(files["labeled"]) == record["num_labels"]
    assert ckpt["SSLDataModule"]["classes"] == CLASSES


def test_imbalanced_labeled_batches_hold_every_class():
    labeled = torch.arange(11)
    classes = torch.tensor([0] * 6 + [1] * 3 + [2] * 2)
    s = SSLBatchSampler(labeled, torch.arange(40), 8, 6, seed=3, labeled_classes=classes)
    batches = [lab for lab, _, _ in s]
    for lab in batches:
        assert torch.bincount(classes[lab], minlength=3).tolist() == [2, 2, 2]
    # within a class every image is drawn (the tiling cycles through all of them)
    seen = torch.cat(batches)
    assert set(seen.tolist()) == set(range(11))


def test_predict_folder_rows_sum_to_one_and_match_the_test_accuracy(tree_run, tmp_path, capsys):
    from ssgan.eval_cli import main
    from ssgan.predict import read_predictions
    tmp, files, metrics, run_dir = tree_run
    ckpt = run_dir / "checkpoints" / "last.ckpt"
    out = tmp_path / "pred.csv"
    code, _, err = main_out(capsys, main, ["predict", str(ckpt), str(tmp / "images" / "test"),
                                           "--out", str(out)])
    assert code == 0, err
    paths, probs, classes = read_predictions(out)
    assert classes == CLASSES and len(paths) == len(files["test"])
    assert np.allclose(probs.sum(1), 1, atol=1e-5)
    truth = [CLASSES.index(Path(p).parent.name) for p in paths]
    acc = float(np.mean(probs.argmax(1) == np.array(truth)))
    assert acc == pytest.approx(metrics["test/acc"], abs=1e-6)

    # stdout carries only the CSV; --unlabeled labels the pool, never the labeled files
    code, csv_text, _ = main_out(capsys, main, ["predict", str(ckpt), "--unlabeled"])
    assert code == 0
    rows = csv_text.strip().splitlines()
    assert rows[0].startswith("path,label,confidence,p_bright")
    listed = {str(Path(r.split(",")[0]).relative_to(tmp / "images")) for r in rows[1:]}
    assert listed == set(files["unlabeled"])


def test_export_runs_without_ssgan_and_equals_predict(tree_run, tmp_path, capsys):
    import subprocess
    import sys
    from ssgan.eval_cli import main
    from ssgan.predict import read_predictions
    tmp, files, _, run_dir = tree_run
    ckpt = run_dir / "checkpoints" / "last.ckpt"
    code, _, err = main_out(capsys, main, ["export", str(ckpt), "--out", str(tmp_path / "c.pt2")])
    assert code == 0, err
    info = json.loads((tmp_path / "classifier.json").read_text())
    assert info["classes"] == CLASSES and info["input"]["shape"] == ["N", 3, 12, 12]
    code, _, _ = main_out(capsys, main, ["predict", str(ckpt), str(tmp / "images" / "test"),
                                         "--out", str(tmp_path / "p.csv")])
    paths, probs, _ = read_predictions(tmp_path / "p.csv")
    x = np.stack([decode_image(Path(p), 3, (12, 12)) for p in paths])
    np.save(tmp_path / "x.npy", x)
    code = (
        "import sys, importlib.abc\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        if name.split('.')[0] == 'ssgan': raise ImportError('blocked')\n"
        "sys.meta_path.insert(0, Block())\n"
        "try:\n    import ssgan\nexcept ImportError:\n    pass\n"
        "else:\n    raise SystemExit('ssgan is importable')\n"
        "import numpy, torch\n"
        "m = torch.export.load(sys.argv[1]).module()\n"
        "p = m(torch.from_numpy(numpy.load(sys.argv[2])))\n"
        "numpy.save(sys.argv[3], p.detach().numpy())\n")
    env = {k: v for k, v in __import__("os").environ.items() if k != "PYTHONPATH"}
    r = subprocess.run([sys.executable, "-I", "-c", code, str(tmp_path / "c.pt2"),
                        str(tmp_path / "x.npy"), str(tmp_path / "y.npy")],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    exported = np.load(tmp_path / "y.npy")
    assert exported.shape == probs.shape
    assert np.allclose(exported, probs, atol=1e-5)


def test_suggest_lists_distinct_unlabeled_images(tree_run, tmp_path, capsys):
    from ssgan.eval_cli import main
    from ssgan.predict import read_predictions
    tmp, files, _, run_dir = tree_run
    out = tmp_path / "to_label.csv"
    code, _, err = main_out(capsys, main, ["suggest", str(run_dir / "checkpoints" / "last.ckpt"),
                                           "--n", "5", "--out", str(out)])
    assert code == 0, err
    paths, probs, _ = read_predictions(out)
    rel = [str(Path(p).relative_to(tmp / "images")) for p in paths]
    assert len(set(rel)) == 5 and set(rel) <= set(files["unlabeled"])
    header = out.read_text().splitlines()[0].split(",")
    assert header[:5] == ["path", "label", "confidence", "entropy", "cluster"]
    ent = [float(r.split(",")[3]) for r in out.read_text().splitlines()[1:]]
    assert ent == sorted(ent, reverse=True)
    # --balance none: the picks over the whole pool, same columns
    unbalanced = tmp_path / "to_label_none.csv"
    code, _, err = main_out(capsys, main, ["suggest", str(run_dir / "checkpoints" / "last.ckpt"),
                                           "--n", "5", "--balance", "none", "--out", str(unbalanced)])
    assert code == 0, err
    paths, _, _ = read_predictions(unbalanced)
    rel = [str(Path(p).relative_to(tmp / "images")) for p in paths]
    assert len(set(rel)) == 5 and set(rel) <= set(files["unlabeled"])
    assert unbalanced.read_text().splitlines()[0] == out.read_text().splitlines()[0]


def test_suggest_picks_the_most_uncertain_of_each_cluster():
    from ssgan.suggest import entropy, pick
    # two far-apart clusters; in each, the row with the flattest probabilities must win
    feats = np.array([[0, 0], [0, 1], [1, 0], [100, 100], [100, 101], [101, 100]], float)
    probs = torch.tensor([[.9, .1], [.5, .5], [.8, .2], [.99, .01], [.7, .3], [.6, .4]])
    ent = entropy(probs).numpy()
    assert np.allclose(ent[1], np.log(2))
    rows, clusters = pick(feats, ent, 2)
    assert rows.tolist() == [1, 5] and clusters[0] != clusters[1]


# ---------------------------------------------------------------------------------------------
# npz with unlabeled.npz, no test split


def test_npz_with_unlabeled_pool_and_no_test_split(tmp_path, capsys):
    root = tmp_path / "arrays"
    root.mkdir()
    rng = np.random.RandomState(0)
    y = np.array([5] * 6 + [9] * 4)
    x = (rng.rand(10, 8, 8) * 60 + np.where(y == 5, 20, 160)[:, None, None]).astype(np.uint8)
    np.savez(root / "train.npz", x=x, y=y)
    np.savez(root / "unlabeled.npz", x=rng.randint(0, 256, (30, 8, 8), dtype=np.uint8))
    data = load_dataset("npz", root)
    assert data.user_labeled and not data.has_test and data.classes == ["5", "9"]
    assert (data.y_train == UNLABELED).sum() == 30 and data.y_train[:10].tolist() == [0] * 6 + [1] * 4
    assert data.train_names[10] == "unlabeled.npz[0]"

    dm = SSLDataModule("npz", str(root), val_size=2)
    dm.setup()
    assert len(dm.val_indices) == 2 and set(dm.val_indices) < set(range(10))
    assert sorted(dm.labeled_indices.tolist() + dm.val_indices.tolist()) == list(range(10))
    assert set(range(10, 40)) <= set(dm.unlabeled_indices.tolist())

    metrics, run_dir = run_training(run_args(tmp_path, "--data.dataset", "npz",
                                             "--data.data_root", str(root)))
    saved = json.loads((run_dir / "metrics.json").read_text())
    assert "test/acc" not in saved and "test/error" not in saved
    assert "no test split" in saved["test_split"] and saved["num_labels"] == 10

    # a checkpoint trained on grayscale arrays refuses a colour image and a 3-channel npz
    from ssgan.eval_cli import main
    ckpt = str(run_dir / "checkpoints" / "last.ckpt")
    save(tmp_path / "colour.png", 100, (8, 8), "RGB")
    Image.new("RGB", (8, 8), (200, 10, 10)).save(tmp_path / "red.png")
    code, _, err = main_out(capsys, main, ["predict", ckpt, str(tmp_path / "red.png")])
    assert code == 2 and err.startswith("error: ") and "red.png" in err and err.count("\n") == 1
    np.savez(tmp_path / "rgb.npz", x=np.zeros((2, 8, 8, 3), np.uint8))
    code, _, err = main_out(capsys, main, ["predict", ckpt, str(tmp_path / "rgb.npz")])
    assert code == 2 and "3-channel" in err and err.count("\n") == 1
    (tmp_path / "notes.txt").write_text("hello")
    code, _, err = main_out(capsys, main, ["predict", ckpt, str(tmp_path / "notes.txt")])
    assert code == 2 and "not an image" in err and err.count("\n") == 1
    (tmp_path / "fake.png").write_text("hello")
    code, _, err = main_out(capsys, main, ["predict", ckpt, str(tmp_path / "fake.png")])
    assert code == 2 and "cannot read image" in err and "fake.png" in err
    code, out, err = main_out(capsys, main, ["suggest", ckpt, "--n", "3"])
    assert code == 0 and out.count("unlabeled.npz[") == 3, err
    code, _, err = main_out(capsys, main, [ckpt, "--no-samples", "--no-fid"])
    assert code == 2 and "no test split" in err


# ---------------------------------------------------------------------------------------------
# bad input


def _load_error(root: Path) -> str:
    with pytest.raises(SSGANError) as e:
        load_dataset("image_folder", root)
    assert "\n" not in str(e.value)
    return str(e.value)


def test_bad_trees_give_one_line_errors(tmp_path):
    (tmp_path / "a" / "unlabeled").mkdir(parents=True)
    save(tmp_path / "a" / "unlabeled" / "x.png", 10)
    assert "has no labeled/ folder" in _load_error(tmp_path / "a")

    save(tmp_path / "b" / "labeled" / "cat" / "x.png", 10)
    (tmp_path / "b" / "labeled" / "dog").mkdir()
    msg = _load_error(tmp_path / "b")
    assert "class folder" in msg and "dog" in msg and "no images" in msg

    save(tmp_path / "c" / "labeled" / "cat" / "x.png", 10)
    (tmp_path / "c" / "labeled" / "cat" / "y.png").write_bytes(b"\x89PNG broken")
    msg = _load_error(tmp_path / "c")
    assert "cannot read image" in msg and "y.png" in msg


def test_unreadable_unlabeled_files_are_skipped_with_one_warning(tmp_path, capfd):
    root = tmp_path / "d"
    save(root / "labeled" / "cat" / "x.png", 10)
    save(root / "labeled" / "dog" / "x.png", 200)
    save(root / "unlabeled" / "ok.png", 100)
    for i in range(12):
        (root / "unlabeled" / f"bad{i:02d}.jpg").write_bytes(b"junk")
    data = load_dataset("image_folder", root)
    err = capfd.readouterr().err
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "skipped 12 unreadable" in warnings[0]
    assert "bad00.jpg" in warnings[0] and "and 2 more" in warnings[0]
    assert data.train_names == ["labeled/cat/x.png", "labeled/dog/x.png", "unlabeled/ok.png"]


# ---------------------------------------------------------------------------------------------
# --trainer.default_root_dir


def test_default_root_dir_holds_the_runs_and_resumes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "elsewhere"
    args = ["--trainer.enable_progress_bar", "false", "--trainer.default_root_dir", str(root),
            "--data.batch_size", "200", "--trainer.max_epochs", "1"]
    _, run_dir = run_training(args)
    assert run_dir == root / "ssgan" / "version_0"
    for name in ("metrics.json", "metrics.csv", "config.yaml", "checkpoints/last.ckpt"):
        assert (run_dir / name).is_file(), name
    assert not (tmp_path / "runs").exists()
    metrics, again = run_training([*args[:-1], "2", "--ckpt_path", "last"])
    assert again == run_dir and metrics["epochs"] == 2
