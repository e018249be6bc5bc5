"""``evaluate.py suggest``: which unlabeled images to label next.

    python evaluate.py suggest CHECKPOINT --n N [--out to_label.csv] [--seed S]
        [--balance {classes,none}]

Active learning by uncertainty and diversity: the checkpoint's unlabeled pool (without the
labeled images) is split into N clusters with k-means on D's features (the evaluation
weights' feature layer, ``DOutput.features``), and from each cluster the image with the
highest predictive entropy ``H(p) = -sum_k p_k log p_k`` over the K classes is chosen. Entropy
alone picks near-duplicates from one confusing region; clustering alone picks easy,
typical images; one most-uncertain image per cluster gets both (the "cluster-then-uncertainty"
scheme of e.g. Zhdanov 2019, "Diverse mini-batch active learning", arXiv:1901.05954).

By default (``--balance classes``) the N picks are first split as evenly as possible over the
classes D predicts for the pool, and the scheme above runs inside each predicted class with
its share. On a 5,000-image Fashion-MNIST pool (BENCHMARKS.md, session 6, 3 seeds) 50 balanced
picks gave 30.16 % test error against 31.84 % for the unbalanced ones (``--balance none``) and
31.82 % for 50 random labels; a class-balanced random draw, which needs the true labels, gave
27.39 %: the predicted classes are only as balanced as the start model is accurate.

The CSV lists, most uncertain first: ``path`` (a file, or ``unlabeled.npz[i]`` / ``DATASET:
train[i]``), the predicted ``label`` (the class the balancing counts the image under), its
``confidence``, the ``entropy`` and the ``cluster``. Label the images, move them into
``labeled/CLASS/`` and train again.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import torch

from .errors import SSGANError

#: above this many candidates k-means runs on mini-batches (scikit-learn's MiniBatchKMeans)
MINIBATCH_ABOVE = 20_000

#: ``--balance`` choices: over the predicted classes, or the pool as a whole
BALANCE_CHOICES = ("classes", "none")


def check_balance(balance: str) -> None:
    """A one-line error for a ``--balance`` value other than :data:`BALANCE_CHOICES`."""
    if balance not in BALANCE_CHOICES:
        raise SSGANError(f"--balance must be one of {', '.join(BALANCE_CHOICES)}, got {balance!r}")


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
            probs.append(torch.softmax(model.readout_logits(out).float(), 1).cpu())
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


def class_quotas(counts: np.ndarray, n: int, priority: np.ndarray | None = None) -> np.ndarray:
    """How many of ``n`` picks each class gets, given ``counts[k]`` candidates predicted as k.

    As even as the candidates allow ("water filling"): every class with candidates left gets
    an equal share of what is still to give, capped at its candidates, and what a small class
    cannot take goes round again to the others, so the quotas add up to ``n`` whenever
    ``counts.sum() >= n``. The last ``r < #classes`` picks that do not split evenly go one each
    to the classes with the highest ``priority`` (``suggest`` passes the mean entropy of the
    class's candidates: where D is least sure, one more label should teach it most), ties to
    the class with more candidates, then to the lower class index."""
    counts = np.asarray(counts, dtype=np.int64)
    if n > counts.sum():
        raise SSGANError(f"--n {n} is more than the {int(counts.sum())} unlabeled images")
    priority = np.zeros(len(counts)) if priority is None else np.asarray(priority, dtype=float)
    # classes in remainder order: highest priority, then most candidates, then lowest index
    order = np.lexsort((np.arange(len(counts)), -counts, -priority))
    quota = np.zeros(len(counts), dtype=np.int64)
    left = n
    while left > 0:
        open_ = [k for k in order if counts[k] > quota[k]]
        share = left // len(open_)
        if share == 0:
            for k in open_[:left]:
                quota[k] += 1
            break
        for k in open_:
            add = min(share, counts[k] - quota[k])
            quota[k] += add
            left -= add
    return quota


def pick_balanced(features: np.ndarray, ent: np.ndarray, predicted: np.ndarray, n: int,
                  num_classes: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(chosen rows, their clusters)`` like ``pick``, but split over the predicted classes.

    ``predicted[i]`` is the class D predicts for row i. The ``n`` picks are shared out by
    ``class_quotas`` (``n // K`` each, a class with fewer candidates giving the rest to the
    others, the remainder to the classes of highest mean entropy), and inside each class
    ``pick`` chooses its quota: k-means with that many clusters on the class's features, the
    most uncertain row of each. Rows come back most uncertain first; cluster ids are unique
    across classes (each class's k-means ids are offset by the quotas of the classes before
    it). Deterministic for a ``seed``, which every class's k-means uses."""
    predicted = np.asarray(predicted, dtype=np.int64)
    if len(predicted) != len(features) or len(ent) != len(features):
        raise SSGANError(f"{len(features)} feature rows, {len(ent)} entropies and "
                         f"{len(predicted)} predicted classes do not match")
    if len(predicted) and (predicted.min() < 0 or predicted.max() >= num_classes):
        raise SSGANError(f"predicted classes must lie in 0..{num_classes - 1}, "
                         f"got {int(predicted.min())}..{int(predicted.max())}")
    if n <= 0:
        raise SSGANError(f"--n must be > 0, got {n}")
    counts = np.bincount(predicted, minlength=num_classes)
    mean_ent = np.array([ent[predicted == k].mean() if counts[k] else 0.0
                         for k in range(num_classes)])
    quota = class_quotas(counts, n, mean_ent)
    rows, clusters, offset = [], [], 0
    for k in range(num_classes):
        if not quota[k]:
            continue
        members = np.flatnonzero(predicted == k)
        r, c = pick(features[members], ent[members], int(quota[k]), seed)
        rows.append(members[r])
        clusters.append(np.asarray(c, dtype=np.int64) + offset)
        offset += int(quota[k])
    rows, clusters = np.concatenate(rows), np.concatenate(clusters)
    order = np.argsort(-ent[rows], kind="stable")
    return rows[order], clusters[order]


def choose(features: np.ndarray, ent: np.ndarray, predicted: np.ndarray, n: int,
           num_classes: int, *, balance: str = "classes", seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``pick_balanced`` (``balance="classes"``) or the pool-wide ``pick`` (``"none"``)."""
    if balance == "classes":
        return pick_balanced(features, ent, predicted, n, num_classes, seed)
    check_balance(balance)
    return pick(features, ent, n, seed)


def suggest(checkpoint: str, n: int, *, seed: int = 0, data_root: str | None = None,
            balance: str = "classes"):
    """``(names, probabilities, entropies, clusters, classes)`` of the ``n`` images to label;
    ``balance="none"`` for the picks over the whole pool, ignoring the predicted classes."""
    from .evaluation import datamodule_from_checkpoint, load_checkpoint
    from .predict import Preprocessing
    if n <= 0:
        raise SSGANError(f"--n must be > 0, got {n}")
    check_balance(balance)  # before the checkpoint is loaded
    model, ckpt = load_checkpoint(checkpoint)
    classes = Preprocessing.from_checkpoint(model, ckpt).classes
    dm = datamodule_from_checkpoint(ckpt, data_root)
    idx = dm.pool_only_indices()
    if not len(idx):
        raise SSGANError("the checkpoint's unlabeled pool holds no image outside the labeled set")
    feats, probs = features_and_probs(model, dm.data.x_train[torch.as_tensor(idx)])
    ent = entropy(probs).numpy()
    # the same argmax as the CSV's ``label`` column (``write_csv``), so the balance shows there
    predicted = probs.max(1).indices.numpy()
    rows, clusters = choose(feats, ent, predicted, n, probs.shape[1], balance=balance, seed=seed)
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
    p.add_argument("--balance", choices=BALANCE_CHOICES, default="classes",
                   help="classes (default): split the N picks evenly over the predicted "
                        "classes; none: cluster the whole pool, whatever the classes")
    p.add_argument("--data-root", default=None,
                   help="override the data root saved in the checkpoint")
    ns = p.parse_args(args)
    names, probs, ent, clusters, classes = suggest(ns.checkpoint, ns.n, seed=ns.seed,
                                                   data_root=ns.data_root, balance=ns.balance)
    emit_csv(ns.out, lambda f: write_csv(
        f, names, probs, classes,
        extra={"entropy": [f"{v:.6f}" for v in ent], "cluster": [int(c) for c in clusters]}))
    print(f"suggested {len(names)} images to label", file=sys.stderr)
