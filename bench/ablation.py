"""Ablation of the GAN objectives and the Improved-GAN techniques (issue 3).

Every row trains the same network with the same budget (epochs x training batches per epoch)
on the same labeled splits, and reports the test error of the final EMA weights:

* one row per objective (``--model.objective NAME``);
* one row per technique added on top of feature matching;
* the supervised-only baseline (same network and steps, labeled batches only) for reference.

The run guard's collapse check is off (``--guard.min_diversity 0``) so that every row trains
the same budget; instead the report gives the diversity of the final generator's samples (the
guard's measure: per-pixel standard deviation across 500 samples, averaged over pixels; about
0.27 for 500 real Fashion-MNIST training images, near 0 for a collapsed G) and BEGAN's final k.

Seed ``s`` is both the labeled-split seed (``--data.seed_data``) and the training seed
(``--seed_everything``), so all rows of one seed see the same 100 labeled images.

Example (what bench/results/ablation.md records, with its exact command line)::

    python bench/ablation.py --seeds 1 2 3 --epochs 1 --batches-per-epoch 100 \\
        --out bench/results/ablation.md

The Markdown file is rewritten after every run, so an interrupted ablation keeps its rows.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROWS: dict[str, list[str]] = {
    "supervised only (reference)": ["--model", "Supervised"],
    "feature_matching": ["--model.objective", "FeatureMatching"],
    "minimax": ["--model.objective", "Minimax"],
    "nonsaturating": ["--model.objective", "NonSaturating"],
    "lsgan (0, 1, 1)": ["--model.objective", "LSGAN"],
    "began": ["--model.objective", "BEGAN"],
    "contragan": ["--model.objective", "ContraGAN"],
    "feature_matching + minibatch discrimination": [
        "--model.networks.minibatch_discrimination", "true"],
    "feature_matching + historical averaging (1e-3)": [
        "--model.regularizers+=HistoricalAveraging", "--model.regularizers.weight", "0.001"],
    "feature_matching + label smoothing (0.9)": ["--model.objective.label_smoothing", "0.1"],
    "feature_matching + virtual batch norm": ["--model.networks.virtual_batchnorm", "true"],
}


def machine_description() -> str:
    model = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    import torch
    return (f"{os.cpu_count()} CPU cores ({model or platform.processor()}), torch "
            f"{torch.__version__}, {torch.get_num_threads()} threads; load average at start "
            f"{load}")


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, cwd=Path(__file__).resolve().parent, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True,
                               cwd=Path(__file__).resolve().parent).stdout.strip()
        return out.stdout.strip() + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def fmt(errors: list[float]) -> str:
    pct = [100 * e for e in errors]
    if len(pct) == 1:
        return f"{pct[0]:.2f}"
    return f"{statistics.mean(pct):.2f} ± {statistics.stdev(pct):.2f}"


def write_report(path: Path, header: dict, results: dict, seeds: list[int]) -> None:
    lines = [
        "# Ablation: GAN objectives and Improved-GAN techniques",
        "",
        f"- command: `{header['command']}`",
        f"- date: {header['date']}",
        f"- machine: {header['machine']}",
        f"- code: commit {header['commit']}",
        f"- setup: {header['setup']}",
        f"- seeds: {', '.join(map(str, seeds))} (labeled-split seed = training seed)",
        f"- total wall time: {header.get('total', 0) / 60:.1f} min",
        "",
        "Test error (%) of the final EMA weights on the test split"
        + (", mean ± sample std over seeds" if len(seeds) > 1 else ", one seed") + ".",
        "",
        "| row | test error % | per seed | G sample diversity | train s / run |",
        "|---|---|---|---|---|",
    ]
    for name, runs in results.items():
        if not runs:
            continue
        done = [r for r in runs if "test/error" in r]
        per_seed = ", ".join(f"{r['seed']}: {100 * r['test/error']:.2f}" if "test/error" in r
                             else f"{r['seed']}: failed ({r['failed']})" for r in runs)
        diversity = ", ".join(f"{r['diversity']:.3f}" for r in done if "diversity" in r) or "-"
        if any("began_k" in r for r in done):
            diversity += " (k: " + ", ".join(f"{r['began_k']:.4f}" for r in done) + ")"
        error = fmt([r["test/error"] for r in done]) if done else "-"
        secs = f"{statistics.mean(r['train_seconds'] for r in done):.0f}" if done else "-"
        lines.append(f"| {name} | {error} | {per_seed} | {diversity} | {secs} |")
    for note in header.get("notes") or []:
        lines += ["", note]
    lines += ["", "Raw results (``global_step`` counts optimizer steps: two per batch for the GAN "
              "rows, one for the supervised-only row):", "",
              "```json", json.dumps(results, indent=1), "```", ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))


def final_generator_stats(run_dir: Path) -> dict:
    """Diversity of 500 samples of the run's final generator (train-mode batch norm, as during
    training) and, for BEGAN, its final k."""
    import torch

    from ssgan.callbacks import TrainingGuard
    from ssgan.evaluation import load_checkpoint

    model, _ = load_checkpoint(run_dir / "checkpoints" / "last.ckpt")
    out: dict = {}
    if not model.has_generator:
        return out
    model.generator.train()
    with torch.no_grad():
        torch.manual_seed(0)
        out["diversity"] = float(TrainingGuard.diversity(model.sample(500)[0]))
    k = getattr(model.d_objective, "k", None)
    if torch.is_tensor(k):
        out["began_k"] = float(k)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batches-per-epoch", type=int, default=None,
                        help="limit each epoch to this many training batches (default: all 600)")
    parser.add_argument("--network", default="Auto",
                        help="model.networks for every row (Auto = the improved-gan MNIST MLP "
                             "on 28x28 images)")
    parser.add_argument("--dataset", default="fashion_mnist")
    parser.add_argument("--num-labels", type=int, default=100)
    parser.add_argument("--data-root", default="datasets")
    parser.add_argument("--rows", nargs="+", default=None, help="subset of row names to run")
    parser.add_argument("--out", default="bench/results/ablation.md")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (1: on a CPU shared with other jobs, 2 threads ran the"
                             " MLP steps 10-100x slower than 1 in our measurements)")
    parser.add_argument("--note", action="append", default=[], help="a line added to the report")
    args = parser.parse_args(argv)

    import torch
    if args.threads:
        torch.set_num_threads(args.threads)
    from ssgan.cli import run_training
    from ssgan.runs import quiet_library_noise
    quiet_library_noise()
    warnings.filterwarnings("ignore")
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)

    rows = {k: v for k, v in ROWS.items() if args.rows is None or k in args.rows}
    if args.rows and len(rows) != len(args.rows):
        unknown = set(args.rows) - set(ROWS)
        parser.error(f"unknown rows {sorted(unknown)}; choose from {list(ROWS)}")
    budget = f"{args.epochs} epoch(s)"
    if args.batches_per_epoch:
        budget += f" of {args.batches_per_epoch} training batches"
    header = {
        "command": "python " + " ".join(shlex.quote(a) for a in [sys.argv[0], *(argv or sys.argv[1:])]),
        "date": dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "machine": machine_description(),
        "commit": git_commit(),
        "setup": (f"{args.dataset}, {args.num_labels} labels, network {args.network}, batch 100 "
                  f"labeled + 100 unlabeled, {budget} per row (same for every row), model "
                  "defaults otherwise"),
        "notes": args.note,
    }
    out = Path(args.out)
    results: dict[str, list[dict]] = {name: [] for name in rows}
    start = time.time()
    with tempfile.TemporaryDirectory(prefix="ssgan-ablation-") as tmp:
        for seed in args.seeds:
            for name, extra in rows.items():
                cli = ["--data.dataset", args.dataset, "--data.num_labels", str(args.num_labels),
                       "--data.data_root", args.data_root, "--data.seed_data", str(seed),
                       "--seed_everything", str(seed), "--trainer.max_epochs", str(args.epochs),
                       "--trainer.enable_progress_bar", "false",
                       "--trainer.logger.init_args.save_dir", tmp,
                       "--guard.min_diversity", "0"]
                # the module (--model NAME) first: its options follow it
                module = extra[:2] if extra[:1] == ["--model"] else []
                cli += [*module, "--model.networks", args.network, *extra[len(module):]]
                if args.batches_per_epoch:
                    cli += ["--trainer.limit_train_batches", str(args.batches_per_epoch)]
                try:
                    metrics, run_dir = run_training(cli)
                except Exception as e:  # one diverging variant must not end the ablation
                    results[name].append({"seed": seed, "failed": f"{type(e).__name__}: {e}"})
                    print(f"[{time.time() - start:6.0f}s] seed {seed} {name}: FAILED {e}",
                          flush=True)
                else:
                    results[name].append({"seed": seed, "test/error": metrics["test/error"],
                                          "train_seconds": metrics["train_seconds"],
                                          "global_step": metrics["global_step"],
                                          **final_generator_stats(run_dir)})
                    print(f"[{time.time() - start:6.0f}s] seed {seed} {name}: test error "
                          f"{100 * metrics['test/error']:.2f}%", flush=True)
                header["total"] = time.time() - start
                write_report(out, header, results, args.seeds)
    print(f"wrote {out} ({time.time() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
