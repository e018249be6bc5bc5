"""``evaluate.py``: re-evaluate a checkpoint (JSON on stdout, logs on stderr).

    python evaluate.py CHECKPOINT [--data-root DIR] [--out FILE]

Further sub-commands are registered in :data:`COMMANDS` (name -> main(argv))."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Callable, Optional

from .runs import run_entry_point, write_json

#: sub-command name -> function taking the remaining argv
COMMANDS: dict[str, Callable[[list[str]], None]] = {}


def evaluate_main(args: list[str]) -> None:
    p = argparse.ArgumentParser(prog="evaluate.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", help="a .ckpt written by train.py")
    p.add_argument("--data-root", default=None, help="override the data root saved in the checkpoint")
    p.add_argument("--out", default=None, help="also save the JSON to this file")
    ns = p.parse_args(args)
    from .evaluation import evaluate_checkpoint
    result = evaluate_checkpoint(ns.checkpoint, ns.data_root)
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
