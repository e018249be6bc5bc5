"""``evaluate.py sweep``: test error against the number of labels, for ssgan and baselines.

    python evaluate.py sweep --dataset NAME [--data-root DIR] --labels 20,50,100 --seeds 0,1,2
                             --out DIR [--objective NAME] [--max-epochs N] [--config FILE]...
                             [--methods ssgan,supervised,label_spreading] [--no-checkpoints]
                             [-- EXTRA TRAIN.PY OPTIONS]

For every label count N and seed S (the USB/TorchSSL convention: S is both the seed of the
class-balanced labeled split, ``--data.seed_data``, and the initialisation seed,
``--seed_everything``), on the same labeled indices:

* ``ssgan`` (``ssgan-<objective>`` with ``--objective``): ``train.py`` as is;
* ``supervised``: ``train.py --model Supervised``: the same classifier network and
  number of steps, trained on the labeled images only;
* ``label_spreading``: scikit-learn's LabelSpreading, kNN kernel on flattened pixels, fitted on
  the same training pool (see :mod:`ssgan.baselines`).

Files in DIR:

* ``results.csv``: one row per (method, labels, seed): ``method, labels, seed, error,
  accuracy, train_seconds, stop_reason``, appended (and flushed) as each run finishes. Running
  the same command again skips the rows already there, so an interrupted sweep resumes where
  it stopped; more labels or seeds can be added to a finished sweep the same way;
* a run stopped by the training guard (``--guard.*``) keeps its row: the error of its last good
  checkpoint (``train.py`` tests it), with ``stop_reason`` saying why and when (e.g.
  ``collapse at epoch 186``). A run that fails without a result (an exception, or a divergence
  before any checkpoint) gets a row with error ``nan`` and ``failed: ...``; the sweep goes on
  with the other rows, exits with an error at the end, and retries those rows when run again;
* ``summary.csv`` / ``summary.md``: error mean and sample std (ddof=1) over seeds per
  (method, labels), from the rows with a result; ``summary.md`` lists the stopped and failed
  runs;
* ``error_vs_labels.png``: error against labels (log x axis), one line per method, +-1 std bands;
* ``sweep.json``: the settings; a re-run with different settings is refused;
* ``splits/labels{N}_seed{S}.json``: the labeled indices used by all three methods;
* ``runs/<method>/labels{N}_seed{S}/``: the ``train.py`` run folders (with ``--no-checkpoints``
  the checkpoint is written during the run, for the guard's last good weights, and deleted
  after it).

A single progress bar (stderr) covers the whole sweep, with an ETA.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import hashlib
import io
import json
import logging
import math
import os
import shutil
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from .errors import SSGANError, check_choice
from .runs import write_json

COLUMNS = ["method", "labels", "seed", "error", "accuracy", "train_seconds", "stop_reason"]
#: the columns of results.csv before stopped runs were recorded; such files are still read
OLD_COLUMNS = COLUMNS[:-1]
SUPERVISED = "supervised"
LABEL_SPREADING = "label_spreading"
METHOD_KINDS = ("ssgan", SUPERVISED, LABEL_SPREADING)


@dataclass
class SweepConfig:
    dataset: str
    out: Path
    labels: list[int]
    seeds: list[int]
    data_root: Optional[str] = None
    objective: Optional[str] = None
    max_epochs: Optional[int] = None
    #: train.py YAML configs, applied in order (a later file overrides an earlier one)
    configs: list[str] = field(default_factory=list)
    methods: list[str] = field(default_factory=lambda: list(METHOD_KINDS))
    save_checkpoints: bool = True
    extra_args: list[str] = field(default_factory=list)

    @property
    def ssgan_name(self) -> str:
        return "ssgan" if self.objective is None else f"ssgan-{self.objective}"

    def method_names(self) -> list[str]:
        return [self.ssgan_name if m == "ssgan" else m for m in self.methods]

    def settings(self) -> dict:
        """What must not change between runs writing to the same DIR."""
        return {"dataset": self.dataset, "data_root": self.data_root,
                "objective": self.objective, "max_epochs": self.max_epochs,
                "config": [str(Path(c).resolve()) for c in self.configs],
                "config_sha256": [hashlib.sha256(Path(c).read_bytes()).hexdigest()[:16]
                                  for c in self.configs],
                "extra_args": list(self.extra_args)}


def _as_list(value) -> list:
    """A sweep.json setting written before several configs were accepted (one path or hash,
    or null) as the list it is now."""
    return value if isinstance(value, list) else [] if value is None else [value]


# ---------------------------------------------------------------------------------------------
# command line


def _int_list(name: str, text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise SSGANError(f"--{name} takes comma-separated integers (e.g. 20,50,100), got {text!r}")
    if not values:
        raise SSGANError(f"--{name} needs at least one value")
    if len(set(values)) != len(values):
        raise SSGANError(f"--{name} lists a value twice: {text!r}")
    return values


def parse_args(argv: list[str]) -> SweepConfig:
    extra: list[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1:]
    p = argparse.ArgumentParser(prog="evaluate.py sweep", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", required=True, metavar="NAME", help="a registered dataset (digits, fashion_mnist, ...)")
    p.add_argument("--data-root", default=None, metavar="DIR", help="where datasets are read/downloaded")
    p.add_argument("--labels", required=True, metavar="N,N,...", help="comma-separated label counts, e.g. 20,50,100")
    p.add_argument("--seeds", default="0,1,2", metavar="S,S,...", help="comma-separated seeds (split and init), default 0,1,2")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (re-use it to resume)")
    p.add_argument("--objective", default=None, metavar="NAME", help="ssgan's --model.objective (method ssgan-<NAME>)")
    p.add_argument("--max-epochs", type=int, default=None, metavar="N",
                   help="training epochs of ssgan and supervised (default: the config's or train.py's)")
    p.add_argument("--config", action="append", default=[], metavar="FILE",
                   help="a train.py YAML config for ssgan and supervised; repeat it to compose "
                        "several, applied in order as train.py applies them")
    p.add_argument("--methods", default=",".join(METHOD_KINDS), metavar="M,M,...",
                   help="subset of ssgan,supervised,label_spreading (default: all)")
    p.add_argument("--no-checkpoints", action="store_true",
                   help="do not keep checkpoints/last.ckpt in the run folders")
    ns = p.parse_args(argv)
    methods = [m.strip() for m in ns.methods.split(",") if m.strip()]
    for m in methods:
        check_choice("method", m, METHOD_KINDS)
    if not methods:
        raise SSGANError("--methods needs at least one of " + ", ".join(METHOD_KINDS))
    if ns.max_epochs is not None and ns.max_epochs <= 0:
        raise SSGANError(f"--max-epochs must be > 0, got {ns.max_epochs}")
    for c in ns.config:
        if not Path(c).is_file():
            raise SSGANError(f"--config {c} does not exist")
    labels = _int_list("labels", ns.labels)
    if any(n <= 0 for n in labels):
        raise SSGANError(f"--labels must be positive, got {ns.labels!r}")
    from .data import select_labeled
    from .data.sources import get_source
    source = get_source(ns.dataset)  # unknown names fail here, before anything is written
    if source.num_classes:
        for n in (n for n in labels if n % source.num_classes):
            select_labeled(np.zeros(0, dtype=np.int64), n, source.num_classes, 0)
    if ns.objective is not None:
        from .objectives import objective_class
        objective_class(ns.objective)
    return SweepConfig(dataset=ns.dataset, out=Path(ns.out), labels=labels,
                       seeds=_int_list("seeds", ns.seeds), data_root=ns.data_root,
                       objective=ns.objective, max_epochs=ns.max_epochs, configs=ns.config,
                       methods=list(dict.fromkeys(methods)),
                       save_checkpoints=not ns.no_checkpoints, extra_args=extra)


def main(argv: list[str]) -> None:
    cfg = parse_args(argv)
    run_sweep(cfg)
    print(f"results: {cfg.out / 'results.csv'}\nsummary: {cfg.out / 'summary.md'}\n"
          f"plot: {cfg.out / 'error_vs_labels.png'}", file=sys.stderr)


# ---------------------------------------------------------------------------------------------
# results.csv


def read_results(path: Path) -> list[dict]:
    """Rows of ``results.csv``; a line cut short by an interruption is dropped."""
    if not path.is_file():
        return []
    rows = []
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames not in (COLUMNS, OLD_COLUMNS):
            raise SSGANError(f"{path} does not have the columns {','.join(COLUMNS)}; "
                             "use another --out")
        for raw in reader:
            try:
                rows.append({"method": raw["method"], "labels": int(raw["labels"]),
                             "seed": int(raw["seed"]), "error": float(raw["error"]),
                             "accuracy": float(raw["accuracy"]),
                             "train_seconds": float(raw["train_seconds"]),
                             "stop_reason": raw.get("stop_reason") or ""})
            except (TypeError, ValueError, KeyError):
                continue
    return rows


def _format_row(row: dict) -> list[str]:
    return [row["method"], str(row["labels"]), str(row["seed"]), f"{row['error']:.6f}",
            f"{row['accuracy']:.6f}", f"{row['train_seconds']:.3f}", row.get("stop_reason", "")]


def has_result(row: dict) -> bool:
    """False for a run that failed without a test result (its error is NaN)."""
    return not math.isnan(row["error"])


def write_results(path: Path, rows: list[dict]) -> None:
    """``results.csv`` holding exactly ``rows`` (written to a temporary file, then renamed)."""
    tmp = path.with_suffix(".csv.tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS)
        for row in rows:
            w.writerow(_format_row(row))
    os.replace(tmp, path)


def append_result(path: Path, row: dict) -> None:
    """Append one row and flush it to disk, so an interruption loses at most the run in progress."""
    new = not path.is_file()
    with open(path, "a", newline="") as f:
        w = csv.writer(f)
        if new:
            w.writerow(COLUMNS)
        w.writerow(_format_row(row))
        f.flush()
        os.fsync(f.fileno())


# ---------------------------------------------------------------------------------------------
# one (method, labels, seed)


def _split_datamodule(cfg: SweepConfig, labels: int, seed: int):
    """The data module ``train.py`` builds for this (labels, seed), set up: its labeled and
    unlabeled indices are what every method uses. The config files' ``data`` sections are
    honoured, a later file's values over an earlier's (e.g. ``val_size``, ``exclude_labeled``)."""
    import yaml

    from .data import SSLDataModule

    kwargs: dict = {}
    for config in cfg.configs:
        with open(config) as f:
            data = (yaml.safe_load(f) or {}).get("data") or {}
        kwargs.update(data.get("init_args", data) if isinstance(data, dict) else {})
        kwargs.pop("class_path", None)
    kwargs.update(dataset=cfg.dataset, num_labels=labels, seed_data=seed)
    if cfg.data_root is not None:
        kwargs["data_root"] = cfg.data_root
    dm = SSLDataModule(**kwargs)
    dm.setup("fit")
    return dm


def run_folder(cfg: SweepConfig, method: str, labels: int, seed: int) -> Path:
    return cfg.out / "runs" / method / f"labels{labels}_seed{seed}"


#: ``train.py`` options of the GAN alone: the supervised baseline of a sweep runs without them
GAN_ONLY_OPTIONS = ("regularizers", "objective", "generator_objective", "discriminator_objective",
                    "unlabeled_weight", "lr_g")


def supervised_extra_args(extra: list[str]) -> list[str]:
    """The sweep's extra ``train.py`` arguments as the supervised baseline takes them: the GAN's
    own options (its objective, regularizers, unlabeled weight, G's learning rate) are left out,
    and a ``--trainer.max_steps`` budget, which counts the GAN's two optimizer steps per batch,
    is halved, so that the baseline trains on as many batches as the GAN."""
    from .supervised import Supervised
    from .model import SSGAN

    gan_only = tuple(f"--model.{p}{o}" for o in GAN_ONLY_OPTIONS for p in ("", "init_args."))
    ratio = SSGAN.optimizer_steps_per_batch // Supervised.optimizer_steps_per_batch
    out, i = [], 0
    while i < len(extra):
        arg = extra[i]
        name, eq, value = arg.partition("=")
        name = name.rstrip("+")
        takes_next = not eq and i + 1 < len(extra) and not extra[i + 1].startswith("--")
        if name in gan_only or any(name.startswith(g + ".") for g in gan_only):
            i += 2 if takes_next else 1
            continue
        if name == "--trainer.max_steps":
            steps = int(value if eq else extra[i + 1])
            out += ["--trainer.max_steps", str(steps if steps < 0 else steps // ratio)]
            i += 1 if eq else 2
            continue
        out.append(arg)
        i += 1
    return out


def training_args(cfg: SweepConfig, method: str, labels: int, seed: int) -> list[str]:
    """``train.py`` arguments of one ssgan or supervised run."""
    args = [a for c in cfg.configs for a in ("--config", c)]
    args += ["--data.dataset", cfg.dataset, "--data.num_labels", str(labels),
             "--data.seed_data", str(seed), "--seed_everything", str(seed),
             "--trainer.enable_progress_bar", "false",
             "--trainer.logger.init_args.save_dir", str(cfg.out / "runs"),
             "--trainer.logger.init_args.name", method,
             "--trainer.logger.init_args.version", f"labels{labels}_seed{seed}"]
    if cfg.data_root is not None:
        args += ["--data.data_root", cfg.data_root]
    if cfg.max_epochs is not None:
        args += ["--trainer.max_epochs", str(cfg.max_epochs)]
    if method == SUPERVISED:
        args += ["--model", "Supervised"]
    elif cfg.objective is not None:
        from .objectives import objective_class
        args += ["--model.objective", objective_class(cfg.objective).__name__]
    # with --no-checkpoints the checkpoint is still written (the training guard's last good
    # weights live there) and deleted when the run ends (run_gan_method)
    if method == SUPERVISED:
        return args + supervised_extra_args(list(cfg.extra_args))
    return args + list(cfg.extra_args)


def train(args: list[str]) -> tuple[dict, Path]:
    """``train.py`` in this process, quietly (its prints would break the progress bar)."""
    from .cli import run_training

    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*module\(s\) in eval mode.*")
        warnings.filterwarnings("ignore", message=r".*Total length of .* across ranks is zero.*")
        warnings.filterwarnings("ignore", message=r".*exists and is not empty.*")
        return run_training(args)


def run_gan_method(cfg: SweepConfig, method: str, labels: int, seed: int,
                   expected: np.ndarray) -> dict:
    """One ``train.py`` run: its test error, or for a run stopped by the training guard the
    error of the weights ``train.py`` tested (its last good checkpoint), with the reason in
    ``stop_reason``. A stop without a result raises :class:`~ssgan.callbacks.TrainingStopped`."""
    from .callbacks import TrainingStopped

    folder = run_folder(cfg, method, labels, seed)
    if folder.exists():
        # left by an interrupted run (finished runs are in results.csv and never re-run)
        shutil.rmtree(folder)
    stop_reason = ""
    try:
        metrics, run_dir = train(training_args(cfg, method, labels, seed))
    except TrainingStopped as stop:
        if not stop.metrics or "test/error" not in stop.metrics:
            raise
        metrics, run_dir = stop.metrics, Path(stop.run_dir)
        stop_reason = f"{stop.reason} at epoch {stop.epoch}"
    finally:
        if not cfg.save_checkpoints:
            shutil.rmtree(folder / "checkpoints", ignore_errors=True)
    record = json.loads((Path(run_dir) / "labeled_indices.json").read_text())
    if list(record["indices"]) != [int(i) for i in expected]:
        raise SSGANError(f"{method} trained on other labeled indices than the sweep's split "
                         f"for labels={labels} seed={seed} (see {run_dir}/labeled_indices.json); "
                         "does the config or an extra option change the data split?")
    if "test/error" not in metrics:
        raise SSGANError(f"{method} run {run_dir} wrote no test metrics (is --test false in the config?)")
    return {"error": float(metrics["test/error"]), "accuracy": float(metrics["test/acc"]),
            "train_seconds": float(metrics["train_seconds"]), "stop_reason": stop_reason}


def run_label_spreading(dm) -> dict:
    from .baselines import label_spreading

    pool = np.union1d(dm.unlabeled_indices, dm.labeled_indices)
    positions = np.searchsorted(pool, dm.labeled_indices)
    x, y = dm.data.x_train, dm.data.y_train
    return label_spreading(x[pool], y[pool], positions, dm.data.x_test, dm.data.y_test)


def _quiet_logs() -> None:
    for name in ("lightning", "lightning.fabric", "lightning_fabric", "pytorch_lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)


# ---------------------------------------------------------------------------------------------
# the sweep


def _check_settings(cfg: SweepConfig) -> None:
    path = cfg.out / "sweep.json"
    now = cfg.settings()
    if path.is_file():
        before = json.loads(path.read_text()).get("settings", {})
        for k in ("config", "config_sha256"):
            before[k] = _as_list(before.get(k))
        diff = [k for k in now if before.get(k) != now[k]]
        if diff:
            k = diff[0]
            raise SSGANError(f"{cfg.out} holds a sweep with other settings ({k}: {before.get(k)!r}, "
                             f"now {now[k]!r}); resume with the same settings or use another --out")
    write_json(path, {"settings": now, "labels": cfg.labels, "seeds": cfg.seeds,
                      "methods": cfg.method_names()})


def run_sweep(cfg: SweepConfig) -> list[dict]:
    """Run every missing (method, labels, seed), then write the summary and the plot.
    Returns all rows of ``results.csv``.

    A run that fails does not stop the sweep: its row records why (``stop_reason``), the other
    rows run, and after the summary is written :class:`SSGANError` reports the failed rows
    (runs stopped by the guard with a tested checkpoint are results, not failures)."""
    from tqdm import tqdm

    cfg.out.mkdir(parents=True, exist_ok=True)
    _check_settings(cfg)
    results = cfg.out / "results.csv"
    # rows of runs that failed without a result are dropped, so that they run again
    rows = [r for r in read_results(results) if has_result(r)]
    if results.is_file():
        write_results(results, rows)  # also drops a half-written last line, if any
    done = {(r["method"], r["labels"], r["seed"]) for r in rows}
    tasks = [(m, n, s) for n in cfg.labels for s in cfg.seeds for m in cfg.method_names()]
    todo = [t for t in tasks if t not in done]
    _quiet_logs()
    bar = tqdm(total=len(tasks), initial=len(tasks) - len(todo), unit="run", file=sys.stderr,
               desc=f"sweep {cfg.dataset}", dynamic_ncols=True, smoothing=0.0)
    if len(todo) < len(tasks):
        bar.write(f"resuming: {len(tasks) - len(todo)} of {len(tasks)} rows already in {results}",
                  file=sys.stderr)
    split_cache: dict = {}
    try:
        for method, labels, seed in todo:
            bar.set_postfix_str(f"{method} labels={labels} seed={seed}", refresh=False)
            key = (labels, seed)
            if key not in split_cache:
                split_cache.clear()  # keep one data module in memory at a time
                dm = _split_datamodule(cfg, labels, seed)
                _save_split(cfg, dm, labels, seed)
                split_cache[key] = dm
            dm = split_cache[key]
            try:
                if method == LABEL_SPREADING:
                    res = run_label_spreading(dm)
                else:
                    res = run_gan_method(cfg, method, labels, seed, dm.labeled_indices)
            except Exception as e:  # noqa: BLE001  one failed run never costs the other rows
                res = _failed_run(cfg, e, method, labels, seed)
            row = {"method": method, "labels": labels, "seed": seed, **{
                k: res.get(k, "") for k in ("error", "accuracy", "train_seconds", "stop_reason")}}
            append_result(results, row)
            rows.append(row)
            note = f" [{row['stop_reason']}]" if row["stop_reason"] else ""
            bar.write(f"{method:>16} labels={labels:<5} seed={seed:<3} error={row['error']:.4f} "
                      f"({row['train_seconds']:.1f} s){note}", file=sys.stderr)
            bar.update(1)
    finally:
        bar.close()
    write_summary(cfg.out, rows, title=cfg.dataset)
    failed = [r for r in rows if not has_result(r)]
    if failed:
        first = failed[0]
        raise SSGANError(f"{len(failed)} of {len(rows)} runs failed without a result (first: "
                         f"{first['method']} labels={first['labels']} seed={first['seed']}: "
                         f"{first['stop_reason']}); the other rows are in {results}, details in "
                         f"{cfg.out / 'errors.log'}; run the same command again to retry them")
    return rows


def _failed_run(cfg: SweepConfig, error: Exception, method: str, labels: int, seed: int) -> dict:
    """The row of a run that ended without a result; the traceback goes to ``errors.log``."""
    import traceback

    from .callbacks import TrainingStopped

    if isinstance(error, TrainingStopped):
        reason = f"{error.reason} at epoch {error.epoch}, nothing to test"
    else:
        reason = f"failed: {type(error).__name__}: {' '.join(str(error).split())}"[:300]
    with open(cfg.out / "errors.log", "a") as f:
        f.write(f"== {method} labels={labels} seed={seed}\n")
        f.write("".join(traceback.format_exception(type(error), error, error.__traceback__)))
    return {"error": float("nan"), "accuracy": float("nan"), "train_seconds": float("nan"),
            "stop_reason": reason}


def _save_split(cfg: SweepConfig, dm, labels: int, seed: int) -> None:
    path = cfg.out / "splits" / f"labels{labels}_seed{seed}.json"
    write_json(path, dm.labeled_record())


# ---------------------------------------------------------------------------------------------
# summary and plot


def summarize(rows: list[dict]) -> list[dict]:
    """Mean and sample std (ddof=1; NaN with one seed) of error and accuracy per (method, labels),
    over the rows with a result."""
    rows = [r for r in rows if has_result(r)]
    groups: dict[tuple[str, int], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["method"], r["labels"]), []).append(r)
    order = list(dict.fromkeys(r["method"] for r in rows))
    out = []
    for (method, labels) in sorted(groups, key=lambda k: (order.index(k[0]), k[1])):
        g = groups[(method, labels)]
        err = np.array([r["error"] for r in g])
        acc = np.array([r["accuracy"] for r in g])
        secs = np.array([r["train_seconds"] for r in g])
        std = (lambda a: float(a.std(ddof=1)) if len(a) > 1 else float("nan"))
        out.append({"method": method, "labels": labels, "seeds": len(g),
                    "error_mean": float(err.mean()), "error_std": std(err),
                    "accuracy_mean": float(acc.mean()), "accuracy_std": std(acc),
                    "train_seconds_mean": float(secs.mean())})
    return out


def _pm(mean: float, std: float) -> str:
    s = "n/a" if math.isnan(std) else f"{100 * std:.2f}"
    return f"{100 * mean:.2f} ± {s}"


def write_summary(out: Path, rows: list[dict], title: str = "") -> list[dict]:
    """``summary.csv``, ``summary.md`` and ``error_vs_labels.png`` from the rows."""
    summary = summarize(rows)
    keys = ["method", "labels", "seeds", "error_mean", "error_std", "accuracy_mean",
            "accuracy_std", "train_seconds_mean"]
    tmp = out / "summary.csv.tmp"
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        for s in summary:
            w.writerow({k: (f"{v:.6f}" if isinstance(v, float) else v) for k, v in s.items()})
    os.replace(tmp, out / "summary.csv")

    methods = list(dict.fromkeys(s["method"] for s in summary))
    labels = sorted({s["labels"] for s in summary})
    cell = {(s["method"], s["labels"]): s for s in summary}
    lines = [f"# Test error (%) against the number of labels{': ' + title if title else ''}", "",
             "Mean ± sample std over seeds (seed = labeled-split seed = init seed); "
             "the number of seeds is in parentheses.", "",
             "| method | " + " | ".join(str(n) for n in labels) + " |",
             "|---|" + "---|" * len(labels)]
    for m in methods:
        cells = []
        for n in labels:
            s = cell.get((m, n))
            cells.append("–" if s is None else f"{_pm(s['error_mean'], s['error_std'])} ({s['seeds']})")
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    lines += ["", "Mean training time per run (s):", "",
              "| method | " + " | ".join(str(n) for n in labels) + " |",
              "|---|" + "---|" * len(labels)]
    for m in methods:
        cells = [("–" if (m, n) not in cell else f"{cell[(m, n)]['train_seconds_mean']:.2f}")
                 for n in labels]
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    noted = [r for r in rows if r.get("stop_reason")]
    if noted:
        lines += ["", "Runs stopped by the training guard (their row is the error of the last good "
                  "checkpoint) or failed without a result (left out above):", ""]
        lines += [f"- {r['method']} labels={r['labels']} seed={r['seed']}: {r['stop_reason']}"
                  + ("" if has_result(r) else " (no result)") for r in noted]
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    if summary:
        plot_error_vs_labels(summary, out / "error_vs_labels.png", title)
    return summary


def plot_error_vs_labels(summary: list[dict], path: Path, title: str = "") -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    fig, ax = plt.subplots(figsize=(6, 4.2), dpi=120)
    methods = list(dict.fromkeys(s["method"] for s in summary))
    all_labels = sorted({s["labels"] for s in summary})
    for m in methods:
        pts = sorted((s for s in summary if s["method"] == m), key=lambda s: s["labels"])
        x = np.array([s["labels"] for s in pts], dtype=float)
        mean = 100 * np.array([s["error_mean"] for s in pts])
        std = 100 * np.nan_to_num(np.array([s["error_std"] for s in pts]), nan=0.0)
        line, = ax.plot(x, mean, marker="o", label=m)
        ax.fill_between(x, mean - std, mean + std, color=line.get_color(), alpha=0.2, linewidth=0)
    ax.set_xscale("log")
    ax.set_xticks(all_labels)
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("labeled images")
    ax.set_ylabel("test error (%)")
    seeds = max(s["seeds"] for s in summary)
    ax.set_title(f"{title + ': ' if title else ''}error vs labels (mean ± std, {seeds} seeds)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    os.replace(tmp, path)
