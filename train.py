"""Train a semi-supervised GAN classifier. `python train.py --help` lists every option."""

import sys

from ssgan.cli import main

if __name__ == "__main__":
    sys.exit(main())
