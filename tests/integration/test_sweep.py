"""``evaluate.py sweep``: files, resumption, same labeled indices for every method."""

import csv
import json
import math
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

import ssgan.baselines
from ssgan import sweep
from ssgan.data import SSLDataModule, select_labeled
from ssgan.errors import SSGANError
from ssgan.eval_cli import main as eval_main

METHODS = {"ssgan", "supervised", "label_spreading"}




def argv(out, data_root, labels="20,50", seeds="0", *extra):
    return ["--dataset", "digits", "--data-root", str(data_root), "--labels", labels,
            "--seeds", seeds, "--out", str(out), "--max-epochs", "1", *extra]


class Spy:
    """Wraps a function, recording its calls; optionally fails at call number ``fail_at``."""

    def __init__(self, fn, fail_at=None):
        self.fn, self.fail_at, self.calls = fn, fail_at, []

    def __call__(self, *args, **kwargs):
        self.calls.append((args, kwargs))
        if self.fail_at is not None and len(self.calls) == self.fail_at:
            raise KeyboardInterrupt
        return self.fn(*args, **kwargs)


@pytest.fixture(scope="module")
def finished_sweep(tmp_path_factory):
    """labels 20 and 50, seed 0, 1 epoch; records what LabelSpreading was given."""
    root = tmp_path_factory.mktemp("sweep")
    spy = Spy(ssgan.baselines.label_spreading)
    mp = pytest.MonkeyPatch()
    mp.setattr(ssgan.baselines, "label_spreading", spy)
    try:
        sweep.main(argv(root / "out", root / "data"))
    finally:
        mp.undo()
    return root / "out", root / "data", spy


def read_csv(path):
    with open(path, newline="") as f:
        r = csv.DictReader(f)
        return r.fieldnames, list(r)


def test_files_columns_and_rows(finished_sweep):
    out, _, _ = finished_sweep
    cols, rows = read_csv(out / "results.csv")
    assert cols == ["method", "labels", "seed", "error", "accuracy", "train_seconds", "stop_reason"]
    assert len(rows) == 3 * 2
    assert {r["method"] for r in rows} == METHODS
    assert sorted({int(r["labels"]) for r in rows}) == [20, 50]
    for r in rows:
        assert math.isclose(float(r["error"]) + float(r["accuracy"]), 1.0, abs_tol=1e-5)
        assert 0 <= float(r["error"]) <= 1 and float(r["train_seconds"]) >= 0
        assert r["stop_reason"] == ""
    cols, summary = read_csv(out / "summary.csv")
    assert cols[:5] == ["method", "labels", "seeds", "error_mean", "error_std"]
    assert len(summary) == 3 * 2
    md = (out / "summary.md").read_text()
    assert all(m in md for m in METHODS) and "±" in md
    with Image.open(out / "error_vs_labels.png") as im:
        im.verify()
        assert im.format == "PNG"
    with Image.open(out / "error_vs_labels.png") as im:
        assert im.size[0] > 300 and im.size[1] > 200
    assert sorted(p.name for p in (out / "runs" / "ssgan").iterdir()) == ["labels20_seed0",
                                                                          "labels50_seed0"]


def test_every_method_uses_the_same_labeled_indices(finished_sweep):
    out, data_root, spy = finished_sweep
    dm = SSLDataModule("digits", data_root=str(data_root), num_labels=20, seed_data=0)
    dm.setup()
    x, y = dm.data.x_train, dm.data.y_train
    assert len(spy.calls) == 2  # one LabelSpreading fit per (labels, seed)
    for (args, _), labels in zip(spy.calls, (20, 50)):
        ssgan_idx = json.loads((out / f"runs/ssgan/labels{labels}_seed0/labeled_indices.json")
                               .read_text())["indices"]
        sup_idx = json.loads((out / f"runs/supervised/labels{labels}_seed0/labeled_indices.json")
                             .read_text())["indices"]
        split = json.loads((out / f"splits/labels{labels}_seed0.json").read_text())["indices"]
        assert ssgan_idx == sup_idx == split
        assert ssgan_idx == list(select_labeled(y.numpy(), labels, 10, 0))
        # what LabelSpreading was fitted with: the labeled rows of its pool are those images
        x_pool, y_pool, positions = args[0], args[1], np.asarray(args[2])
        assert len(positions) == labels
        assert torch.equal(x_pool[positions], x[ssgan_idx])
        assert torch.equal(y_pool[positions], y[ssgan_idx])
        assert len(x_pool) == len(x)  # the whole training pool, as ssgan's unlabeled set


