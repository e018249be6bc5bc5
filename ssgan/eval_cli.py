"""``evaluate.py``: re-evaluate a checkpoint (JSON on stdout, logs on stderr).

    python evaluate.py CHECKPOINT [--data-root DIR] [--out FILE] [--samples FILE | --no-samples]
                                  [--num-samples N] [--no-fid] [--fid-samples N] [--seed S]

The JSON holds test accuracy/error/loss, per-class accuracy, precision and recall, the
confusion matrix, scikit-learn's classification report and, for a GAN checkpoint, Fréchet
distances in the classifier's feature space (generated vs test, and test half vs test half for
scale). A PNG grid of generated samples is saved (default: samples.png in the checkpoint's run
folder).

Sub-commands:

    python evaluate.py sweep ...     accuracy against labeled-set size (see sweep --help)
    python evaluate.py augment ...   export labeled generated samples (see augment --help)
    python evaluate.py predict ...   class probabilities of new images, as CSV (predict --help)
    python evaluate.py suggest ...   which unlabeled images to label next (suggest --help)
    python evaluate.py export ...    a torch.export classifier that needs only torch (export --help)

Further sub-commands are registered in :data:`COMMANDS` (name -> main(argv))."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Callable, Optional

from .runs import run_entry_point, write_json

#: sub-command name -> function taking the remaining argv
COMMANDS: dict[str, Callable[[list[str]], None]] = {}


def _sweep_main(args: list[str]) -> None:
    from .sweep import main
    main(args)


def _augment_main(args: list[str]) -> None:
    from .augmentation import main
    main(args)


def _predict_main(args: list[str]) -> None:
    from .predict import main
    main(args)


def _suggest_main(args: list[str]) -> None:
    from .suggest import main
    main(args)


def _export_main(args: list[str]) -> None:
    from .export import main
    main(args)


COMMANDS["sweep"] = _sweep_main
COMMANDS["augment"] = _augment_main
COMMANDS["predict"] = _predict_main
COMMANDS["suggest"] = _suggest_main
COMMANDS["export"] = _export_main


def evaluate_main(args: list[str]) -> None:
    p = argparse.ArgumentParser(prog="evaluate.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", help="a .ckpt written by train.py")
    p.add_argument("--data-root", default=None, help="override the data root saved in the checkpoint")
    p.add_argument("--out", default=None, help="also save the JSON to this file")
    p.add_argument("--samples", default=None, metavar="FILE",
                   help="PNG grid of generated samples (default: samples.png in the run folder)")
    p.add_argument("--no-samples", action="store_true", help="do not save the sample grid")
    p.add_argument("--num-samples", type=int, default=100, help="images in the grid (default 100)")
    p.add_argument("--no-fid", action="store_true", help="skip the Fréchet distances")
    p.add_argument("--fid-samples", type=int, default=None,
                   help="generated images for the Fréchet distance (default: as many as test images)")
    p.add_argument("--seed", type=int, default=0, help="seed of the generated samples (default 0)")
    ns = p.parse_args(args)
    from .evaluation import evaluate_checkpoint, run_folder_of
    samples = None
    if not ns.no_samples:
        samples = ns.samples or run_folder_of(ns.checkpoint) / "samples.png"
    result = evaluate_checkpoint(ns.checkpoint, ns.data_root, samples_path=samples,
                                 sample_quality=not ns.no_fid, num_samples=ns.num_samples,
                                 fid_samples=ns.fid_samples, seed=ns.seed)
    if ns.out:
        write_json(ns.out, result)
    # stdout carries only the JSON so it can be piped
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")


def main(argv: Optional[list[str]] = None) -> int:
    def run(args: list[str]) -> None:
        if args and args[0] in COMMANDS:
            COMMANDS[args[0]](args[1:])
        else:
            evaluate_main(args)
    return run_entry_point(run, argv)
