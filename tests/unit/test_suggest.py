"""``evaluate.py suggest``'s class balancing, pinned on hand-made feature arrays: the quota
arithmetic, exactly n rows, the most uncertain row of each cluster inside a class, the seed,
``--balance none`` as the old pool-wide ``pick``, and the one-line errors."""

import math

import numpy as np
import pytest
import torch

from ssgan.errors import SSGANError
from ssgan.suggest import choose, class_quotas, pick, pick_balanced


def blobs(centres, per: int, seed: int = 0, spread: float = 0.1) -> np.ndarray:
    """``per`` points around each centre, far apart compared with ``spread``."""
    rng = np.random.RandomState(seed)
    return np.concatenate([np.asarray(c, float) + spread * rng.randn(per, len(c)) for c in centres])


def test_small_class_gives_its_quota_to_the_others():
    # K=3, n=7: shares 2/2/2 +1, but class 2 has one candidate -> 3/3/1
    assert class_quotas(np.array([10, 10, 1]), 7).tolist() == [3, 3, 1]
    rng = np.random.RandomState(0)
    predicted = np.array([0] * 10 + [1] * 10 + [2])
    feats, ent = rng.randn(21, 4), rng.rand(21)
    rows, clusters = pick_balanced(feats, ent, predicted, 7, 3)
    assert len(rows) == 7 and len(set(rows.tolist())) == 7
    assert np.bincount(predicted[rows], minlength=3).tolist() == [3, 3, 1]
    assert len(set(clusters.tolist())) == 7


def test_quotas_add_up_and_stay_even():
    rng = np.random.RandomState(1)
    for _ in range(200):
        k = rng.randint(1, 8)
        counts = rng.randint(0, 12, k)
        if counts.sum() == 0:
            continue
        n = rng.randint(1, counts.sum() + 1)
        q = class_quotas(counts, n, rng.rand(k))
        assert q.sum() == n and (q <= counts).all() and (q >= 0).all()
        # a class below the largest quota is capped by its candidates; the uncapped differ by <= 1
        uncapped = q[q < counts]
        assert len(uncapped) == 0 or uncapped.max() - uncapped.min() <= 1
        assert ((q == counts) | (q >= q.max() - 1)).all()


def test_remainder_goes_to_highest_mean_entropy_then_most_candidates():
    assert class_quotas(np.array([5, 5, 5]), 4, np.array([.1, .9, .5])).tolist() == [1, 2, 1]
    assert class_quotas(np.array([5, 5, 5]), 5, np.array([.1, .9, .5])).tolist() == [1, 2, 2]
    assert class_quotas(np.array([3, 6, 5]), 4).tolist() == [1, 2, 1]  # ties: more candidates
    assert class_quotas(np.array([4, 4, 4]), 1).tolist() == [1, 0, 0]  # then the lower index
    assert class_quotas(np.array([0, 9, 9]), 4).tolist() == [0, 2, 2]  # empty class gets none


def test_imbalanced_predictions_are_balanced_up_to_the_candidates():
    rng = np.random.RandomState(2)
    predicted = np.array([0] * 80 + [1] * 15 + [2] * 4 + [3] * 1)
    feats, ent = rng.randn(100, 5), rng.rand(100)
    n, k = 12, 4
    rows, clusters = pick_balanced(feats, ent, predicted, n, k, seed=3)
    per_class = np.bincount(predicted[rows], minlength=k)
    assert len(rows) == n and len(set(rows.tolist())) == n
    # 3 each, class 3 has 1: its 2 spare picks go one each to two of the others (at most 4)
    assert per_class[3] == 1 and per_class[:3].min() == 3 and per_class.max() == math.ceil(n / k) + 1
    assert per_class.tolist() == class_quotas(np.bincount(predicted), n,
                                              [ent[predicted == c].mean() for c in range(k)]).tolist()
    assert (np.diff(ent[rows]) <= 0).all()  # most uncertain first
    assert len(set(clusters.tolist())) == n  # cluster ids unique across classes
    # the unbalanced pick over the same pool takes mostly class 0
    old, _ = pick(feats, ent, n, seed=3)
    assert np.bincount(predicted[old], minlength=k)[0] > per_class[0]


