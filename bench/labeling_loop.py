"""The labeling loop: do the images ``evaluate.py suggest`` picks help more than random ones?

    python bench/labeling_loop.py --work DIR [--dataset fashion_mnist] [--seeds 0 1 2]
        [--start 50] [--add 50] [--epochs 10] [--limit-unlabeled N] [--limit-test N]
        [--out bench/results/labeling_loop.json] [-- extra train.py args]

Per seed, from one PNG tree of the dataset (written once, see ``bench/own_route.py``), five
image_folder runs with the same training budget:

* ``start``: ``--start`` labels (class-balanced, e.g. 5 per class), trained;
* ``suggested``: those plus the ``--add`` images ``suggest`` picks with the ``start``
  checkpoint over the whole pool (``balance="none"``, the pre-balancing picks), "labeled" from
  the true labels (moved into labeled/CLASS/), trained from scratch;
* ``suggested_balanced``: the same with ``suggest``'s default, the ``--add`` picks split evenly
  over the ``start`` checkpoint's predicted classes (``balance="classes"``);
* ``balanced``: ``start + add`` random class-balanced labels;
* ``random``: ``start + add`` random labels (any class mix; every class at least once).

Each run's data root holds symlinks to the PNGs (labeled/CLASS/ for its labels, unlabeled/ for
the rest), so the arms differ only in which images are labeled. Reports the test errors
whatever they show, also when suggesting does not help.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

from ssgan.cli import run_training
from ssgan.data import load_dataset, select_labeled
from ssgan.runs import quiet_library_noise

sys.path.insert(0, str(Path(__file__).resolve().parent))
from own_route import safe_name, summarize, write_tree  # noqa: E402


def link_root(root: Path, pool: Path, files: dict[str, int], labeled: set[str],
              classes: list[str]) -> Path:
    """A data root of symlinks: ``labeled`` under labeled/CLASS/, the rest under unlabeled/,
    and the pool's test/ folder."""
    root.mkdir(parents=True)
    for rel, y in files.items():
        name = Path(rel).name
        dst = root / ("labeled/" + classes[y] if rel in labeled else "unlabeled") / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(pool / rel, dst)
    os.symlink(pool / "test", root / "test")
    return root


def train(root: Path, work: Path, seed: int, epochs: int, extra: list[str]):
    args = ["--trainer.enable_progress_bar", "false", "--trainer.max_epochs", str(epochs),
            "--trainer.logger.init_args.save_dir", str(work / "runs"),
            "--seed_everything", str(seed), "--data.dataset", "image_folder",
            "--data.data_root", str(root), *extra]
    return run_training(args)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work", required=True)
    p.add_argument("--dataset", default="fashion_mnist")
    p.add_argument("--data-root", default="datasets")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--start", type=int, default=50, help="first labels (class-balanced)")
    p.add_argument("--add", type=int, default=50, help="labels added by suggest")
    p.add_argument("--epochs", type=int, default=10, help="training budget of each run")
    p.add_argument("--limit-unlabeled", type=int, default=None)
    p.add_argument("--limit-test", type=int, default=None)
    p.add_argument("--out", default=None)
    p.add_argument("extra", nargs="*", help="more train.py arguments (after --)")
    ns = p.parse_args(argv)
    quiet_library_noise()
    from ssgan.suggest import suggest
    work = Path(ns.work).resolve()
    data = load_dataset(ns.dataset, ns.data_root)
    classes = [safe_name(c) for c in data.classes]
    y = data.y_train.numpy()
    k = data.num_classes
    pool = work / "pool"
    if not (pool / "truth.json").is_file():
        # every training image in unlabeled/ (labels kept in truth.json), and test/
        write_tree(pool, data, np.zeros(0, np.int64), limit_unlabeled=ns.limit_unlabeled,
                   limit_test=ns.limit_test)
    truth = json.loads((pool / "truth.json").read_text())
    index = {int(Path(rel).stem): rel for rel in truth}
    avail = np.array(sorted(index))
    rows = []
    for seed in ns.seeds:
        rng = np.random.RandomState(seed)
        ya = y[avail]
        start = set(index[i] for i in avail[select_labeled(ya, ns.start, k, seed)])
        balanced = set(index[i] for i in avail[select_labeled(ya, ns.start + ns.add, k, seed + 1000)])
        while True:  # random labels, any class mix, but every class present (folders need one)
            pick = rng.choice(avail, ns.start + ns.add, replace=False)
            if len(np.unique(y[pick])) == k:
                break
        random = set(index[i] for i in pick)
        base = work / f"seed{seed}"
        result = {"seed": seed}
        start_root = link_root(base / "start", pool, truth, start, classes)
        m, run_dir = train(start_root, work, seed, ns.epochs, ns.extra)
        result["start"] = m.get("test/error")
        ckpt = str(run_dir / "checkpoints" / "last.ckpt")
        added = {}
        for arm, balance in (("suggested", "none"), ("suggested_balanced", "classes")):
            names, _, _, _, _ = suggest(ckpt, ns.add, seed=seed, balance=balance)
            chosen = {str(Path(n).relative_to(start_root)) for n in names}
            added[arm] = {f"unlabeled/{Path(c).name}" for c in chosen}
            assert not added[arm] & start, "suggest returned a labeled image"
            result[f"{arm}_classes"] = np.bincount([truth[a] for a in added[arm]],
                                                   minlength=k).tolist()
        for arm, labels in (("suggested", start | added["suggested"]),
                            ("suggested_balanced", start | added["suggested_balanced"]),
                            ("balanced", balanced), ("random", random)):
            m, _ = train(link_root(base / arm, pool, truth, labels, classes), work, seed,
                         ns.epochs, ns.extra)
            result[arm] = m.get("test/error")
        rows.append(result)
        print(json.dumps(result), flush=True)
    summary = {"dataset": ns.dataset, "start": ns.start, "add": ns.add, "epochs": ns.epochs,
               "limit_unlabeled": ns.limit_unlabeled, "limit_test": ns.limit_test, "runs": rows}
    summarize(summary, rows, {arm: arm for arm in ("start", "suggested", "suggested_balanced",
                                                   "balanced", "random")}, ns.out)

if __name__ == "__main__":
    main()
