"""Wall minutes of training to reach a target test error, with the test error read after every
epoch (EMA weights, whole test split).

    python bench/time_to_accuracy.py --seeds 0 1 2 --max-minutes 15 --target 0.25 \
        --out bench/results/time_to_accuracy.json [--runs-dir DIR] [--snapshot-dir DIR] \
        [-- extra train.py args]

The target is met at the first epoch whose mean test error over the last 5 epochs is at or
below ``--target``; the wall time counts training only (evaluation time is excluded).
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pytorch_lightning as pl
import torch

from ssgan.cli import build_cli
from ssgan.evaluation import predict
from ssgan.runs import quiet_library_noise


def rss_mib() -> float:
    """Current resident set size of this process (Linux), to check it stays flat."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class EpochTestError(pl.Callback):
    """Test error after every epoch; the evaluation time is not counted as training time."""

    def __init__(self, snapshot_dir: str | None = None):
        self.rows, self.train_s, self._t0 = [], 0.0, None
        self.snapshot_dir = Path(snapshot_dir) if snapshot_dir else None

    def on_train_epoch_start(self, trainer, pl_module):
        self._t0 = time.perf_counter()

    def on_train_epoch_end(self, trainer, pl_module):
        self.train_s += time.perf_counter() - self._t0
        dm = trainer.datamodule
        logits = predict(pl_module, dm.data.x_test)
        err = (logits.argmax(1) != dm.data.y_test.to(logits.device)).float().mean().item()
        self.rows.append({"epoch": trainer.current_epoch + 1, "train_minutes": self.train_s / 60,
                          "batches": trainer.global_step // pl_module.optimizer_steps_per_batch,
                          "test_error": err, "rss_mib": rss_mib(),
                          "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})
        print(json.dumps(self.rows[-1]), file=sys.stderr, flush=True)
        if self.snapshot_dir is not None:
            # post-hoc averages over the trajectory (bench/snapshot_average.py)
            self.snapshot_dir.mkdir(parents=True, exist_ok=True)
            torch.save({"batches": self.rows[-1]["batches"], "test_logits": logits.float().cpu(),
                        "y_test": dm.data.y_test.cpu(),
                        "eval_weights": {k: v.detach().cpu().clone() for k, v in
                                         pl_module.eval_discriminator.state_dict().items()}},
                       self.snapshot_dir / f"epoch{trainer.current_epoch + 1:04d}.pt")


def reached(rows: list[dict], target: float, window: int = 5):
    for i in range(window - 1, len(rows)):
        mean = statistics.fmean(r["test_error"] for r in rows[i - window + 1:i + 1])
        if mean <= target:
            return rows[i]["train_minutes"], rows[i]["epoch"], mean
    return None, None, None


def first_reached(rows: list[dict], target: float):
    """(minutes, batches) at the first evaluation whose test error is at or below ``target``."""
    for r in rows:
        if r["test_error"] <= target:
            return r["train_minutes"], r["batches"]
    return None, None


def median_minutes(results: list[dict]):
    """Median over seeds of the minutes to target, a seed that never reached it counting as
    infinitely slow; None when the median itself is such a seed."""
    minutes = [r["minutes_to_target"] if r["minutes_to_target"] is not None else math.inf
               for r in results]
    m = statistics.median(minutes)
    return None if math.isinf(m) else m


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="configs/fashion_mnist.yaml")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--max-minutes", type=float, default=15.0)
    p.add_argument("--max-epochs", type=int, default=1000)
    p.add_argument("--target", type=float, default=0.25)
    p.add_argument("--first-targets", type=float, nargs="*", default=[0.25, 0.20],
                   help="also report when the test error first reaches each of these")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default=None)
    p.add_argument("--snapshot-dir", default=None,
                   help="save each epoch's test logits and evaluation weights here (one seed)")
    p.add_argument("--runs-dir", default=None,
                   help="keep each seed's run folder (config, last.ckpt) here instead of a temp dir")
    a, extra = p.parse_known_args()
    extra = [x for x in extra if x != "--"]
    torch.set_num_threads(a.threads)
    quiet_library_noise()
    results = []
    for seed in a.seeds:
        with tempfile.TemporaryDirectory() as tmp:
            if a.runs_dir:
                tmp = str(Path(a.runs_dir) / f"seed{seed}")
            cli = build_cli(["--config", a.config, "--seed_everything", str(seed),
                             "--data.seed_data", str(seed), "--trainer.max_epochs", str(a.max_epochs),
                             "--trainer.max_time", f"00:00:{int(a.max_minutes):02d}:{int(a.max_minutes % 1 * 60):02d}",
                             "--trainer.logger.init_args.save_dir", tmp,
                             "--trainer.enable_progress_bar", "false", "--test", "false", *extra])
            cb = EpochTestError(a.snapshot_dir)
            cli.trainer.callbacks.append(cb)
            cli.trainer.fit(cli.model, datamodule=cli.datamodule)
        minutes, epoch, mean = reached(cb.rows, a.target)
        last5 = statistics.fmean(r["test_error"] for r in cb.rows[-5:])
        if a.runs_dir:
            print(f"run folder: {cli.trainer.log_dir}", file=sys.stderr)
        del cli
        gc.collect()  # the seed's trainer/model/data reference each other; free them now
        results.append({"seed": seed, "minutes_to_target": minutes, "epoch_reached": epoch,
                        "epochs_run": len(cb.rows), "last5_mean_error": last5,
                        "final_error": cb.rows[-1]["test_error"], "train_minutes": cb.train_s / 60,
                        "batches": cb.rows[-1]["batches"],
                        "first_reached": {str(t): dict(zip(("minutes", "batches"), first_reached(cb.rows, t)))
                                          for t in a.first_targets},
                        "curve": cb.rows})
    summary = {"config": a.config, "extra": extra, "target": a.target, "threads": a.threads,
               "max_minutes": a.max_minutes,
               # a seed that never reached the target counts as infinitely slow
               "median_minutes_to_target": median_minutes(results),
               "last5_mean_error_per_seed": [r["last5_mean_error"] for r in results],
               "final_error_per_seed": [r["final_error"] for r in results],
               "seeds": results}
    print(json.dumps({k: v for k, v in summary.items() if k != "seeds"}, indent=2))
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