def test_inside_a_class_the_most_uncertain_row_of_each_cluster_wins():
    # class 0: blobs at (0,0) and (50,0); class 1: blobs at (0,50) and (50,50); 4 rows each
    feats = blobs([(0, 0), (50, 0), (0, 50), (50, 50)], 4)
    predicted = np.repeat([0, 0, 1, 1], 4)
    ent = np.full(16, 0.1)
    winners = [2, 4, 9, 15]  # one per blob
    ent[winners] = [0.5, 0.9, 0.7, 0.3]
    ent[0] = 0.45  # second-highest in a winning blob: must lose to row 2
    rows, clusters = pick_balanced(feats, ent, predicted, 4, 2)
    assert rows.tolist() == [4, 9, 2, 15]  # by entropy, highest first
    assert len(set(clusters.tolist())) == 4
    # the old pick with 4 clusters finds the same rows here (one per blob)
    assert sorted(pick(feats, ent, 4)[0].tolist()) == sorted(winners)


def test_deterministic_for_a_seed():
    rng = np.random.RandomState(4)
    feats, ent = rng.randn(300, 6), rng.rand(300)
    predicted = rng.choice(5, 300, p=[.6, .2, .1, .07, .03])
    a = pick_balanced(feats, ent, predicted, 17, 5, seed=7)
    b = pick_balanced(feats, ent, predicted, 17, 5, seed=7)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert len(a[0]) == 17


def test_balance_none_is_the_old_pick():
    rng = np.random.RandomState(5)
    feats, ent = rng.randn(120, 4), rng.rand(120)
    predicted = rng.choice(3, 120, p=[.8, .15, .05])
    for seed in (0, 1):
        new_rows, new_clusters = choose(feats, ent, predicted, 9, 3, balance="none", seed=seed)
        old_rows, old_clusters = pick(feats, ent, 9, seed)
        assert np.array_equal(new_rows, old_rows) and np.array_equal(new_clusters, old_clusters)
    bal_rows, _ = choose(feats, ent, predicted, 9, 3, balance="classes", seed=0)
    assert np.array_equal(bal_rows, pick_balanced(feats, ent, predicted, 9, 3, 0)[0])


@pytest.mark.parametrize("call, message", [
    (lambda f, e, p: pick_balanced(f, e, p, 11, 2), "--n 11 is more than the 10 unlabeled images"),
    (lambda f, e, p: pick_balanced(f, e, p, 0, 2), "--n must be > 0"),
    (lambda f, e, p: pick_balanced(f, e, p + 1, 3, 2), "predicted classes must lie in 0..1"),
    (lambda f, e, p: pick_balanced(f, e[:5], p, 3, 2), "do not match"),
    (lambda f, e, p: choose(f, e, p, 3, 2, balance="cluster"), "--balance must be one of"),
])
def test_bad_input_gives_one_line_errors(call, message):
    feats, ent = np.zeros((10, 2)), np.linspace(0, 1, 10)
    predicted = np.array([0] * 7 + [1] * 3)
    with pytest.raises(SSGANError) as e:
        call(feats, ent, predicted)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_exactly_n_rows_with_duplicate_features():
    # k-means finds fewer distinct clusters than the quota: pick fills with the most uncertain
    feats = np.zeros((12, 3))
    ent = np.arange(12, dtype=float)
    predicted = np.array([0] * 9 + [1] * 3)
    rows, _ = pick_balanced(feats, ent, predicted, 6, 2)
    assert len(rows) == 6 and len(set(rows.tolist())) == 6
    assert sorted(rows.tolist()) == [6, 7, 8, 9, 10, 11]


def test_cli_balances_by_default_and_turns_it_off(monkeypatch, capsys):
    import ssgan.suggest as suggest_mod
    seen = []

    def fake(checkpoint, n, *, seed=0, data_root=None, balance="classes"):
        seen.append(balance)
        return ["a.png"], torch.tensor([[0.6, 0.4]]), np.array([0.67]), np.array([0]), ["x", "y"]

    monkeypatch.setattr(suggest_mod, "suggest", fake)
    suggest_mod.main(["model.ckpt", "--n", "1"])
    suggest_mod.main(["model.ckpt", "--n", "1", "--balance", "none"])
    assert seen == ["classes", "none"]
    assert capsys.readouterr().out.splitlines()[0].startswith("path,label,confidence,entropy,cluster")
    with pytest.raises(SystemExit):
        suggest_mod.main(["model.ckpt", "--n", "1", "--balance", "cluster"])
