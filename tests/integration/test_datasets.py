"""Dataset sources (raw formats written here in miniature), the conv networks, and the
data-side errors. Runs offline: every source reads files this test writes to tmp_path."""

import gzip
import os
import pickle
import re
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from ssgan.cli import run_training
from ssgan.data import SSLDataModule, load_dataset
from ssgan.data.module import random_cutout, random_hflip, random_translate
from ssgan.data import sources
from ssgan.errors import SSGANError

REPO = Path(__file__).resolve().parents[2]
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")


# ---------------------------------------------------------------------------------------------
# writers of the raw formats


def write_idx(path: Path, array: np.ndarray) -> None:
    """idx: 0, 0, dtype code 0x08 (uint8), ndim, big-endian dims, then the bytes."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()
    if path.suffix == ".gz":
        with gzip.open(path, "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)


def labelled_images(n: int, shape, seed: int):
    """Random uint8 images with labels 0..9 cycling, and the label stamped into pixel 0."""
    rng = np.random.RandomState(seed)
    x = rng.randint(0, 256, size=(n, *shape), dtype=np.uint8)
    y = np.arange(n) % 10
    x.reshape(n, -1)[:, 0] = y * 20
    return x, y


def write_mnist(root: Path, n_train=20, n_test=10) -> dict:
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    xtr, ytr = labelled_images(n_train, (28, 28), 0)
    xte, yte = labelled_images(n_test, (28, 28), 1)
    write_idx(raw / "train-images-idx3-ubyte.gz", xtr)
    write_idx(raw / "train-labels-idx1-ubyte.gz", ytr.astype(np.uint8))
    write_idx(raw / "t10k-images-idx3-ubyte", xte)  # one uncompressed, as torchvision leaves them
    write_idx(raw / "t10k-labels-idx1-ubyte", yte.astype(np.uint8))
    return dict(xtr=xtr, ytr=ytr, xte=xte, yte=yte)


def write_svhn(folder: Path, n_train=20, n_test=10, n_extra=0) -> dict:
    from scipy.io import savemat
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for split, n, seed in (("train", n_train, 0), ("test", n_test, 1), ("extra", n_extra, 2)):
        if not n:
            continue
        x, y = labelled_images(n, (3, 32, 32), seed)          # (N, C, H, W)
        X = np.ascontiguousarray(x.transpose(2, 3, 1, 0))      # SVHN: (H, W, C, N)
        y_file = np.where(y == 0, 10, y).reshape(-1, 1).astype(np.uint8)  # digit 0 is label 10
        savemat(folder / f"{split}_32x32.mat", {"X": X, "y": y_file})
        out[split] = (x, y)
    return out


def write_cifar(folder: Path, per_batch=4, n_test=10) -> dict:
    folder.mkdir(parents=True)
    xs, ys = [], []
    for i in range(1, 6):
        x, y = labelled_images(per_batch, (3, 32, 32), i)
        y = (y + 2 * i) % 10
        # python-3 pickles with bytes keys (as on the CIFAR page's example), and one batch
        # with str keys (what the original python-2 pickles give under latin1)
        d = {b"data": x.reshape(per_batch, -1), b"labels": [int(v) for v in y],
             b"batch_label": b"training batch"}
        if i == 3:
            d = {k.decode(): v for k, v in d.items()}
        with open(folder / f"data_batch_{i}", "wb") as f:
            pickle.dump(d, f)
        xs.append(x)
        ys.append(y)
    xte, yte = labelled_images(n_test, (3, 32, 32), 9)
    with open(folder / "test_batch", "wb") as f:
        pickle.dump({b"data": xte.reshape(n_test, -1), b"labels": list(map(int, yte))}, f)
    names = [f"class{i}".encode() for i in range(10)]
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({b"label_names": names, b"num_cases_per_batch": per_batch}, f)
    return dict(xtr=np.concatenate(xs), ytr=np.concatenate(ys), xte=xte, yte=yte)


def write_png(path: Path, size, mode: str, value: int) -> None:
    from PIL import Image
    path.parent.mkdir(parents=True, exist_ok=True)
    w, h = size
    arr = np.full((h, w, 3) if mode == "RGB" else (h, w), value, dtype=np.uint8)
    Image.fromarray(arr, mode).save(path)


def train_args(quiet_trainer_args, *extra, config=None):
    # a --config file must come first: later arguments override it
    head = ["--config", str(config)] if config else []
    return [*head, *quiet_trainer_args, "--data.download", "false", "--trainer.max_steps", "2",
            "--data.batch_size", "4", "--data.eval_batch_size", "16",
            "--model.data_init_size", "8", *extra]


def one_line_error(excinfo) -> str:
    msg = str(excinfo.value)
    assert "\n" not in msg
    return msg


# ---------------------------------------------------------------------------------------------
# real Fashion-MNIST


@pytest.mark.skipif(not FASHION_DIR.is_dir(), reason="apt-get install dataset-fashion-mnist")
def test_fashion_mnist_loader_reads_the_real_files(tmp_path):
    data = load_dataset("fashion_mnist", tmp_path / "empty", download=False)
    assert data.x_train.shape == (60000, 1, 28, 28) and data.x_test.shape == (10000, 1, 28, 28)
    assert data.x_train.dtype == torch.float32
    assert 0.0 == float(data.x_train.min()) and float(data.x_train.max()) == 1.0
    # the published first labels of each split and the balanced class counts
    assert data.y_train[:10].tolist() == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]
    assert data.y_test[:10].tolist() == [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]
    assert torch.bincount(data.y_train).tolist() == [6000] * 10
    assert torch.bincount(data.y_test).tolist() == [1000] * 10
    assert data.classes[9] == "Ankle boot"


# ---------------------------------------------------------------------------------------------
# MNIST, SVHN, CIFAR-10 from their raw formats


def test_mnist_idx_files_load_and_train(tmp_path, quiet_trainer_args):
    ref = write_mnist(tmp_path / "data")
    data = load_dataset("mnist", tmp_path / "data", download=False)
    assert data.x_train.shape == (20, 1, 28, 28) and data.x_test.shape == (10, 1, 28, 28)
    assert torch.equal((data.x_train[:, 0] * 255).round().to(torch.uint8),
                       torch.from_numpy(ref["xtr"]))
    assert data.y_train.tolist() == ref["ytr"].tolist()
    assert data.y_test.tolist() == ref["yte"].tolist()
    # the decoded tensors were cached next to the raw files
    assert list((tmp_path / "data" / "MNIST" / "raw").glob("*" + sources.CACHE_SUFFIX))

    metrics, run_dir = run_training(train_args(
        quiet_trainer_args, "--data.dataset", "mnist", "--data.num_labels", "10"))
    assert metrics["dataset"] == "mnist" and 0 <= metrics["test/acc"] <= 1
    assert (run_dir / "metrics.json").is_file()


def test_svhn_mat_files_load_and_train_with_conv_nets(tmp_path, quiet_trainer_args):
    ref = write_svhn(tmp_path / "data" / "svhn", n_extra=6)
    data = load_dataset("svhn", tmp_path / "data", download=False)
    assert data.x_train.shape == (20, 3, 32, 32) and data.x_test.shape == (10, 3, 32, 32)
    x, y = ref["train"]
    assert torch.equal((data.x_train * 255).round().to(torch.uint8), torch.from_numpy(x))
    assert data.y_train.tolist() == y.tolist()          # file label 10 came back as digit 0
    assert 0 in data.y_train.tolist()
    extra = load_dataset("svhn", tmp_path / "data", download=False, svhn_extra=True)
    assert len(extra.x_train) == 26 and torch.equal(extra.x_train[:20], data.x_train)

    metrics, run_dir = run_training(train_args(
        quiet_trainer_args, "--data.dataset", "svhn", "--data.num_labels", "10",
        "--model.networks", "Conv", "--model.networks.d_widths", "[8, 16]",
        "--model.networks.g_widths", "[16, 8, 4]"))  # small, for speed
    assert 0 <= metrics["test/acc"] <= 1
    state = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu",
                       weights_only=False)["state_dict"]
    assert "discriminator.convs.8.v" in state and "generator.out.v" in state


def test_cifar10_pickles_load_cache_and_train_with_the_preset(tmp_path, quiet_trainer_args,
                                                              monkeypatch):
    folder = tmp_path / "data" / "cifar-10-batches-py"
    ref = write_cifar(folder)
    data = load_dataset("cifar10", tmp_path / "data", download=False)
    assert data.x_train.shape == (20, 3, 32, 32) and data.x_test.shape == (10, 3, 32, 32)
    assert torch.equal((data.x_train * 255).round().to(torch.uint8), torch.from_numpy(ref["xtr"]))
    assert data.y_train.tolist() == ref["ytr"].tolist()
    assert data.y_test.tolist() == ref["yte"].tolist()
    assert data.classes == [f"class{i}" for i in range(10)]

    # the second load comes from the cache; a changed raw file invalidates it
    def fail(path):
        raise AssertionError("raw file re-read")
    monkeypatch.setattr(sources.cifar10, "read_cifar_batch", fail)
    again = load_dataset("cifar10", tmp_path / "data", download=False)
    assert torch.equal(again.x_train, data.x_train)
    os.utime(folder / "test_batch", ns=(1, 1))
    with pytest.raises(AssertionError, match="re-read"):
        load_dataset("cifar10", tmp_path / "data", download=False)
    monkeypatch.undo()

    metrics, run_dir = run_training(train_args(
        quiet_trainer_args, "--data.num_labels", "10", "--data.data_root", str(tmp_path / "data"),
        "--model.networks.d_widths", "[8, 16]", "--model.networks.g_widths", "[16, 8, 4]",
        config=REPO / "configs" / "cifar10.yaml"))
    assert metrics["dataset"] == "cifar10" and metrics["num_labels"] == 10
    assert 0 <= metrics["test/acc"] <= 1


def test_presets_hold_the_paper_settings():
    import yaml
    cifar = yaml.safe_load((REPO / "configs" / "cifar10.yaml").read_text())
    svhn = yaml.safe_load((REPO / "configs" / "svhn.yaml").read_text())
    for preset, labels, epochs, name in ((cifar, 4000, 1200, "conv_cifar"),
                                         (svhn, 1000, 900, "conv_svhn")):
        model = preset["model"]["init_args"]
        assert (preset["data"]["num_labels"], model["lr"], preset["trainer"]["max_epochs"],
                model["networks"]["init_args"]["preset"]) == (labels, 3e-4, epochs, name)
        assert model["objective"]["init_args"]["p"] == 1 and model["ema_decay"] == 0.9999
        # the original's linear lr decay over the last third of training
        assert model["lr_decay_start"] == 0.667


# ---------------------------------------------------------------------------------------------
# image_folder and npz


def make_image_folder(root: Path) -> None:
    for split, n in (("train", 3), ("test", 1)):
        for c, name in enumerate(["cat", "dog"]):
            for i in range(n):
                # two sizes, RGB and grayscale mixed
                size, mode = ((40, 30), "RGB") if i % 2 == 0 else ((20, 20), "L")
                write_png(root / split / name / f"{i}.png", size, mode, 50 + 100 * c)
    (root / "train" / "cat" / "notes.txt").write_text("not an image, ignored")


def test_image_folder_resizes_mixed_sizes_and_modes(tmp_path, quiet_trainer_args, capfd):
    root = tmp_path / "data"
    make_image_folder(root)
    # mixed sizes without --data.image_size: the median shorter side (30 of 20 and 30, six
    # images of 40x30 against two of 20x20), rounded down to a multiple of 4, said in one line
    auto = load_dataset("image_folder", root, image_size=None)
    assert auto.x_train.shape[-2:] == (28, 28)
    assert "resizing all to 28x28" in capfd.readouterr().err

    data = load_dataset("image_folder", root, image_size=16)
    assert data.classes == ["cat", "dog"]
    assert data.x_train.shape == (6, 3, 16, 16) and data.x_test.shape == (2, 3, 16, 16)
    assert data.y_train.tolist() == [0, 0, 0, 1, 1, 1] and data.y_test.tolist() == [0, 1]
    # constant images stay constant through the resize: cat 50, dog 150
    assert torch.allclose(data.x_train[0], torch.full((3, 16, 16), 50 / 255), atol=1 / 255)
    assert torch.allclose(data.x_train[4], torch.full((3, 16, 16), 150 / 255), atol=1 / 255)

    gray = load_dataset("image_folder", root, image_size=12, channels=1)
    assert gray.x_train.shape == (6, 1, 12, 12)

    only_gray = tmp_path / "gray"
    for split in ("train", "test"):
        for c in ("a", "b"):
            write_png(only_gray / split / c / "0.png", (10, 10), "L", 7)
    assert load_dataset("image_folder", only_gray).x_train.shape == (2, 1, 10, 10)

    metrics, _ = run_training(train_args(
        quiet_trainer_args, "--data.dataset", "image_folder", "--data.data_root", str(root),
        "--data.image_size", "12", "--data.channels", "1", "--data.num_labels", "2"))
    assert 0 <= metrics["test/acc"] <= 1


def test_npz_loads_both_layouts_and_trains_with_augmentation(tmp_path, quiet_trainer_args):
    root = tmp_path / "data"
    root.mkdir()
    rng = np.random.RandomState(0)
    x_tr = rng.randint(0, 256, (12, 10, 10, 3), dtype=np.uint8)
    y_tr = np.array([3, 7] * 6)
    np.savez(root / "train.npz", x=x_tr, y=y_tr)
    np.savez(root / "test.npz", x=rng.randint(0, 256, (4, 10, 10, 3), dtype=np.uint8),
             y=np.array([7, 3, 3, 7]).reshape(-1, 1))
    data = load_dataset("npz", root)
    assert data.x_train.shape == (12, 3, 10, 10)
    assert torch.equal((data.x_train * 255).round().to(torch.uint8),
                       torch.from_numpy(x_tr.transpose(0, 3, 1, 2)))
    assert data.classes == ["3", "7"] and data.y_train.tolist() == [0, 1] * 6
    assert data.y_test.tolist() == [1, 0, 0, 1]

    metrics, _ = run_training(train_args(
        quiet_trainer_args, "--data.dataset", "npz", "--data.data_root", str(root),
        "--data.num_labels", "4", "--data.augment_translate", "2", "--data.augment_flip", "true"))
    assert 0 <= metrics["test/acc"] <= 1

    np.savez(root / "test.npz", x=np.zeros((2, 8, 8), np.uint8), y=np.array([3, 7]))
    with pytest.raises(SSGANError, match="train.npz images are .* but test.npz") as e:
        load_dataset("npz", root)
    one_line_error(e)
    # grayscale (N, H, W) and a resize bring both to one shape
    fixed = load_dataset("npz", root, image_size=8, channels=1)
    assert fixed.x_train.shape == (12, 1, 8, 8) and fixed.x_test.shape == (2, 1, 8, 8)


# ---------------------------------------------------------------------------------------------
# errors


def test_missing_root_and_files_say_where_and_how(tmp_path):
    with pytest.raises(SSGANError, match="does not exist.*train/CLASS") as e:
        load_dataset("image_folder", tmp_path / "nowhere")
    one_line_error(e)
    for name, hint in (("mnist", "MNIST/raw"), ("svhn", "train_32x32.mat"),
                       ("cifar10", "cifar-10-batches-py")):
        with pytest.raises(SSGANError, match=r"not found in .*--data\.download true") as e:
            load_dataset(name, tmp_path / "nowhere", download=False)
        assert hint in one_line_error(e) and str(tmp_path / "nowhere") in str(e.value)
    with pytest.raises(SSGANError, match="npz: .*train.npz not found"):
        load_dataset("npz", tmp_path)


def test_unreadable_files_give_one_line_errors(tmp_path):
    root = tmp_path / "imgs"
    make_image_folder(root)
    (root / "train" / "dog" / "broken.png").write_bytes(b"this is not a png")
    with pytest.raises(SSGANError, match=r"cannot read image .*broken\.png") as e:
        load_dataset("image_folder", root, image_size=8)
    one_line_error(e)

    cifar = tmp_path / "c" / "cifar-10-batches-py"
    write_cifar(cifar)
    (cifar / "data_batch_2").write_bytes(b"garbage")
    with pytest.raises(SSGANError, match="cannot read CIFAR-10 file .*data_batch_2") as e:
        load_dataset("cifar10", tmp_path / "c", download=False)
    one_line_error(e)

    (tmp_path / "s" / "svhn").mkdir(parents=True)
    (tmp_path / "s" / "svhn" / "train_32x32.mat").write_bytes(b"garbage")
    (tmp_path / "s" / "svhn" / "test_32x32.mat").write_bytes(b"garbage")
    with pytest.raises(SSGANError, match="cannot read SVHN file") as e:
        load_dataset("svhn", tmp_path / "s", download=False)
    one_line_error(e)


def test_too_few_images_per_class_and_bad_options(tmp_path):
    write_mnist(tmp_path / "data")  # 2 training images per class
    dm = SSLDataModule("mnist", str(tmp_path / "data"), num_labels=30, download=False)
    with pytest.raises(SSGANError, match="needs 3 images per class .* use at most 20") as e:
        dm.setup()
    one_line_error(e)
    with pytest.raises(SSGANError, match="svhn_extra applies only to the svhn dataset"):
        SSLDataModule("cifar10", svhn_extra=True)
    with pytest.raises(SSGANError, match="data.channels must be 1"):
        SSLDataModule("mnist", channels=2)
    with pytest.raises(SSGANError, match="data.image_size"):
        SSLDataModule("mnist", image_size=0)


def test_train_py_exits_2_with_one_line_on_a_missing_root(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(REPO / "train.py"), "--data.dataset", "image_folder",
         "--data.data_root", str(tmp_path / "missing"), "--trainer.logger.init_args.save_dir",
         str(tmp_path / "runs")],
        capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and str(tmp_path / "missing") in lines[0], proc.stderr


# ---------------------------------------------------------------------------------------------
# options on any source, augmentation, the conv networks


def test_image_size_and_channels_apply_to_fixed_shape_sources(tmp_path):
    write_mnist(tmp_path / "data")
    dm = SSLDataModule("mnist", str(tmp_path / "data"), num_labels=10, download=False,
                       image_size=32, channels=3)
    assert dm.image_shape == (3, 32, 32)  # known before reading
    assert dm.data is None
    dm.setup()
    assert dm.data.x_train.shape == (20, 3, 32, 32) and dm.data.x_train.max() <= 1


def test_batched_augmentation():
    x = torch.arange(2 * 3 * 6 * 6, dtype=torch.float32).view(2, 3, 6, 6)
    shifted = random_translate(x.repeat(50, 1, 1, 1), 1)
    pad = torch.nn.functional.pad(x, (1, 1, 1, 1), mode="reflect")
    crops = [pad[:, :, i:i + 6, j:j + 6] for i in range(3) for j in range(3)]
    seen = set()
    for k in range(len(shifted)):
        match = [c for c, crop in enumerate(crops) if torch.equal(shifted[k], crop[k % 2])]
        assert match, "every output is a reflect-padded shift of its own input"
        seen.add(match[0])
    assert len(seen) > 3
    flipped = random_hflip(x.repeat(20, 1, 1, 1))
    is_flip = [torch.equal(f, x[k % 2].flip(-1)) for k, f in enumerate(flipped)]
    assert all(torch.equal(f, x[k % 2]) or is_flip[k] for k, f in enumerate(flipped))
    assert 0 < sum(is_flip) < len(flipped)


def test_cutout_erases_one_square_per_image_clipped_at_the_border():
    x = torch.rand(600, 2, 7, 7) + 0.5  # no zero before the cut
    assert torch.equal(random_cutout(x, 0), x)
    for size, sides in ((3, {2, 3}), (4, {2, 3, 4})):
        out = random_cutout(x, size, torch.Generator().manual_seed(size))
        erased = out == 0
        assert torch.equal(erased[:, 0], erased[:, 1])  # the same square in every channel
        assert torch.equal(out[~erased], x[~erased])  # the rest is untouched
        rows_hit, cols_hit = erased[:, 0].any(2), erased[:, 0].any(1)  # (N, H), (N, W)
        for k in range(len(x)):
            r, c = rows_hit[k].nonzero().flatten(), cols_hit[k].nonzero().flatten()
            assert int(r.max() - r.min()) + 1 == len(r) and len(r) in sides  # a contiguous run
            assert int(c.max() - c.min()) + 1 == len(c) and len(c) in sides
            assert int(erased[k, 0].sum()) == len(r) * len(c)  # a full rectangle
        assert erased[:, 0].any(0).all()  # every pixel is sometimes erased: centres anywhere
        # a centre is uniform over the 7 rows: the square is cut to its inner part at the border
        assert {len(r) for r in [rows_hit[k].nonzero() for k in range(len(x))]} == sides


def test_readme_lists_every_source():
    text = (REPO / "datasets" / "README.md").read_text()
    for name in sources.SOURCES:
        assert re.search(rf"`{name}`", text), name
