"""Train a semi-supervised GAN classifier. `python train.py --help` lists every option.

Exit codes: 0 done; 2 bad input (one `error: ...` line; add --debug for the traceback);
3 stopped by the training guard (divergence or generator collapse, last good checkpoint kept);
143 stopped by SIGTERM after writing last.ckpt (continue with --ckpt_path last).
Several processes: --trainer.strategy ddp --trainer.devices N (see docs/scaling.md).
"""

import sys

from ssgan.cli import main

if __name__ == "__main__":
    sys.exit(main())