def test_rerun_of_a_finished_sweep_recomputes_nothing(finished_sweep, tmp_path, monkeypatch):
    out, data_root, _ = finished_sweep
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    before = (copy / "results.csv").read_text()
    train, ls = Spy(sweep.train), Spy(ssgan.baselines.label_spreading)
    monkeypatch.setattr(sweep, "train", train)
    monkeypatch.setattr(ssgan.baselines, "label_spreading", ls)
    sweep.main(argv(copy, data_root))
    assert train.calls == [] and ls.calls == []
    assert (copy / "results.csv").read_text() == before


def test_interrupted_sweep_resumes_without_recomputing(tmp_path, monkeypatch):
    out = tmp_path / "out"
    args = argv(out, tmp_path / "data", "20", "0")
    # the second training (supervised) is interrupted: ssgan's row must already be on disk
    train = Spy(sweep.train, fail_at=2)
    monkeypatch.setattr(sweep, "train", train)
    with pytest.raises(KeyboardInterrupt):
        sweep.main(args)
    _, rows = read_csv(out / "results.csv")
    assert [r["method"] for r in rows] == ["ssgan"]
    # a half-written line (killed mid-write) is dropped and its run redone
    with open(out / "results.csv", "a") as f:
        f.write("supervised,20,0,0.1")
    train = Spy(sweep.train)
    monkeypatch.setattr(sweep, "train", train)
    sweep.main(args)
    assert len(train.calls) == 1  # only supervised; ssgan is not re-trained
    assert "Supervised" in train.calls[0][0][0]
    _, rows = read_csv(out / "results.csv")
    assert sorted(r["method"] for r in rows) == sorted(METHODS)
    assert len((out / "results.csv").read_text().splitlines()) == 4


def test_changed_settings_are_refused(finished_sweep, tmp_path):
    out, data_root, _ = finished_sweep
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    with pytest.raises(SSGANError, match="other settings"):
        sweep.run_sweep(sweep.parse_args(argv(copy, data_root)[:-1] + ["2"]))


def test_several_configs_are_all_applied_in_order(tmp_path):
    """``--config A --config B`` hands both files to train.py, in that order (once only the
    last was kept, silently), and the split follows their ``data`` sections with B's values over
    A's; a sweep folder whose sweep.json names one config as a plain path (the earlier form)
    still resumes with that config, and is refused with another list."""
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text("data:\n  val_size: 200\n  exclude_labeled: true\n")
    b.write_text("data:\n  val_size: 100\n")
    out, data_root = tmp_path / "out", tmp_path / "data"
    cfg = sweep.parse_args(argv(out, data_root, "20", "0", "--config", str(a), "--config", str(b)))
    args = sweep.training_args(cfg, "ssgan", 20, 0)
    assert [args[i + 1] for i, x in enumerate(args) if x == "--config"] == [str(a), str(b)]
    dm = sweep._split_datamodule(cfg, 20, 0)
    assert dm.hparams.val_size == 100 and dm.hparams.exclude_labeled
    both = SSLDataModule("digits", data_root=str(data_root), num_labels=20, seed_data=0,
                         val_size=100, exclude_labeled=True)
    b_only = SSLDataModule("digits", data_root=str(data_root), num_labels=20, seed_data=0,
                           val_size=100)
    both.setup("fit"), b_only.setup("fit")
    assert list(dm.unlabeled_indices) == list(both.unlabeled_indices)
    assert len(dm.unlabeled_indices) < len(b_only.unlabeled_indices)  # A's exclude_labeled

    single = sweep.parse_args(argv(out, data_root, "20", "0", "--config", str(a)))
    old = dict(single.settings(), config=str(a.resolve()),
               config_sha256=single.settings()["config_sha256"][0])
    out.mkdir()
    (out / "sweep.json").write_text(json.dumps({"settings": old}))
    sweep._check_settings(single)  # the earlier form of the same setting is accepted
    (out / "sweep.json").write_text(json.dumps({"settings": old}))
    with pytest.raises(SSGANError, match="other settings"):
        sweep._check_settings(cfg)


