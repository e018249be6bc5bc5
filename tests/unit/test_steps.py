"""The shared training step (ssgan.steps), the EMA formula and the Fréchet distance, pinned
against formulas written out here."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ssgan.ema import EMA
from ssgan.model import SSGAN
from ssgan.networks import DOutput, MLP
from ssgan.regularizers import Regularizer
from ssgan.sample_quality import ClassifierFeatures, frechet_distance
from ssgan.steps import gan_step, supervised_step


class Frozen(torch.optim.SGD):
    """lr 0: the step runs, the weights stay, so both losses can be recomputed after it."""

    def __init__(self, params):
        super().__init__(params, lr=0.0)


def tiny_model(**kw) -> SSGAN:
    torch.manual_seed(0)
    model = SSGAN(networks=MLP("mlp_small", d_hidden=[6, 5], g_hidden=[4], latent_dim=3,
                               input_noise=0.0, hidden_noise=0.0),
                  image_shape=(1, 2, 2), num_classes=3, ema=False, **kw)
    return model.eval()  # G's batch norm uses its running statistics: deterministic


def batch(seed=1):
    g = torch.Generator().manual_seed(seed)
    x_lab, x_unl, x_unl2 = (torch.rand(4, 1, 2, 2, generator=g) for _ in range(3))
    return x_lab, torch.tensor([0, 1, 2, 1]), x_unl, x_unl2


def softplus(v):
    return math.log1p(math.exp(v))


def test_d_step_is_l_lab_plus_w_l_unl_and_g_step_uses_the_second_unlabeled_batch():
    w = 0.7
    model = tiny_model(unlabeled_weight=w)
    d, g = model.discriminator, model.generator
    x_lab, y_lab, x_unl, x_unl2 = batch()
    torch.manual_seed(5)
    logs, _ = gan_step(model.parts, (x_lab, y_lab, x_unl, x_unl2), Frozen(d.parameters()),
                       Frozen(g.parameters()))
    torch.manual_seed(5)  # the same draws: z of the D step, then z of the G step
    z_d, z_g = torch.rand(4, 3), torch.rand(4, 3)
    with torch.no_grad():
        lab, unl, fake = d(x_lab), d(x_unl), d(g(z_d))
        # L_lab: cross-entropy written out; L_unl of Salimans et al. with D(x) = sigmoid(lse(l))
        l_lab = sum(-lab.logits[i, y].item() + torch.logsumexp(lab.logits[i], 0).item()
                    for i, y in enumerate(y_lab.tolist())) / 4
        s_unl = torch.logsumexp(unl.logits, 1).tolist()
        s_fake = torch.logsumexp(fake.logits, 1).tolist()
        l_unl = 0.5 * sum(softplus(-s) for s in s_unl) / 4 + 0.5 * sum(softplus(s) for s in s_fake) / 4
        f_real, f_fake = d(x_unl2).features, d(g(z_g)).features
        fm = ((f_real.mean(0) - f_fake.mean(0)) ** 2).mean().item()
        fm_first_batch = ((d(x_unl).features.mean(0) - f_fake.mean(0)) ** 2).mean().item()
    assert float(logs["train/loss_lab"]) == pytest.approx(l_lab, rel=1e-5)
    assert float(logs["train/loss_unl"]) == pytest.approx(l_unl, rel=1e-5)
    assert float(logs["train/loss_d"]) == pytest.approx(l_lab + w * l_unl, rel=1e-5)
    assert float(logs["train/loss_g"]) == pytest.approx(fm, rel=1e-5)
    assert fm != pytest.approx(fm_first_batch, rel=1e-3)  # the batches are told apart
    err = sum(int(lab.logits[i].argmax() != y) for i, y in enumerate(y_lab.tolist())) / 4
    assert float(logs["train/err_lab"]) == pytest.approx(err)


class Constant(Regularizer):
    """A term worth ``weight`` that records what the step gave it."""

    player = "generator"

    def __init__(self, weight: float = 1.0):
        super().__init__(weight)
        self.seen = []

    def forward(self, batch, step):
        self.seen.append(step)
        return {"loss": torch.tensor(self.weight), "constant": torch.tensor(self.weight)}


def test_a_regularizer_joins_only_its_players_loss_and_sees_the_step():
    plain, with_term = tiny_model(), tiny_model(regularizers=[Constant(weight=0.25)])
    logs = []
    for model in (plain, with_term):
        torch.manual_seed(5)
        d, g = model.discriminator, model.generator
        logs.append(gan_step(model.parts, batch(), Frozen(d.parameters()), Frozen(g.parameters()))[0])
    assert float(logs[1]["train/loss_g"]) == pytest.approx(float(logs[0]["train/loss_g"]) + 0.25)
    assert float(logs[1]["train/loss_d"]) == pytest.approx(float(logs[0]["train/loss_d"]))
    assert float(logs[1]["train/constant"]) == 0.25
    (step,) = with_term.regularizers[0].seen
    assert step.player == "generator" and step.discriminator is with_term.discriminator
    assert torch.equal(step.x_unl, batch()[3]) and step.z.shape == (4, 3)
    assert step.teacher is None and torch.equal(step.augment(step.x_lab), step.x_lab)


def test_supervised_step_is_the_cross_entropy_of_the_labeled_batch():
    net = nn.Linear(4, 3)
    net.forward_orig = net.forward
    net.forward = lambda x: DOutput(net.forward_orig(x.flatten(1)), x)
    x, y = torch.rand(5, 1, 2, 2), torch.tensor([0, 1, 2, 0, 1])
    expected = F.cross_entropy(net(x).logits, y).item()
    logs = supervised_step(net, x, y, torch.optim.SGD(net.parameters(), lr=0.1))
    assert float(logs["train/loss_lab"]) == pytest.approx(expected)


def test_ema_formula():
    net = nn.Linear(1, 1, bias=False)
    net.register_buffer("count", torch.tensor(3))
    with torch.no_grad():
        net.weight.fill_(1.0)
    ema = EMA(net, decay=0.2)
    avg, values = 1.0, [3.0, 5.0, -1.0]
    for t, v in enumerate(values):
        with torch.no_grad():
            net.weight.fill_(v)
        net.count.fill_(10 + t)
        ema.update(net)
        beta = min(0.2, (1 + t) / (10 + t))  # 0.1, 0.18.., then the nominal 0.2
        avg = beta * avg + (1 - beta) * v
        assert float(ema.module.weight) == pytest.approx(avg)
    assert int(ema.module.count) == 3  # integer buffers are not averaged
    assert int(ema.num_updates) == 3 and not ema.module.training


class Identity2(nn.Module):
    """Images (N, 1, 1, 2) -> their two pixels as features."""

    num_features = 2

    def __init__(self):
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return x.flatten(1).double()


def test_frechet_distance_of_two_known_gaussians():
    # A: the 4 corners of the square: mean 0, covariance (n - 1 normalised) 4/3 I.
    # B = 2 A + (3, 0): mean (3, 0), covariance 16/3 I. Closed form:
    # |mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2)) = 9 + 2 (4/3 + 16/3 - 16/3) = 9 + 8/3
    a = torch.tensor([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]]).view(4, 1, 1, 2)
    b = 2 * a + torch.tensor([3.0, 0.0]).view(1, 1, 1, 2)
    assert frechet_distance(Identity2(), a, b) == pytest.approx(9 + 8 / 3, rel=1e-4)
    assert frechet_distance(Identity2(), a, a) == pytest.approx(0.0, abs=1e-4)


def test_classifier_features_are_the_discriminators_feature_layer():
    model = tiny_model()
    x = torch.rand(3, 1, 2, 2)
    assert torch.equal(ClassifierFeatures(model.discriminator)(x), model.discriminator(x).features)
