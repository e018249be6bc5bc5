"""``evaluate.py suggest``: which unlabeled images to label next.

    python evaluate.py suggest CHECKPOINT --n N [--out to_label.csv] [--seed S]

Active learning by uncertainty and diversity: the checkpoint's unlabeled pool (without the
labeled images) is split into N clusters with k-means on D's features (the evaluation
weights' feature layer, ``DOutput.features``), and from each cluster the image with the
highest predictive entropy ``H(p) = -sum_k p_k log p_k`` over the K classes is chosen. Entropy
alone picks near-duplicates from one confusing region; clustering alone picks easy,
typical images; one most-uncertain image per cluster gets both (the "cluster-then-uncertainty"
scheme of e.g. Zhdanov 2019, "Diverse mini-batch active learning", arXiv:1901.05954).

The CSV lists, most uncertain first: ``path`` (a file, or ``unlabeled.npz[i]`` / ``DATASET:
train[i]``), the predicted ``label``, its ``confidence``, the ``entropy`` and the ``cluster``.
Label the images, move them into ``labeled/CLASS/`` and train again.
"""

from __future__ import annotations

import argparse
import sys
from typing import Optional

import numpy as np
import torch

from .errors import SSGANError

#: above this many candidates k-means runs on mini-batches (scikit-learn's MiniBatchKMeans)
MINIBATCH_ABOVE = 20_000


@torch.no_grad()
def features_and_probs(model, x: torch.Tensor, batch_size: int = 1000):
    """D's features and class probabilities (evaluation weights, eval mode)."""
    d = model.eval_discriminator
    was_training = d.training
    d.eval()
    feats, probs = [], []
    try:
        for i in range(0, len(x), batch_size):
            out = d(x[i:i + batch_size].to(model.device))
            feats.append(out.features.flatten(1).float().cpu())
            probs.append(torch.softmax(out.logits.float(), 1).cpu())
    finally:
        d.train(was_training)
    return torch.cat(feats).numpy(), torch.cat(probs)


def entropy(probs: torch.Tensor) -> torch.Tensor:
    """``-sum_k p_k log p_k`` per row (0 log 0 = 0)."""
    return -(probs * torch.log(probs.clamp_min(1e-30))).sum(1)


def pick(features: np.ndarray, ent: np.ndarray, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(chosen rows, their clusters)``: the highest-entropy row of each of ``n`` k-means
    clusters of ``features``, most uncertain first. When k-means gives fewer distinct clusters
    (duplicate features), the most uncertain remaining rows fill up to ``n``."""
    import warnings

    from sklearn.cluster import KMeans, MiniBatchKMeans
    if n > len(features):
        raise SSGANError(f"--n {n} is more than the {len(features)} unlabeled images")
    km = (MiniBatchKMeans(n, random_state=seed, n_init=3, batch_size=4096)
          if len(features) > MINIBATCH_ABOVE else KMeans(n, random_state=seed, n_init=3))
    with warnings.catch_warnings():
        # duplicate points: fewer distinct clusters than n, handled below
        warnings.simplefilter("ignore")
        labels = km.fit_predict(features.astype(np.float64))
    chosen = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        chosen.append(members[np.argmax(ent[members])])
    chosen = np.asarray(chosen)
    if len(chosen) < n:
        taken = set(chosen.tolist())
        rest = [i for i in np.argsort(-ent, kind="stable") if i not in taken]
        chosen = np.concatenate([chosen, np.asarray(rest[:n - len(chosen)], dtype=np.int64)])
    order = np.argsort(-ent[chosen], kind="stable")
    chosen = chosen[order]
    return chosen, labels[chosen]


def suggest(checkpoint: str, n: int, *, seed: int = 0, data_root: Optional[str] = None):
    """``(names, probabilities, entropies, clusters, classes)`` of the ``n`` images to label."""
    from .evaluation import datamodule_from_checkpoint, load_checkpoint
    from .predict import Preprocessing
    if n <= 0:
        raise SSGANError(f"--n must be > 0, got {n}")
    model, ckpt = load_checkpoint(checkpoint)
    classes = Preprocessing.from_checkpoint(model, ckpt).classes
    dm = datamodule_from_checkpoint(ckpt, data_root)
    idx = dm.pool_only_indices()
    if not len(idx):
        raise SSGANError("the checkpoint's unlabeled pool holds no image outside the labeled set")
    feats, probs = features_and_probs(model, dm.data.x_train[torch.as_tensor(idx)])
    ent = entropy(probs).numpy()
    rows, clusters = pick(feats, ent, n, seed)
    names = [dm.train_name(int(idx[r])) for r in rows]
    return names, probs[torch.as_tensor(rows)], ent[rows], clusters, classes


def main(args: list[str]) -> None:
    from .predict import emit_csv, write_csv
    p = argparse.ArgumentParser(prog="evaluate.py suggest", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", help="a .ckpt written by train.py")
    p.add_argument("--n", type=int, required=True, help="how many images to suggest")
    p.add_argument("--out", default=None, help="CSV file (default: stdout)")
    p.add_argument("--seed", type=int, default=0, help="k-means seed (default 0)")
    p.add_argument("--data-root", default=None,
                   help="override the data root saved in the checkpoint")
    ns = p.parse_args(args)
    names, probs, ent, clusters, classes = suggest(ns.checkpoint, ns.n, seed=ns.seed,
                                                   data_root=ns.data_root)
    emit_csv(ns.out, lambda f: write_csv(
        f, names, probs, classes,
        extra={"entropy": [f"{v:.6f}" for v in ent], "cluster": [int(c) for c in clusters]}))
    print(f"suggested {len(names)} images to label", file=sys.stderr)
