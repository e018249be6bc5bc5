"""The accuracy issue's regularizers (issue 14): each term pinned on hand-made tensors against an
independent formula (numpy or explicit loops), its invariants, where its gradient goes, and
each Regularizer end to end with tiny modules and a hand-built GANBatch / StepContext."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from ssgan.data.module import random_cutout
from ssgan.errors import SSGANError
from ssgan.networks import DOutput
from ssgan.objectives import GANBatch
from ssgan.regularizers import (ClassBalance, Consistency, EntropyMinimization, InterpolationConsistency,
                                LabeledAugmentation, ManifoldRegularization, PseudoLabel,
                                PullAway, StepContext, VirtualAdversarial, adversarial_direction,
                                class_balance_loss, conditional_entropy,
                                consistency_loss, interpolation_consistency_loss, kl_divergence,
                                manifold_neighbour, manifold_penalty, mix, pseudo_label_loss,
                                pull_away_term, random_unit_directions, unit_rows)

LOGITS = [[2.0, -1.0, 0.5], [0.0, 0.0, 3.0], [-2.0, 1.0, 1.0], [0.3, 0.2, 0.1]]


def np_softmax(a):
    a = np.asarray(a, dtype=np.float64)
    e = np.exp(a - a.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


# -- pure functions ----------------------------------------------------------------------------

def test_conditional_entropy_matches_numpy():
    p = np_softmax(LOGITS)
    expected = np.mean([-sum(pk * math.log(pk) for pk in row) for row in p])
    assert conditional_entropy(torch.tensor(LOGITS)).item() == pytest.approx(expected, rel=1e-6)


def test_conditional_entropy_bounds():
    one_hot = torch.tensor([[60.0, 0.0, 0.0, 0.0], [0.0, 0.0, -5.0, 70.0]])
    assert conditional_entropy(one_hot).item() == pytest.approx(0.0, abs=1e-6)
    uniform = torch.full((5, 7), 1.3)
    assert conditional_entropy(uniform).item() == pytest.approx(math.log(7), rel=1e-6)


def test_pull_away_matches_explicit_loop():
    f = torch.tensor([[1.0, 2.0, 0.0], [0.5, -1.0, 3.0], [2.0, 2.0, 2.0], [0.0, 1.0, -1.0]])
    a = f.numpy().astype(np.float64)
    n = len(a)
    total = 0.0
    for i in range(n):
        for j in range(n):
            if i != j:
                total += (a[i] @ a[j] / (np.linalg.norm(a[i]) * np.linalg.norm(a[j]))) ** 2
    assert pull_away_term(f).item() == pytest.approx(total / (n * (n - 1)), rel=1e-6)


def test_pull_away_invariants():
    assert pull_away_term(torch.eye(4) * torch.tensor([[1.0], [3.0], [0.5], [2.0]])).item() == \
        pytest.approx(0.0, abs=1e-7)
    same = torch.tensor([[1.0, -2.0, 0.5]]) * torch.tensor([[1.0], [2.0], [0.1]])
    assert pull_away_term(same).item() == pytest.approx(1.0, rel=1e-6)
    # a zero row (all-dead ReLU features) is orthogonal to the others, not NaN
    with_zero = torch.tensor([[1.0, 0.0], [0.0, 0.0], [1.0, 0.0]])
    assert pull_away_term(with_zero).item() == pytest.approx(2 / 6, rel=1e-6)


def test_consistency_loss_matches_numpy_and_is_zero_for_identical_views():
    other = [[0.0, 1.0, 0.0], [1.0, 1.0, 1.0], [-2.0, 1.0, 2.0], [3.0, 0.2, 0.1]]
    expected = np.mean((np_softmax(LOGITS) - np_softmax(other)) ** 2)
    got = consistency_loss(torch.tensor(LOGITS), torch.tensor(other)).item()
    assert got == pytest.approx(expected, rel=1e-6)
    assert consistency_loss(torch.tensor(LOGITS), torch.tensor(LOGITS)).item() == 0.0
    # softmax is shift-invariant: a common offset per row is the same prediction
    shifted = torch.tensor(LOGITS) + torch.tensor([[5.0], [-1.0], [0.0], [2.0]])
    assert consistency_loss(torch.tensor(LOGITS), shifted).item() == pytest.approx(0.0, abs=1e-12)


def test_manifold_penalty_and_neighbour_match_numpy():
    a, b = np.array(LOGITS), np.array(LOGITS)[::-1] * 0.5
    expected = np.mean(np.abs(a - b).sum(1))
    assert manifold_penalty(torch.tensor(a), torch.tensor(b.copy())).item() == \
        pytest.approx(expected, rel=1e-6)
    x = torch.tensor([[[[0.0, 1.0], [2.0, 0.0]]], [[[1.0, 1.0], [1.0, 1.0]]]])
    x_moved = torch.tensor([[[[3.0, 1.0], [2.0, 4.0]]], [[[1.0, 0.0], [1.0, 1.0]]]])
    near = manifold_neighbour(x, x_moved, eps=10.0).numpy()
    d = (x_moved - x).numpy().reshape(2, -1)
    want = x.numpy().reshape(2, -1) + 10.0 * d / np.linalg.norm(d, axis=1, keepdims=True)
    np.testing.assert_allclose(near.reshape(2, -1), want, rtol=1e-6)
    dirs = random_unit_directions(torch.zeros(6, 5))
    np.testing.assert_allclose(dirs.norm(dim=1).numpy(), np.ones(6), rtol=1e-6)
    assert dirs.std() > 0.1


# -- end to end with tiny modules --------------------------------------------------------------

class LinearD(nn.Module):
    """l(x) = W x + b on flattened images; features = the logits (for the pull-away test)."""

    def __init__(self, in_features: int, k: int):
        super().__init__()
        self.lin = nn.Linear(in_features, k)

    def forward(self, x):
        out = self.lin(x.flatten(1))
        return DOutput(out, out)


class ConstantD(nn.Module):
    def __init__(self, k: int):
        super().__init__()
        self.bias = nn.Parameter(torch.tensor([0.5, -1.0, 2.0][:k]))

    def forward(self, x):
        out = self.bias.expand(len(x), -1) + 0 * x.flatten(1).sum(1, keepdim=True)
        return DOutput(out, out)


class RankOneG(nn.Module):
    """G(z) = a * (u . z) + c: every latent move lies along the image direction a."""

    def __init__(self, latent: int, pixels: int):
        super().__init__()
        g = torch.Generator().manual_seed(3)
        self.a = nn.Parameter(torch.randn(pixels, generator=g))
        self.u = nn.Parameter(torch.randn(latent, generator=g))
        self.c = nn.Parameter(torch.randn(pixels, generator=g))

    def forward(self, z, y=None):
        return ((z @ self.u)[:, None] * self.a + self.c).view(len(z), 1, 2, 2)


def make_step(d, g, n=5, latent=3, teacher=None, augment=None):
    torch.manual_seed(0)
    z = torch.rand(n, latent)
    x_unl = torch.rand(n, 1, 2, 2)
    x_fake = g(z).detach()
    step = StepContext(discriminator=d, generator=g, x_lab=torch.rand(n, 1, 2, 2),
                       y_lab=torch.zeros(n, dtype=torch.long), x_unl=x_unl, z=z, teacher=teacher)
    if augment is not None:
        step.augment = augment
    batch = GANBatch(real=d(x_unl), fake=d(x_fake), x_real=x_unl, x_fake=x_fake)
    return batch, step


def grads(module):
    return [p.grad for p in module.parameters()]


def test_entropy_minimization_end_to_end():
    d, g = LinearD(4, 3), RankOneG(3, 4)
    batch, step = make_step(d, g)
    reg = EntropyMinimization(weight=0.3)
    assert reg.player == "discriminator" and EntropyMinimization().weight == 0.1
    terms = reg(batch, step)
    p = np_softmax(batch.real.logits.detach().numpy())
    assert terms["loss"].item() == pytest.approx(0.3 * np.mean(-(p * np.log(p)).sum(1)), rel=1e-5)
    terms["loss"].backward()
    assert all(gr is not None for gr in grads(d)) and all(gr is None for gr in grads(g))


def test_class_balance_matches_numpy():
    p_bar = np_softmax(LOGITS).mean(0)
    uniform = np.full(3, 1 / 3)
    expected = sum(u * math.log(u / q) for u, q in zip(uniform, p_bar))
    assert class_balance_loss(torch.tensor(LOGITS)).item() == pytest.approx(expected, rel=1e-6)
    prior = np.array([0.5, 0.0, 0.5])  # a class with no prior mass adds nothing (0 log 0 = 0)
    expected = 0.5 * math.log(0.5 / p_bar[0]) + 0.5 * math.log(0.5 / p_bar[2])
    got = class_balance_loss(torch.tensor(LOGITS), torch.tensor(prior, dtype=torch.float32))
    assert got.item() == pytest.approx(expected, rel=1e-6)


def test_class_balance_temperature_sharpens_before_averaging():
    # the mean of softmax(l / T) against numpy, through the function and the component
    p_bar = np_softmax(np.array(LOGITS) / 0.5).mean(0)
    expected = sum((1 / 3) * math.log((1 / 3) / q) for q in p_bar)
    got = class_balance_loss(torch.tensor(LOGITS), temperature=0.5)
    assert got.item() == pytest.approx(expected, rel=1e-6)
    assert got.item() != pytest.approx(class_balance_loss(torch.tensor(LOGITS)).item(), rel=1e-3)
    # two images lean to class 0 and one to class 1, softly: the mean of the plain softmax is
    # nearly uniform, but every argmax avoids class 2; sharpening exposes that
    soft = torch.tensor([[0.6, 0.0, 0.3], [0.6, 0.0, 0.3], [0.0, 0.6, 0.3]])
    assert class_balance_loss(soft).item() < 0.03
    assert class_balance_loss(soft, temperature=0.05).item() > 0.3
    d, g = LinearD(4, 3), RankOneG(3, 4)
    batch, step = make_step(d, g)
    reg = ClassBalance(weight=0.5, temperature=0.25)
    p_bar = np_softmax(batch.real.logits.detach().numpy() / 0.25).mean(0)
    assert reg(batch, step)["loss_balance"].item() == pytest.approx(
        np.sum(np.log((1 / 3) / p_bar)) / 3, rel=1e-5)
    for bad in (0.0, -1.0):
        with pytest.raises(SSGANError, match="ClassBalance.temperature"):
            ClassBalance(temperature=bad)


def test_class_balance_is_zero_only_at_the_prior_and_lifts_a_missing_class():
    # each row predicts a different class just as confidently: the batch mean is uniform
    balanced = torch.tensor([[4.0, 0.0, 0.0], [0.0, 4.0, 0.0], [0.0, 0.0, 4.0]])
    assert class_balance_loss(balanced).item() == pytest.approx(0.0, abs=1e-6)
    assert class_balance_loss(balanced + 7.0).item() == pytest.approx(0.0, abs=1e-6)  # shift-free
    # class 2 is never predicted: the loss is positive and its gradient raises class 2's logits
    collapsed = torch.tensor([[4.0, 0.0, -3.0], [0.0, 4.0, -3.0]], requires_grad=True)
    loss = class_balance_loss(collapsed)
    assert loss.item() > 0.5
    loss.backward()
    assert bool((collapsed.grad[:, 2] < 0).all())  # descent raises the missing class
    # a few descent steps on the logits move the mean prediction towards uniform
    logits = collapsed.detach().clone().requires_grad_(True)
    opt = torch.optim.SGD([logits], lr=1.0)
    for _ in range(50):
        opt.zero_grad()
        class_balance_loss(logits).backward()
        opt.step()
    assert class_balance_loss(logits).item() < 0.01 < loss.item()


def test_class_balance_end_to_end_and_its_prior():
    d, g = LinearD(4, 3), RankOneG(3, 4)
    batch, step = make_step(d, g)
    reg = ClassBalance(weight=0.5)
    assert reg.player == "discriminator" and ClassBalance().weight == 0.3
    terms = reg(batch, step)
    p_bar = np_softmax(batch.real.logits.detach().numpy()).mean(0)
    assert terms["loss"].item() == pytest.approx(0.5 * np.sum(np.log((1 / 3) / p_bar)) / 3, rel=1e-5)
    terms["loss"].backward()
    assert all(gr is not None for gr in grads(d)) and all(gr is None for gr in grads(g))
    weighted = ClassBalance(prior=[2, 1, 1])  # normalised to (0.5, 0.25, 0.25)
    expected = sum(w * math.log(w / q) for w, q in zip((0.5, 0.25, 0.25), p_bar))
    assert weighted(batch, step)["loss_balance"].item() == pytest.approx(expected, rel=1e-5)
    with pytest.raises(SSGANError, match="one per class"):
        ClassBalance(prior=[0.5, 0.5])(batch, step)
    for bad in ([1.0, -1.0, 1.0], [0.0, 0.0, 0.0], [1.0]):
        with pytest.raises(SSGANError, match="ClassBalance.prior"):
            ClassBalance(prior=bad)


def test_pull_away_end_to_end_reaches_g():
    d, g = LinearD(4, 3), RankOneG(3, 4)
    z = torch.rand(6, 3)
    fake = d(g(z))  # the G step: gradient flows through D into G
    batch = GANBatch(real=fake, fake=fake, x_real=g(z), x_fake=g(z))
    reg = PullAway(weight=0.5)
    assert reg.player == "generator" and PullAway().weight == 0.8
    terms = reg(batch, StepContext(d, g, z[:0], z[:0, 0].long(), z[:0], z))
    f = fake.features.detach().numpy().astype(np.float64)
    f /= np.linalg.norm(f, axis=1, keepdims=True)
    c2 = (f @ f.T) ** 2
    expected = (c2.sum() - np.trace(c2)) / (6 * 5)
    assert terms["loss"].item() == pytest.approx(0.5 * expected, rel=1e-5)
    terms["loss"].backward()
    assert all(gr is not None for gr in grads(g))


def test_manifold_regularization_for_a_linear_d_is_eps_times_w_along_g():
    """G moves every image along one direction a (rank one), so the neighbour is
    G(z) +- eps * a/|a| and, for D linear, the penalty is eps * sum_k |(W a/|a|)_k| whatever the
    random latent directions."""
    d, g = LinearD(4, 3), RankOneG(3, 4)
    batch, step = make_step(d, g)
    reg = ManifoldRegularization(weight=0.01, eps=2.5, eta=0.7)
    terms = reg(batch, step)
    w = d.lin.weight.detach().numpy().astype(np.float64)
    a = g.a.detach().numpy().astype(np.float64)
    expected = 2.5 * np.abs(w @ (a / np.linalg.norm(a))).sum()
    assert terms["loss_manifold"].item() == pytest.approx(expected, rel=1e-5)
    assert terms["loss"].item() == pytest.approx(0.01 * expected, rel=1e-5)
    terms["loss"].backward()
    assert all(gr is not None for gr in grads(d))
    assert all(gr is None for gr in grads(g))  # G's outputs are taken without gradient


def test_manifold_regularization_is_zero_for_a_d_constant_in_its_input():
    d, g = ConstantD(3), RankOneG(3, 4)
    batch, step = make_step(d, g)
    terms = ManifoldRegularization()(batch, step)
    assert terms["loss"].item() == 0.0
    assert ManifoldRegularization().weight == 1e-3  # the published gamma, eps, eta
    assert (ManifoldRegularization().eps, ManifoldRegularization().eta) == (20.0, 1.0)
    with pytest.raises(SSGANError, match="eps"):
        ManifoldRegularization(eps=0)


def test_manifold_regularization_passes_the_classes_of_a_conditional_g():
    seen = {}

    class CondG(RankOneG):
        def forward(self, z, y=None):
            seen["y"] = y
            return super().forward(z)

    d, g = LinearD(4, 3), CondG(3, 4)
    batch, step = make_step(d, g)
    step.y_fake = torch.arange(5) % 3
    ManifoldRegularization()(batch, step)
    assert torch.equal(seen["y"], step.y_fake)


def test_consistency_pi_model_end_to_end():
    d, g = LinearD(4, 3), RankOneG(3, 4)
    flip = lambda x: x.flip(-1)  # noqa: E731  a deterministic stand-in for a fresh augmentation
    batch, step = make_step(d, g, augment=flip)
    terms = Consistency(weight=2.0)(batch, step)
    w, b = d.lin.weight.detach().numpy(), d.lin.bias.detach().numpy()
    x = step.x_unl.numpy().reshape(5, -1)
    x2 = step.x_unl.flip(-1).numpy().reshape(5, -1)
    expected = np.mean((np_softmax(x @ w.T + b) - np_softmax(x2 @ w.T + b)) ** 2)
    assert expected > 1e-6  # the views differ
    assert terms["loss"].item() == pytest.approx(2.0 * expected, rel=1e-5)
    terms["loss"].backward()
    assert all(gr is not None for gr in grads(d))
    # identical views (no augmentation, no noise) agree exactly
    batch, step = make_step(LinearD(4, 3), g)
    assert Consistency()(batch, step)["loss"].item() == 0.0


def test_consistency_cutout_erases_part_of_view_two_only():
    d, g = LinearD(4, 3), RankOneG(3, 4)
    batch, step = make_step(d, g)
    w, b = d.lin.weight.detach().numpy(), d.lin.bias.detach().numpy()
    x = step.x_unl.numpy().reshape(5, -1)

    def expected(x2):
        return np.mean((np_softmax(x @ w.T + b) - np_softmax(x2 @ w.T + b)) ** 2)

    # a square twice the image's side covers all of a 2x2 image: view 2 is blank
    assert Consistency(cutout=4)(batch, step)["loss"].item() == pytest.approx(
        expected(np.zeros_like(x)), rel=1e-5)
    # side 2 on 2x2 images: 1, 2 or 4 of the 4 pixels set to 0, the rest kept
    torch.manual_seed(3)
    value = Consistency(cutout=2)(batch, step)["loss"].item()
    torch.manual_seed(3)
    x2 = random_cutout(step.x_unl, 2).numpy().reshape(5, -1)
    assert ((x2 == 0) | (x2 == x)).all() and 0 < (x2 == 0).sum() < x2.size
    assert value == pytest.approx(expected(x2), rel=1e-5) and value > 1e-7
    with pytest.raises(SSGANError, match="cutout"):
        Consistency(cutout=-1)


def test_consistency_stop_gradient_keeps_the_value_and_drops_the_second_views_gradient():
    flip = lambda x: x.flip(-1)  # noqa: E731
    d, g = LinearD(4, 3), RankOneG(3, 4)
    batch, step = make_step(d, g, augment=flip)
    full = Consistency(weight=1.0)(batch, step)["loss"]
    fixed = Consistency(weight=1.0, stop_gradient=True)(batch, step)["loss"]
    assert fixed.item() == pytest.approx(full.item(), rel=1e-6)
    # the expected gradient, by hand: d/dW of mean (softmax(x W^T + b) - p2)^2 with p2 a constant
    w, b = d.lin.weight.detach().double(), d.lin.bias.detach().double()
    x = step.x_unl.reshape(5, -1).double()
    p2 = torch.softmax(step.x_unl.flip(-1).reshape(5, -1).double() @ w.T + b, 1)
    w_ = w.clone().requires_grad_(True)
    torch.mean((torch.softmax(x @ w_.T + b, 1) - p2) ** 2).backward()
    (g_fixed,) = torch.autograd.grad(fixed, d.lin.weight, retain_graph=True)
    (g_full,) = torch.autograd.grad(full, d.lin.weight)
    assert torch.allclose(g_fixed.double(), w_.grad, rtol=1e-4, atol=1e-8)
    assert not torch.allclose(g_fixed, g_full, rtol=1e-3, atol=1e-8)  # the option changes the step


def test_consistency_mean_teacher_takes_no_gradient_through_the_target():
    d, g, teacher = LinearD(4, 3), RankOneG(3, 4), LinearD(4, 3)
    batch, step = make_step(d, g, teacher=teacher)
    terms = Consistency(weight=1.0, teacher=True)(batch, step)
    w, b = teacher.lin.weight.detach().numpy(), teacher.lin.bias.detach().numpy()
    target = np_softmax(step.x_unl.numpy().reshape(5, -1) @ w.T + b)
    expected = np.mean((np_softmax(batch.real.logits.detach().numpy()) - target) ** 2)
    assert terms["loss"].item() == pytest.approx(expected, rel=1e-5)
    terms["loss"].backward()
    assert all(gr is not None for gr in grads(d))
    assert all(gr is None for gr in grads(teacher))


def test_consistency_teacher_without_ema_is_a_one_line_error():
    d, g = LinearD(4, 3), RankOneG(3, 4)
    batch, step = make_step(d, g)
    with pytest.raises(SSGANError, match="EMA") as err:
        Consistency(teacher=True)(batch, step)
    assert "\n" not in str(err.value)


def test_pseudo_label_loss_matches_numpy():
    target = [[4.0, 0.0, 0.0], [0.1, 0.0, 0.2], [0.0, 5.0, 1.0], [0.0, 0.0, 3.5]]
    q = np_softmax(target)
    log_p = np.log(np_softmax(LOGITS))
    for tau in (0.5, 0.9, 0.99):
        mask = q.max(1) >= tau
        expected = sum(-log_p[i, q[i].argmax()] for i in range(4) if mask[i]) / 4  # over the batch
        loss, used = pseudo_label_loss(torch.tensor(LOGITS), torch.tensor(target), tau)
        assert loss.item() == pytest.approx(expected, rel=1e-6, abs=1e-12)
        assert used.item() == pytest.approx(mask.mean())
    # rows 0, 2, 3 are confident at 0.9 (0.96, 0.96, 0.94), row 1 is not: 3 of 4 used
    assert pseudo_label_loss(torch.tensor(LOGITS), torch.tensor(target), 0.9)[1].item() == 0.75
    # above every confidence: no term at all
    assert pseudo_label_loss(torch.tensor(LOGITS), torch.tensor(target), 1.0)[0].item() == 0.0


def test_pseudo_label_targets_come_from_d_in_eval_mode_without_gradient():
    class NoisyD(LinearD):
        def forward(self, x):  # training-mode noise, as the MLP's Gaussian layers
            out = super().forward(x)
            return DOutput(out.logits + (5.0 if self.training else 0.0) * torch.randn_like(out.logits),
                           out.features)

    d, g = NoisyD(4, 3), RankOneG(3, 4)
    with torch.no_grad():
        d.lin.weight.mul_(20)  # confident targets
    batch, step = make_step(d, g)
    terms = PseudoLabel(weight=2.0, threshold=0.5)(batch, step)
    assert d.training  # put back after the target pass
    w, b = d.lin.weight.detach().numpy(), d.lin.bias.detach().numpy()
    q = np_softmax(step.x_unl.numpy().reshape(5, -1) @ w.T + b)  # the noiseless view
    log_p = np.log(np_softmax(batch.real.logits.detach().numpy()))
    expected = np.mean([-log_p[i, q[i].argmax()] * (q[i].max() >= 0.5) for i in range(5)])
    assert terms["loss"].item() == pytest.approx(2.0 * expected, rel=1e-5)
    terms["loss"].backward()
    assert all(gr is not None for gr in grads(d))
    with pytest.raises(SSGANError, match="threshold"):
        PseudoLabel(threshold=1.5)
    with pytest.raises(SSGANError, match="EMA"):
        PseudoLabel(teacher=True)(*make_step(LinearD(4, 3), g))


def test_negative_weight_is_rejected():
    for cls in (EntropyMinimization, PullAway, ManifoldRegularization, Consistency, PseudoLabel,
                InterpolationConsistency, VirtualAdversarial, LabeledAugmentation, ClassBalance):
        with pytest.raises(SSGANError, match="weight"):
            cls(weight=-1.0)


def test_chosen_by_name_on_the_command_line_with_their_defaults():
    """As LightningCLI will parse ``--model.regularizers+=Name``: each class is found by its
    name, takes its typed options, and keeps its own defaults otherwise."""
    from jsonargparse import ArgumentParser

    from ssgan.regularizers import Regularizer

    parser = ArgumentParser(exit_on_error=False)
    parser.add_argument("--regs", type=list[Regularizer], default=[])
    cfg = parser.parse_args(["--regs+=EntropyMinimization", "--regs+=ManifoldRegularization",
                             "--regs.eps", "5", "--regs+=Consistency", "--regs.teacher", "true",
                             "--regs+=PullAway", "--regs.weight", "0.5",
                             "--regs+=InterpolationConsistency", "--regs.weight", "10",
                             "--regs+=VirtualAdversarial", "--regs+=LabeledAugmentation",
                             "--regs+=Consistency", "--regs.translate", "2", "--regs.flip", "true",
                             "--regs+=ClassBalance", "--regs.prior", "[1, 3]"])
    instantiate = getattr(parser, "instantiate", None) or parser.instantiate_classes
    regs = instantiate(cfg).regs
    assert [type(r) for r in regs] == [EntropyMinimization, ManifoldRegularization, Consistency,
                                       PullAway, InterpolationConsistency, VirtualAdversarial,
                                       LabeledAugmentation, Consistency, ClassBalance]
    assert regs[8].weight == 0.3 and regs[8].prior.tolist() == [0.25, 0.75]
    assert (regs[6].weight, regs[6].translate, regs[6].flip) == (1.0, 2, False)
    assert (regs[7].translate, regs[7].flip, regs[2].translate, regs[2].flip) == (2, True, 0, False)
    assert (regs[4].weight, regs[4].alpha, regs[4].teacher) == (10.0, 1.0, False)
    assert (regs[5].weight, regs[5].eps, regs[5].xi) == (1.0, 2.0, 0.1)
    assert regs[0].weight == 0.1 and (regs[1].weight, regs[1].eps, regs[1].eta) == (1e-3, 5.0, 1.0)
    assert regs[2].teacher is True and regs[3].weight == 0.5
    assert [r.player for r in regs] == ["discriminator", "discriminator", "discriminator",
                                        "generator", "discriminator", "discriminator",
                                        "discriminator", "discriminator", "discriminator"]


# -- interpolation consistency (ICT) -----------------------------------------------------------

def test_mix_and_interpolation_consistency_loss_match_numpy():
    x = torch.tensor([[1.0, 2.0], [3.0, -1.0], [0.0, 4.0]])
    perm = torch.tensor([2, 0, 1])
    lam = 0.3
    expected_x = np.array([[0.3 * 1 + 0.7 * 0, 0.3 * 2 + 0.7 * 4], [0.3 * 3 + 0.7 * 1, 0.3 * -1 + 0.7 * 2],
                           [0.3 * 0 + 0.7 * 3, 0.3 * 4 + 0.7 * -1]])
    assert np.allclose(mix(x, perm, lam).numpy(), expected_x)
    target = np.array(LOGITS)
    mixed_logits = np.array([[0.5, 0.1, -0.3], [1.0, 2.0, 0.0], [0.0, 0.0, 0.0], [2.0, -1.0, 1.0]])
    perm4 = [3, 2, 0, 1]
    q = np_softmax(target)
    want = lam * q + (1 - lam) * q[perm4]
    expected = np.mean((np_softmax(mixed_logits) - want) ** 2)
    got = interpolation_consistency_loss(torch.tensor(mixed_logits, dtype=torch.float32),
                                         torch.tensor(target, dtype=torch.float32),
                                         torch.tensor(perm4), lam)
    assert got.item() == pytest.approx(expected, rel=1e-5)
    # lam = 1 and a prediction equal to the target: nothing to correct
    assert interpolation_consistency_loss(torch.tensor(LOGITS), torch.tensor(LOGITS),
                                          torch.tensor(perm4), 1.0).item() == pytest.approx(0.0, abs=1e-12)


def test_interpolation_consistency_end_to_end_with_targets_from_d_in_eval_mode():
    class NoisyD(LinearD):
        def forward(self, x):  # training-mode noise, as the MLP's Gaussian layers
            out = super().forward(x)
            shift = torch.tensor([2.0, 0.0, 0.0]) if self.training else 0.0
            return DOutput(out.logits + shift, out.features)

    d, g = NoisyD(4, 3), RankOneG(3, 4)
    with torch.no_grad():
        d.lin.weight.mul_(3)
    batch, step = make_step(d, g)
    torch.manual_seed(2)
    terms = InterpolationConsistency(weight=2.0, alpha=0.5)(batch, step)
    assert d.training
    torch.manual_seed(2)  # the same draws, in the term's order: lam, then the pairing
    lam = float(torch.distributions.Beta(0.5, 0.5).sample())
    perm = torch.randperm(5).numpy()
    w, b = d.lin.weight.detach().numpy(), d.lin.bias.detach().numpy()
    x = step.x_unl.numpy().reshape(5, -1)
    q = np_softmax(x @ w.T + b)  # eval mode: no noise in the target
    x_mix = lam * x + (1 - lam) * x[perm]
    p_mix = np_softmax(x_mix @ w.T + b + np.array([2.0, 0.0, 0.0]))  # training mode
    expected = np.mean((p_mix - (lam * q + (1 - lam) * q[perm])) ** 2)
    assert 0 < lam < 1 and expected > 1e-6
    assert terms["loss"].item() == pytest.approx(2.0 * expected, rel=1e-4)
    terms["loss"].backward()
    assert all(gr is not None for gr in grads(d))
    # a D that ignores its input predicts every mix exactly
    batch, step = make_step(ConstantD(3), g)
    assert InterpolationConsistency()(batch, step)["loss"].item() == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(SSGANError, match="alpha"):
        InterpolationConsistency(alpha=0)


def test_interpolation_consistency_teacher_takes_no_gradient():
    d, g, teacher = LinearD(4, 3), RankOneG(3, 4), LinearD(4, 3)
    batch, step = make_step(d, g, teacher=teacher)
    terms = InterpolationConsistency(teacher=True)(batch, step)
    terms["loss"].backward()
    assert all(gr is not None for gr in grads(d))
    assert all(gr is None for gr in grads(teacher))
    with pytest.raises(SSGANError, match="EMA"):
        InterpolationConsistency(teacher=True)(*make_step(LinearD(4, 3), g))


# -- virtual adversarial training (VAT) --------------------------------------------------------

def test_kl_divergence_matches_numpy_and_unit_rows():
    other = [[0.0, 1.0, 0.0], [1.0, 1.0, 1.0], [-2.0, 1.0, 2.0], [3.0, 0.2, 0.1]]
    p, q = np_softmax(LOGITS), np_softmax(other)
    expected = np.mean(np.sum(p * (np.log(p) - np.log(q)), 1))
    assert kl_divergence(torch.tensor(LOGITS), torch.tensor(other)).item() == pytest.approx(expected, rel=1e-5)
    assert kl_divergence(torch.tensor(LOGITS), torch.tensor(LOGITS)).item() == pytest.approx(0.0, abs=1e-7)
    x = torch.tensor([[[3.0, 4.0]], [[0.0, 0.0]], [[1.0, -1.0]]])
    u = unit_rows(x)
    assert torch.allclose(u.flatten(1).norm(dim=1), torch.tensor([1.0, 0.0, 1.0]))
    assert torch.allclose(u[0], torch.tensor([[0.6, 0.8]]))


def test_adversarial_direction_of_a_linear_d_is_the_normalised_kl_gradient():
    """For l = W x + b, grad_r KL(p || softmax(W (x + r) + b)) = W^T (q(r) - p) / B exactly."""
    d = LinearD(4, 3)
    torch.manual_seed(2)
    x, d0 = torch.rand(5, 1, 2, 2), torch.randn(5, 1, 2, 2)
    xi = 0.5
    w, b = d.lin.weight.detach().double().numpy(), d.lin.bias.detach().double().numpy()
    xn, dn = x.double().numpy().reshape(5, -1), d0.double().numpy().reshape(5, -1)
    p = np_softmax(xn @ w.T + b)
    r = xi * dn / np.linalg.norm(dn, axis=1, keepdims=True)
    q = np_softmax((xn + r) @ w.T + b)
    grad = (q - p) @ w
    expected = grad / np.linalg.norm(grad, axis=1, keepdims=True)
    got = adversarial_direction(lambda v: d(v).logits, x, d(x).logits, d0, xi)
    assert got.shape == x.shape
    assert np.allclose(got.numpy().reshape(5, -1), expected, atol=1e-4)
    assert all(gr is None for gr in grads(d))  # no parameter gradient from the power iteration


def test_virtual_adversarial_end_to_end():
    class NoisyD(LinearD):
        def forward(self, x):
            out = super().forward(x)
            return DOutput(out.logits + (torch.tensor([4.0, 0.0, 0.0]) if self.training else 0.0),
                           out.features)

    d, g = NoisyD(4, 3), RankOneG(3, 4)
    with torch.no_grad():
        d.lin.weight.mul_(4)
    batch, step = make_step(d, g)
    torch.manual_seed(5)
    terms = VirtualAdversarial(weight=3.0, eps=0.7, xi=0.2)(batch, step)
    assert d.training
    torch.manual_seed(5)
    d0 = torch.randn_like(step.x_unl).double().numpy().reshape(5, -1)
    w, b = d.lin.weight.detach().double().numpy(), d.lin.bias.detach().double().numpy()
    x = step.x_unl.double().numpy().reshape(5, -1)
    p = np_softmax(x @ w.T + b)  # the target: eval mode
    q = np_softmax((x + 0.2 * d0 / np.linalg.norm(d0, axis=1, keepdims=True)) @ w.T + b)
    grad = (q - p) @ w
    r = grad / np.linalg.norm(grad, axis=1, keepdims=True)
    q_adv = np_softmax((x + 0.7 * r) @ w.T + b + np.array([4.0, 0.0, 0.0]))  # training mode
    expected = np.mean(np.sum(p * (np.log(p) - np.log(q_adv)), 1))
    assert expected > 1e-4
    assert terms["loss"].item() == pytest.approx(3.0 * expected, rel=1e-4)
    terms["loss"].backward()
    assert all(gr is not None for gr in grads(d))
    # a D that ignores its input has nothing to smooth
    batch, step = make_step(ConstantD(3), g)
    assert VirtualAdversarial()(batch, step)["loss"].item() == pytest.approx(0.0, abs=1e-7)
    for bad in (dict(eps=0), dict(xi=-1)):
        with pytest.raises(SSGANError):
            VirtualAdversarial(**bad)


# -- augmentation of the consistency views and of the labeled batch ---------------------------

def np_shifts(img, s):
    """Every shift of a (H, W) image by (dy, dx) in [-s, s]^2 with reflect padding, by numpy."""
    h, w = img.shape
    pad = np.pad(img, s, mode="reflect")
    return [pad[s + dy:s + dy + h, s + dx:s + dx + w] for dy in range(-s, s + 1)
            for dx in range(-s, s + 1)]


def test_consistency_translate_and_flip_augment_only_the_second_view():
    """One image, so the term is one of the few values its own augmentation can give, each
    computed by numpy; over several draws more than one of them occurs."""
    d, g = LinearD(9, 3), RankOneG(3, 9)
    w, b = d.lin.weight.detach().double().numpy(), d.lin.bias.detach().double().numpy()
    x = torch.rand(1, 1, 3, 3)
    step = StepContext(discriminator=d, generator=g, x_lab=x, y_lab=torch.zeros(1, dtype=torch.long),
                       x_unl=x, z=torch.rand(1, 3))
    batch = GANBatch(real=d(x), fake=d(x), x_real=x, x_fake=x)
    p = lambda img: np_softmax(img.reshape(1, -1) @ w.T + b)  # noqa: E731
    img = x[0, 0].double().numpy()
    for reg, views in ((Consistency(translate=1), np_shifts(img, 1)),
                       (Consistency(flip=True), [img, img[:, ::-1]]),
                       (Consistency(translate=1, flip=True),
                        np_shifts(img, 1) + [v[:, ::-1] for v in np_shifts(img, 1)])):
        allowed = [np.mean((p(img) - p(v)) ** 2) for v in views]
        seen = set()
        for seed in range(12):
            torch.manual_seed(seed)
            got = reg(batch, step)["loss"].item()
            # float32 against float64: a small difference of probabilities loses digits
            match = [i for i, a in enumerate(allowed) if abs(got - a) <= 1e-4 * a + 1e-9]
            assert match, (got, allowed)
            seen.add(round(got, 9))
        assert len(seen) > 1
    assert torch.equal(batch.x_real, x)  # the GAN's view is left as it was
    with pytest.raises(SSGANError, match="translate"):
        Consistency(translate=-1)
    with pytest.raises(SSGANError, match="up to 3 pixels needs images larger than that; these "
                                         "are 3x3") as err:
        Consistency(translate=3)(batch, step)  # reflect padding needs a shift below the size
    assert "\n" not in str(err.value)


def test_labeled_augmentation_is_the_cross_entropy_of_an_augmented_labeled_image():
    d, g = LinearD(9, 3), RankOneG(3, 9)
    w, b = d.lin.weight.detach().double().numpy(), d.lin.bias.detach().double().numpy()
    x, y = torch.rand(1, 1, 3, 3), torch.tensor([2])
    step = StepContext(discriminator=d, generator=g, x_lab=x, y_lab=y, x_unl=x, z=torch.rand(1, 3))
    batch = GANBatch(real=d(x), fake=d(x), x_real=x, x_fake=x)
    ce = lambda img: -np.log(np_softmax(img.reshape(1, -1) @ w.T + b)[0, 2])  # noqa: E731
    img = x[0, 0].double().numpy()
    for reg, views in ((LabeledAugmentation(weight=2.0, translate=1), np_shifts(img, 1)),
                       (LabeledAugmentation(weight=2.0, translate=0, flip=True), [img, img[:, ::-1]])):
        allowed = [2.0 * ce(v) for v in views]
        seen = set()
        for seed in range(12):
            torch.manual_seed(seed)
            terms = reg(batch, step)
            got = terms["loss"].item()
            assert min(abs(got - a) for a in allowed) <= 1e-5 * got, (got, allowed)
            assert terms["loss_labeled_augmented"].item() == pytest.approx(got / 2.0, rel=1e-6)
            seen.add(round(got, 6))
        assert len(seen) > 1
    terms["loss"].backward()
    assert all(gr is not None for gr in grads(d))
    with pytest.raises(SSGANError, match="translate > 0 or flip"):
        LabeledAugmentation(translate=0)


def test_class_mean_readout_matches_numpy():
    """``readout class_mean``: per class the mean of the L2-normalised labeled features,
    normalised again, and logits ``scale * cos``, against numpy on hand-made features."""
    import numpy as np

    from ssgan.classifier import CLASS_MEAN_SCALE, class_mean_logits, class_means_of

    feats = torch.tensor([[3.0, 4.0, 0.0], [0.0, 2.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, -5.0]])
    labels = torch.tensor([0, 0, 1, 1])
    means = class_means_of(feats, labels, num_classes=3)
    f = feats.numpy() / np.linalg.norm(feats.numpy(), axis=1, keepdims=True)
    m0 = (f[0] + f[1]) / 2                   # (0.3, 0.9, 0)
    m1 = (f[2] + f[3]) / 2                   # (0.5, 0, -0.5)
    expected = np.stack([m0 / np.linalg.norm(m0), m1 / np.linalg.norm(m1), np.zeros(3)])
    assert np.allclose(means.numpy(), expected, atol=1e-6)  # class 2 has no labeled image: 0
    x = torch.tensor([[0.0, 1.0, 0.0], [2.0, 0.0, -2.0], [-1.0, 0.0, 0.0]])
    xn = x.numpy() / np.linalg.norm(x.numpy(), axis=1, keepdims=True)
    logits = class_mean_logits(x, means)
    assert np.allclose(logits.numpy(), CLASS_MEAN_SCALE * xn @ expected.T, atol=1e-5)
    assert logits.argmax(1).tolist() == [0, 1, 2]  # the third is nearer the empty class (cos 0)
    # scale-free in the features: a longer feature vector gives the same logits
    assert torch.allclose(class_mean_logits(7 * x, means), logits, atol=1e-5)


def test_prior_shift_solves_for_the_prior():
    from ssgan.classifier import prior_shift

    # identical rows: the shift must make that one row's softmax the prior itself
    same = torch.tensor([[2.0, 0.0], [2.0, 0.0]])
    assert torch.allclose(prior_shift(same), torch.tensor([-1.0, 1.0]), atol=1e-5)
    b = prior_shift(same, torch.tensor([3.0, 1.0]))  # normalised to (0.75, 0.25)
    assert torch.allclose(torch.softmax(same[0] + b, 0), torch.tensor([0.75, 0.25]), atol=1e-5)
    logits = torch.tensor(LOGITS)
    b = prior_shift(logits)
    assert torch.allclose(torch.softmax(logits + b, 1).mean(0), torch.full((3,), 1 / 3), atol=1e-5)
    assert abs(float(b.sum())) < 1e-5  # the free constant is fixed at mean 0
    assert torch.allclose(prior_shift(logits + 5.0), b, atol=1e-5)  # a common offset changes nothing
