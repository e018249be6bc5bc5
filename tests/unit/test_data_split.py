"""The labeled split, the unlabeled stream and the digits source."""

import numpy as np
import pytest
import torch

from ssgan.data import SSLDataModule, select_labeled
from ssgan.data.module import SSLBatchSampler
from ssgan.errors import SSGANError


def _dm(**kw):
    dm = SSLDataModule(dataset="digits", **kw)
    dm.setup("fit")
    return dm


def test_digits_source_shapes_and_range():
    dm = _dm()
    d = dm.data
    assert d.x_train.shape == (1347, 1, 8, 8) and d.x_test.shape == (450, 1, 8, 8)
    assert d.x_train.dtype == torch.float32
    assert 0.0 <= float(d.x_train.min()) and float(d.x_train.max()) == 1.0
    assert torch.bincount(d.y_test).tolist() == [45, 46, 44, 46, 45, 46, 45, 45, 43, 45]


def test_labeled_split_is_class_balanced_and_reproducible():
    a, b, c = _dm(num_labels=50, seed_data=3), _dm(num_labels=50, seed_data=3), _dm(num_labels=50, seed_data=4)
    y = a.data.y_train[torch.as_tensor(a.labeled_indices)]
    assert torch.bincount(y, minlength=10).tolist() == [5] * 10
    assert np.array_equal(a.labeled_indices, b.labeled_indices)
    assert not np.array_equal(a.labeled_indices, c.labeled_indices)
    assert len(set(a.labeled_indices.tolist())) == 50


def test_labeled_split_independent_of_training_seed():
    torch.manual_seed(0)
    a = _dm(seed_data=1)
    torch.manual_seed(123)
    b = _dm(seed_data=1)
    assert np.array_equal(a.labeled_indices, b.labeled_indices)


def test_labeled_images_are_disjoint_from_test_split():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    from ssgan.data.sources import DIGITS_SPLIT_SEED, DIGITS_TEST_FRACTION

    y_all = load_digits().target
    train_idx, test_idx = train_test_split(np.arange(len(y_all)), test_size=DIGITS_TEST_FRACTION,
                                           stratify=y_all, random_state=DIGITS_SPLIT_SEED)
    dm = _dm(num_labels=100)
    original = set(train_idx[dm.labeled_indices].tolist())
    assert original.isdisjoint(test_idx.tolist())
    # and the labeled tensors really are those training images
    x_all = torch.as_tensor(load_digits().images, dtype=torch.float32) / 16
    assert torch.equal(dm.data.x_train[torch.as_tensor(dm.labeled_indices)][:, 0],
                       x_all[train_idx[dm.labeled_indices]])


def test_validation_split_is_disjoint_and_stratified():
    dm = _dm(num_labels=50, val_size=200)
    assert len(dm.val_indices) == 200
    assert set(dm.val_indices.tolist()).isdisjoint(dm.labeled_indices.tolist())
    assert set(dm.val_indices.tolist()).isdisjoint(dm.unlabeled_indices.tolist())
    counts = torch.bincount(dm.data.y_train[torch.as_tensor(dm.val_indices)])
    assert counts.min() >= 19 and counts.max() <= 21


def test_exclude_labeled_from_unlabeled_pool():
    inc, exc = _dm(), _dm(exclude_labeled=True)
    assert len(inc.unlabeled_indices) == 1347
    assert len(exc.unlabeled_indices) == 1347 - 50
    assert set(exc.unlabeled_indices.tolist()).isdisjoint(exc.labeled_indices.tolist())


@pytest.mark.parametrize("num_labels, match", [(55, "multiple of the 10 classes"),
                                                (0, "multiple of the 10 classes"),
                                                (2000, "has only")])
def test_impossible_label_counts_are_clear_errors(num_labels, match):
    with pytest.raises(SSGANError, match=match):
        _dm(num_labels=num_labels)


def test_select_labeled_matches_improved_gan_procedure():
    # permute with seed_data, take the first n/K of each class in permutation order
    y = np.array([0, 1] * 10)
    got = select_labeled(y, 4, 2, seed_data=7)
    perm = np.random.RandomState(7).permutation(20)
    expected = sorted([i for i in perm if y[i] == 0][:2] + [i for i in perm if y[i] == 1][:2])
    assert got.tolist() == expected


def test_sampler_tiles_labeled_set_each_epoch():
    lab, unl = torch.arange(10), torch.arange(100, 350)
    s = SSLBatchSampler(lab, unl, batch_size=50, labeled_batch_size=20, seed=0)
    steps = list(s)
    assert len(steps) == len(s) == 5
    labeled = torch.cat([b[0] for b in steps])
    # 100 labeled slots = every labeled index exactly 10 times
    assert torch.bincount(labeled, minlength=10).tolist() == [10] * 10
    unl_d = torch.cat([b[1] for b in steps])
    assert sorted(unl_d.tolist()) == unl.tolist()  # one pass over the unlabeled pool
    again = list(s)
    assert all(torch.equal(x[1], y[1]) for x, y in zip(steps, again))  # same epoch, same order
    s.set_epoch(1)
    assert not torch.equal(torch.cat([b[1] for b in s]), unl_d)  # reshuffled each epoch


def test_train_batches_gather_the_right_images():
    dm = _dm(batch_size=32)
    x_lab, y_lab, x_unl, x_unl2 = next(iter(dm.train_dataloader()))
    assert x_lab.shape == (32, 1, 8, 8) and x_unl.shape == x_unl2.shape == (32, 1, 8, 8)
    lab_set = {tuple(dm.data.x_train[i].flatten().tolist()) for i in dm.labeled_indices}
    assert all(tuple(x.flatten().tolist()) in lab_set for x in x_lab)
