"""Options that bring the training dynamics closer to the original code (issue 14, item 5):
Adam's epsilon, the init std of D's dense directions, the bias-corrected EMA and G's
data-dependent output init, each pinned against a formula written out here."""

import pytest
import torch
from torch import nn

from ssgan.ema import EMA
from ssgan.model import SSGAN
from ssgan.networks import MLP
from ssgan.steps import adam
from ssgan.supervised import Supervised


def _one_adam_step(eps: float, grad: float, lr: float = 0.1) -> float:
    p = nn.Parameter(torch.zeros(1))
    opt = adam([p], lr, (0.5, 0.999), eps)
    p.grad = torch.full((1,), grad)
    opt.step()
    return float(p.detach())


def test_adam_eps_is_added_to_the_root_of_v():
    # first step: m_hat = g, v_hat = g^2, so the update is lr * g / (|g| + eps)
    g, lr = 1e-4, 0.1
    assert _one_adam_step(1e-4, g, lr) == pytest.approx(-lr * g / (g + 1e-4), rel=1e-5)  # lr / 2
    assert _one_adam_step(1e-8, g, lr) == pytest.approx(-lr * g / (g + 1e-8), rel=1e-5)
    # the original divides by sqrt(v_hat + 1e-8): 1/sqrt(2) of lr here, between the two
    original = -lr * g / (g * g + 1e-8) ** 0.5
    assert _one_adam_step(1e-8, g, lr) < original < _one_adam_step(1e-4, g, lr)


@pytest.mark.parametrize("cls", [SSGAN, Supervised])
def test_modules_pass_adam_eps_to_every_optimizer(cls):
    opts = cls(adam_eps=1e-4).configure_optimizers()
    opts = opts if isinstance(opts, list) else [opts]
    assert [o.defaults["eps"] for o in opts] == [1e-4] * len(opts)
    default = cls().configure_optimizers()
    default = default if isinstance(default, list) else [default]
    assert [o.defaults["eps"] for o in default] == [1e-8] * len(default)  # torch's


def test_init_std_scales_the_directions_of_ds_dense_layers_only():
    shape = (1, 8, 8)
    torch.manual_seed(3)
    d05, g05 = MLP().build(shape, 10)
    torch.manual_seed(3)
    d10, g10 = MLP(init_std=0.1).build(shape, 10)
    for a, b in zip([*d05.hidden, d05.out], [*d10.hidden, d10.out]):
        # the same draws, twice the scale
        assert torch.allclose(b.v, 2 * a.v)
    big = torch.cat([layer.v.detach().flatten() for layer in d10.hidden])
    assert float(big.std()) == pytest.approx(0.1, rel=0.02)
    assert torch.equal(g05.out.v, g10.out.v)  # G is untouched


def test_ema_bias_correction_against_a_hand_computed_sequence():
    net = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        net.weight.fill_(7.0)  # the start is not part of the average: the shadow starts at 0
    ema = EMA(net, decay=0.5, bias_correction=True)
    # s_t = 0.5 s + 0.5 theta; estimate s_t / (1 - 0.5^t)
    #   theta 1: s = 0.5,   estimate 0.5 / 0.5     = 1
    #   theta 3: s = 1.75,  estimate 1.75 / 0.75   = 7/3
    #   theta 5: s = 3.375, estimate 3.375 / 0.875 = 27/7
    for value, expected in ((1.0, 1.0), (3.0, 7 / 3), (5.0, 27 / 7)):
        with torch.no_grad():
            net.weight.fill_(value)
        ema.update(net)
        assert float(ema.module.weight) == pytest.approx(expected, rel=1e-6)


def test_ema_bias_correction_survives_a_reload():
    net = nn.Linear(2, 2)
    ema = EMA(net, decay=0.9, bias_correction=True)
    ema.update(net)
    again = EMA(nn.Linear(2, 2), decay=0.9, bias_correction=True)
    again.load_state_dict(ema.state_dict())
    for e in (ema, again):
        e.update(net)
    assert torch.allclose(again.module.weight, ema.module.weight)
    # the estimate of a constant is the constant, at any t
    assert torch.allclose(ema.module.weight, net.weight)


def test_classifier_module_option_selects_the_bias_corrected_ema():
    assert SSGAN(ema_bias_correction=True).ema.bias_correction
    assert not SSGAN().ema.bias_correction


def test_generator_data_init_standardises_the_output_pre_activations():
    torch.manual_seed(0)
    _, g = MLP(g_data_init=True).build((1, 8, 8), 10)
    assert not bool(g.initialised)
    z = g.sample_latent(200)
    g.data_init(z)
    assert bool(g.initialised)
    with torch.no_grad():
        pre = g.out(g._hidden(z, None))  # the logits of the sigmoid
    assert torch.allclose(pre.mean(0), torch.zeros(64), atol=1e-5)
    assert torch.allclose(pre.std(0), torch.ones(64), atol=1e-3)
    # without the option G's state is unchanged (no flag to save)
    _, plain = MLP().build((1, 8, 8), 10)
    assert "initialised" not in plain.state_dict() and not plain.wants_data_init
