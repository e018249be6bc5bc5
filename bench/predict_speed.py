"""Images per second of ``evaluate.py predict`` and of the exported classifier, and the
export's file size.

    python bench/predict_speed.py CHECKPOINT [--images DIR | --n 2000] [--threads 2]
        [--repeats 3] [--work DIR] [--out bench/results/predict_speed.json]

Without ``--images``, ``--n`` PNG files of the checkpoint's image shape are written (random
pixels) to ``--work``. Measured (best of ``--repeats``):

* ``predict_files_per_s``: the whole predict path (read + decode + preprocess + forward);
* ``forward_per_s``: the evaluation weights on the already decoded tensor;
* ``export_per_s``: the ``torch.export`` program on the uint8 tensor;
* ``export_mb``: the size of the .pt2 file.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint")
    p.add_argument("--images", default=None, help="a folder of images to predict")
    p.add_argument("--n", type=int, default=2000, help="random images when --images is not given")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--work", default=None, help="folder for the random images and the export")
    p.add_argument("--out", default=None)
    ns = p.parse_args(argv)
    torch.set_num_threads(ns.threads)
    from PIL import Image

    from ssgan.data.sources import find_images
    from ssgan.evaluation import load_checkpoint
    from ssgan.export import export_checkpoint
    from ssgan.predict import Preprocessing, gather_inputs, predict_files, probabilities
    from ssgan.runs import quiet_library_noise
    quiet_library_noise()
    work = Path(ns.work or tempfile.mkdtemp(prefix="predict_speed"))
    model, ckpt = load_checkpoint(ns.checkpoint)
    prep = Preprocessing.from_checkpoint(model, ckpt)
    c, h, w = prep.image_shape
    folder = Path(ns.images) if ns.images else work / "images"
    if ns.images is None and not folder.is_dir():
        rng = np.random.RandomState(0)
        folder.mkdir(parents=True)
        for i in range(ns.n):
            a = rng.randint(0, 256, (h, w) if c == 1 else (h, w, 3), dtype=np.uint8)
            Image.fromarray(a).save(folder / f"{i}.png")
    n = len(find_images(folder))
    t_predict = best_of(lambda: predict_files(ns.checkpoint, [str(folder)]), ns.repeats)
    _, x = gather_inputs([str(folder)], prep)
    t_forward = best_of(lambda: probabilities(model, x), ns.repeats)
    pt2 = work / "classifier.pt2"
    export_checkpoint(ns.checkpoint, pt2)
    program = torch.export.load(str(pt2)).module()
    x8 = (x * prep.scale).round().to(torch.uint8)
    with torch.no_grad():
        program(x8[:2])  # the first call of a loaded program prepares it: not counted
        t_export = best_of(lambda: program(x8), ns.repeats)
    result = {"checkpoint": ns.checkpoint, "images": n, "image_shape": [c, h, w],
              "threads": ns.threads, "predict_files_per_s": round(n / t_predict, 1),
              "forward_per_s": round(n / t_forward, 1), "export_per_s": round(n / t_export, 1),
              "export_mb": round(pt2.stat().st_size / 1e6, 3), "torch": torch.__version__}
    print(json.dumps(result, indent=2))
    if ns.out:
        Path(ns.out).parent.mkdir(parents=True, exist_ok=True)
        Path(ns.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
