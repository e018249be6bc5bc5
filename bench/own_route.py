"""Own-images route against the built-in route, on the same labeled images.

    python bench/own_route.py --work DIR [--dataset fashion_mnist] [--seeds 0 1 2]
        [--num-labels 100] [--epochs 10] [--limit-unlabeled N] [--limit-test N]
        [--out bench/results/own_route.json] [-- extra train.py args]

For each split seed, the built-in source's training set is written out as PNG files:

    DIR/seedS/labeled/CLASS/i.png   the num_labels images the built-in route labels for seed S
    DIR/seedS/unlabeled/i.png       every other training image
    DIR/seedS/test/CLASS/i.png      the test split

Then it measures the first load (decode + cache) and a cached load of ``image_folder``, and
trains both routes with the same budget: ``--data.dataset DATASET --data.num_labels N
--data.seed_data S`` against ``--data.dataset image_folder --data.data_root DIR/seedS``. The
pools are the same images (unlabeled + labeled); the sampler's order differs (other indices),
so the two errors should agree within seed noise. ``--limit-*`` write fewer images, for a quick
check of the script.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from ssgan.cli import run_training
from ssgan.data import load_dataset, select_labeled
from ssgan.data.sources import CACHE_SUFFIX, cache_path
from ssgan.runs import quiet_library_noise


def safe_name(name: str) -> str:
    """A class name as a folder name (Fashion-MNIST has 'T-shirt/top')."""
    return name.replace("/", "_").replace("\\", "_")


def to_uint8(x: torch.Tensor, scale: float = 255.0) -> np.ndarray:
    """float (N, C, H, W) in [0, 1] -> uint8 (N, H, W[, C]) for Pillow."""
    a = (x * scale).round().clamp(0, 255).to(torch.uint8).numpy()
    return a[:, 0] if a.shape[1] == 1 else a.transpose(0, 2, 3, 1)


def write_pngs(items: list[tuple[Path, np.ndarray]], workers: int = 4) -> None:
    from PIL import Image

    def one(item):
        path, a = item
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(a).save(path)
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, items))


def write_tree(root: Path, data, labeled: np.ndarray, *, limit_unlabeled=None,
               limit_test=None) -> dict:
    """Write the labeled / unlabeled / test PNG tree; returns ``{relative path: true label}``
    of the training images (the labeling loop reads it to 'label' suggested images)."""
    classes = [safe_name(c) for c in data.classes]
    x_tr, y_tr = to_uint8(data.x_train), data.y_train.numpy()
    rest = np.setdiff1d(np.arange(len(y_tr)), labeled)
    if limit_unlabeled is not None:
        rest = rest[:limit_unlabeled]
    truth, items = {}, []
    for i in labeled:
        rel = f"labeled/{classes[y_tr[i]]}/{i}.png"
        items.append((root / rel, x_tr[i]))
        truth[rel] = int(y_tr[i])
    for i in rest:
        rel = f"unlabeled/{i}.png"
        items.append((root / rel, x_tr[i]))
        truth[rel] = int(y_tr[i])
    x_te, y_te = to_uint8(data.x_test), data.y_test.numpy()
    n_test = len(y_te) if limit_test is None else min(limit_test, len(y_te))
    items += [(root / f"test/{classes[y_te[i]]}/{i}.png", x_te[i]) for i in range(n_test)]
    write_pngs(items)
    (root / "truth.json").write_text(json.dumps(truth))
    return truth


def load_times(root: Path) -> dict:
    """Seconds of the first load (decode + write the cache) and of a cached load."""
    for old in root.glob(".image_folder-*" + CACHE_SUFFIX):
        old.unlink()
    user_cache = cache_path(Path("/usr"), "x").parent  # where a read-only root's cache goes
    for old in user_cache.glob(f"*{CACHE_SUFFIX}"):
        if ".image_folder-" in old.name:
            old.unlink()
    t0 = time.perf_counter()
    load_dataset("image_folder", root)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    data = load_dataset("image_folder", root)
    cached = time.perf_counter() - t0
    return {"first_load_s": round(first, 2), "cached_load_s": round(cached, 2),
            "images": len(data.x_train) + len(data.x_test)}


def summarize(summary: dict, rows: list[dict], columns: dict[str, str], out) -> None:
    """Adds ``<name>_mean`` / ``<name>_std`` (sample std) of each column of ``rows`` to
    ``summary``, prints it without the rows, and writes it all to ``out`` (JSON) if given."""
    for key, name in columns.items():
        vals = [r[key] for r in rows if r[key] is not None]
        if vals:
            summary[f"{name}_mean"] = float(np.mean(vals))
            summary[f"{name}_std"] = float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0
    print(json.dumps({k: v for k, v in summary.items() if k != "runs"}))
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(summary, indent=2) + "\n")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work", required=True, help="folder for the PNG trees and runs")
    p.add_argument("--dataset", default="fashion_mnist")
    p.add_argument("--data-root", default="datasets")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--num-labels", type=int, default=100)
    p.add_argument("--epochs", type=int, default=10, help="training budget of each run")
    p.add_argument("--limit-unlabeled", type=int, default=None)
    p.add_argument("--limit-test", type=int, default=None)
    p.add_argument("--out", default=None, help="JSON results")
    p.add_argument("extra", nargs="*", help="more train.py arguments (after --)")
    ns = p.parse_args(argv)
    quiet_library_noise()
    work = Path(ns.work)
    data = load_dataset(ns.dataset, ns.data_root)
    rows = []
    for seed in ns.seeds:
        root = work / f"seed{seed}"
        y = data.y_train.numpy()
        labeled = select_labeled(y, ns.num_labels, data.num_classes, seed)
        if not (root / "truth.json").is_file():
            t0 = time.perf_counter()
            write_tree(root, data, labeled, limit_unlabeled=ns.limit_unlabeled,
                       limit_test=ns.limit_test)
            print(f"seed {seed}: wrote {root} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        times = load_times(root)
        common = ["--trainer.enable_progress_bar", "false", "--trainer.max_epochs", str(ns.epochs),
                  "--trainer.logger.init_args.save_dir", str(work / "runs"),
                  "--seed_everything", str(seed), *ns.extra]
        builtin, _ = run_training([*common, "--data.dataset", ns.dataset, "--data.data_root",
                                   ns.data_root, "--data.num_labels", str(ns.num_labels),
                                   "--data.seed_data", str(seed)])
        own, _ = run_training([*common, "--data.dataset", "image_folder",
                               "--data.data_root", str(root)])
        row = {"seed": seed, **times, "builtin_test_error": builtin.get("test/error"),
               "own_test_error": own.get("test/error"),
               "builtin_train_s": builtin["train_seconds"], "own_train_s": own["train_seconds"]}
        rows.append(row)
        print(json.dumps(row), flush=True)
    summary = {"dataset": ns.dataset, "num_labels": ns.num_labels, "epochs": ns.epochs,
               "limit_unlabeled": ns.limit_unlabeled, "limit_test": ns.limit_test, "runs": rows}
    summarize(summary, rows, {"builtin_test_error": "builtin", "own_test_error": "own"}, ns.out)

if __name__ == "__main__":
    main()
