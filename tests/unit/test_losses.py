"""The core losses of Salimans et al. 2016, pinned on hand-made tensors."""

import math

import pytest
import torch
import torch.nn.functional as F

from ssgan.objectives import (feature_matching_loss, real_fake_logit, supervised_loss,
                              unlabeled_loss)

LN = math.log


def test_real_fake_logit_is_logsumexp():
    logits = torch.tensor([[0.0, LN(3)], [LN(2), LN(2)]])
    assert torch.allclose(real_fake_logit(logits), torch.tensor([LN(4), LN(4)]))


def test_supervised_loss_pinned():
    # p(y=1) = 3 / (1 + 3) -> -log(3/4); second row: p(y=0) = 2/4
    logits = torch.tensor([[0.0, LN(3)], [LN(2), LN(2)]])
    y = torch.tensor([1, 0])
    expected = 0.5 * (LN(4 / 3) + LN(2))
    assert supervised_loss(logits, y).item() == pytest.approx(expected, rel=1e-6)


def test_supervised_loss_matches_reference_formula():
    # L_lab = -mean(l[y]) + mean(lse(l))
    torch.manual_seed(0)
    logits, y = torch.randn(7, 5), torch.randint(0, 5, (7,))
    ref = -logits[torch.arange(7), y].mean() + torch.logsumexp(logits, 1).mean()
    assert supervised_loss(logits, y).item() == pytest.approx(ref.item(), rel=1e-6)


def test_unlabeled_loss_pinned():
    # real: lse = ln 4, softplus(-ln 4) = ln(5/4); fake: lse = ln 4, softplus(ln 4) = ln 5
    # L_unl = 0.5 ln(5/4) + 0.5 ln 5 = ln 2.5
    l_unl = torch.tensor([[0.0, LN(3)]])
    l_fake = torch.tensor([[LN(2), LN(2)]])
    assert unlabeled_loss(l_unl, l_fake).item() == pytest.approx(LN(2.5), rel=1e-6)


def test_unlabeled_loss_matches_reference_formula():
    torch.manual_seed(1)
    l_unl, l_fake = torch.randn(6, 10) * 3, torch.randn(4, 10) * 3
    lse_u, lse_f = torch.logsumexp(l_unl, 1), torch.logsumexp(l_fake, 1)
    ref = (-0.5 * lse_u.mean() + 0.5 * F.softplus(lse_u).mean() + 0.5 * F.softplus(lse_f).mean())
    assert unlabeled_loss(l_unl, l_fake).item() == pytest.approx(ref.item(), rel=1e-5)


def test_unlabeled_loss_equals_explicit_k_plus_1_softmax():
    """With an explicit zero (K+1)-th logit, L_unl is half the cross-entropy of real -> "not fake"
    plus half of fake -> "fake" under the (K+1)-way softmax."""
    torch.manual_seed(2)
    l_unl, l_fake = torch.randn(8, 10) * 2, torch.randn(8, 10) * 2
    zeros = torch.zeros(8, 1)
    logp_unl = F.log_softmax(torch.cat([l_unl, zeros], 1), 1)
    logp_fake = F.log_softmax(torch.cat([l_fake, zeros], 1), 1)
    p_real_unl = 1 - logp_unl[:, -1].exp()  # probability of any real class
    explicit = 0.5 * (-torch.log(p_real_unl)).mean() + 0.5 * (-logp_fake[:, -1]).mean()
    assert unlabeled_loss(l_unl, l_fake).item() == pytest.approx(explicit.item(), rel=1e-5)


def test_unlabeled_loss_is_stable_for_large_logits():
    l = torch.full((2, 10), 80.0)
    value = unlabeled_loss(l, -l)
    assert torch.isfinite(value) and value.item() == pytest.approx(0.0, abs=1e-6)


def test_feature_matching_pinned():
    f_real = torch.tensor([[1.0, 2.0], [3.0, 4.0]])   # batch mean [2, 3]
    f_fake = torch.tensor([[0.0, 0.0], [2.0, 2.0]])   # batch mean [1, 1]
    assert feature_matching_loss(f_real, f_fake).item() == pytest.approx(2.5)  # (1 + 4) / 2
    assert feature_matching_loss(f_real, f_fake, p=1).item() == pytest.approx(1.5)
    assert feature_matching_loss(f_real, f_real).item() == 0.0
