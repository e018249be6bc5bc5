"""The small-data set of BENCHMARKS.md (sessions 3-13): a random draw of N Fashion-MNIST
training images (``np.sort(default_rng(SEED).choice(60000, N, replace=False))``), written as
``OUT/train.npz`` with the full test split as ``OUT/test.npz``, for ``--dataset npz --data-root
OUT``. The defaults rebuild the 5,000-image draw (LabelSpreading, 100 labels, split seeds 0 / 1 /
2: 35.38 / 36.26 / 36.95 %, as in session 3).
    python bench/fashion_draw.py OUT [--size 5000] [--seed 0]"""
import argparse
from pathlib import Path

import numpy as np

from ssgan.data.sources.idx import load_fashion_mnist


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", type=Path)
    p.add_argument("--size", type=int, default=5000)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    data = load_fashion_mnist(Path("datasets"))
    pixels = lambda t: (t.squeeze(1) * 255).round().byte().numpy()  # back to the idx files' uint8
    x, y = pixels(data.x_train), data.y_train.numpy()
    if not 0 < a.size <= len(x):
        p.error(f"--size must be in 1..{len(x)}, got {a.size}")
    pick = np.sort(np.random.default_rng(a.seed).choice(len(x), a.size, replace=False))
    a.out.mkdir(parents=True, exist_ok=True)
    np.savez(a.out / "train.npz", x=x[pick], y=y[pick])
    np.savez(a.out / "test.npz", x=pixels(data.x_test), y=data.y_test.numpy())
    print(f"{a.size} training images -> {a.out / 'train.npz'}, {len(data.y_test)} test -> {a.out / 'test.npz'}")


if __name__ == "__main__":
    main()