def test_summary_statistics():
    rows = [{"method": "a", "labels": 20, "seed": s, "error": e, "accuracy": 1 - e,
             "train_seconds": 1.0} for s, e in enumerate([0.1, 0.2, 0.3])]
    rows.append({"method": "b", "labels": 20, "seed": 0, "error": 0.5, "accuracy": 0.5,
                 "train_seconds": 2.0})
    s = {(r["method"], r["labels"]): r for r in sweep.summarize(rows)}
    assert s[("a", 20)]["seeds"] == 3
    assert math.isclose(s[("a", 20)]["error_mean"], 0.2)
    assert math.isclose(s[("a", 20)]["error_std"], 0.1)  # sample std (ddof=1)
    assert math.isnan(s[("b", 20)]["error_std"])
    assert sweep._pm(0.2, 0.1) == "20.00 ± 10.00"
    assert sweep._pm(0.5, float("nan")) == "50.00 ± n/a"


def test_bad_arguments_are_one_line_errors(tmp_path, capsys):
    assert eval_main(["sweep", *argv(tmp_path / "o", tmp_path / "d", "25", "0")]) == 2
    assert "multiple of the 10 classes" in capsys.readouterr().err
    assert eval_main(["sweep", *argv(tmp_path / "o", tmp_path / "d", "20,x")]) == 2
    assert eval_main(["sweep", *argv(tmp_path / "o", tmp_path / "d"), "--methods", "gan"]) == 2
    assert "unknown method" in capsys.readouterr().err


def test_cached_label_spreading_matches_scikit_learn():
    dm = SSLDataModule("digits", num_labels=30, seed_data=4)
    dm.setup()
    x, y = dm.data.x_train, dm.data.y_train
    plain = ssgan.baselines.label_spreading(x, y, dm.labeled_indices, dm.data.x_test,
                                            dm.data.y_test, cache=False)
    first = ssgan.baselines.label_spreading(x, y, dm.labeled_indices, dm.data.x_test,
                                            dm.data.y_test)
    again = ssgan.baselines.label_spreading(x, y, dm.labeled_indices, dm.data.x_test,
                                            dm.data.y_test)
    assert plain["error"] == first["error"] == again["error"]
    assert again["train_seconds"] > 0
    # another labeled subset of the same pool: the cached graph must not carry labels over
    other = select_labeled(y.numpy(), 100, 10, 5)
    cached = ssgan.baselines.label_spreading(x, y, other, dm.data.x_test, dm.data.y_test)
    fresh = ssgan.baselines.label_spreading(x, y, other, dm.data.x_test, dm.data.y_test,
                                            cache=False)
    assert cached["error"] == fresh["error"] != plain["error"]


def test_config_file_changes_the_split_for_every_method(tmp_path, monkeypatch):
    """A config that carves a validation set changes the labeled indices; LabelSpreading must
    follow the same split as the GAN (the sweep also checks it against labeled_indices.json)."""
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("data:\n  val_size: 200\n")
    spy = Spy(ssgan.baselines.label_spreading)
    monkeypatch.setattr(ssgan.baselines, "label_spreading", spy)
    out = tmp_path / "out"
    sweep.main(argv(out, tmp_path / "data", "20", "0", "--config", str(cfg),
                    "--methods", "ssgan,label_spreading"))
    idx = json.loads((out / "runs/ssgan/labels20_seed0/labeled_indices.json").read_text())["indices"]
    plain = SSLDataModule("digits", data_root=str(tmp_path / "data"), num_labels=20, seed_data=0)
    plain.setup()
    assert idx != list(plain.labeled_indices)  # the config did change the split
    x_pool, _, positions = spy.calls[0][0][:3]
    assert torch.equal(x_pool[np.asarray(positions)], plain.data.x_train[idx])
    assert len(x_pool) == len(plain.data.x_train) - 200  # the validation images are left out
