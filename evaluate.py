"""Evaluate a checkpoint: `python evaluate.py CHECKPOINT`. `--help` lists the options."""

import sys

from ssgan.eval_cli import main

if __name__ == "__main__":
    sys.exit(main())
