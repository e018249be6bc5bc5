"""The conv-stem discriminator with the MLP's dense layers (ssgan/networks/conv_mlp.py)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from conftest import supervised_loss_before_after
from ssgan.errors import SSGANError
from ssgan.networks import ConvMLP, ConvMLPDiscriminator, DOutput


def _wn(v, g):
    """w = g v / ||v||, the norm over every dimension but the first (output units)."""
    norm = v.flatten(1).norm(dim=1).view(-1, *[1] * (v.dim() - 1))
    return v * g.view_as(norm) / norm


def test_forward_is_the_stated_network():
    """Eval mode (no noise): conv3x3/2 + ReLU per stem layer, flatten, dense ReLU layers, output,
    computed here from the raw parameters."""
    torch.manual_seed(0)
    d = ConvMLPDiscriminator((1, 28, 28), 10, [4, 6], [12, 8], 0.3, 0.5, 0.5, feature_layer=0)
    d.data_init(torch.rand(50, 1, 28, 28))
    d.eval()
    x = torch.rand(5, 1, 28, 28)
    h = x
    for conv in d.convs:
        h = F.relu(F.conv2d(h, _wn(conv.v, conv.g), conv.b, stride=2, padding=1))
    assert h.shape == (5, 6, 7, 7)
    h = h.flatten(1)
    feats = None
    for i, layer in enumerate(d.hidden):
        h = F.relu(h @ _wn(layer.v, layer.g).T + layer.b)
        feats = h if i == 0 else feats
    logits = h @ _wn(d.out.v, d.out.g).T + d.out.b
    out = d(x)
    assert isinstance(out, DOutput)
    torch.testing.assert_close(out.logits, logits)
    torch.testing.assert_close(out.features, feats)
    assert d.feature_dim == 12


def test_shapes_odd_sizes_and_generator():
    torch.manual_seed(1)
    d, g = ConvMLP(conv_widths=[3, 5, 7], d_hidden=[9]).build((2, 13, 9), 4)
    x = g(g.sample_latent(3))
    assert x.shape == (3, 2, 13, 9) and 0 <= x.min() and x.max() <= 1
    assert d.hidden[0].v.shape[1] == 7 * 2 * 2  # 13 -> 7 -> 4 -> 2, 9 -> 5 -> 3 -> 2
    assert d(x).logits.shape == (3, 4) and d(x).features.shape == (3, 9)
    _, g = ConvMLP().build((1, 28, 28), 10, conditional=True)
    assert g(g.sample_latent(4), torch.arange(4)).shape == (4, 1, 28, 28)


def test_data_dependent_init_normalises_each_layer():
    torch.manual_seed(2)
    d = ConvMLPDiscriminator((1, 28, 28), 10, [8, 16], [40, 20], 0.0, 0.0, 0.0)
    x = torch.rand(300, 1, 28, 28)
    d.data_init(x)
    assert bool(d.initialised)
    pre = []
    for layer in [*d.convs, *d.hidden, d.out]:
        layer.register_forward_hook(lambda m, i, o: pre.append(o))
    d(x)
    for t in pre:
        units = t.transpose(0, 1).flatten(1)  # per channel (conv) or per unit (dense)
        torch.testing.assert_close(units.mean(1), torch.zeros(len(units)), atol=1e-4, rtol=0)
        torch.testing.assert_close(units.std(1), torch.ones(len(units)), atol=1e-3, rtol=0)


def test_noise_only_in_training_and_where_asked():
    torch.manual_seed(3)
    x = torch.rand(3, 1, 28, 28)
    d = ConvMLPDiscriminator((1, 28, 28), 10, [4], [8], 0.0, 0.5, 0.0)
    assert not torch.equal(d(x).logits, d(x).logits)  # the conv noise alone
    d.eval()
    assert torch.equal(d(x).logits, d(x).logits)
    quiet = ConvMLPDiscriminator((1, 28, 28), 10, [4], [8], 0.0, 0.0, 0.0)
    assert torch.equal(quiet(x).logits, quiet(x).logits)


def test_a_few_steps_reduce_the_supervised_loss():
    torch.manual_seed(4)
    d, _ = ConvMLP(conv_widths=[8, 16], d_hidden=[64, 32]).build((1, 28, 28), 10)
    x, y = torch.rand(20, 1, 28, 28), torch.arange(20) % 10
    d.data_init(x)
    before, after = supervised_loss_before_after(d, x, y, 40)
    assert after < 0.5 * before


def test_bad_options_are_one_line_errors():
    with pytest.raises(SSGANError, match="conv_widths"):
        ConvMLP(conv_widths=[])
    with pytest.raises(SSGANError, match="conv_noise"):
        ConvMLP(conv_noise=-1.0)
    with pytest.raises(SSGANError, match="minibatch"):
        ConvMLP(minibatch_discrimination=True)
    with pytest.raises(SSGANError, match="feature_layer"):
        ConvMLP(feature_layer=3).build((1, 28, 28), 10)
    with pytest.raises(SSGANError, match="cosine_head"):
        ConvMLP(cosine_head=-1.0)


def test_cosine_head_is_scale_times_the_cosine_and_learns():
    from ssgan.networks.layers import CosineLinear

    head = CosineLinear(2, 3, scale=10.0)
    with torch.no_grad():
        head.v.copy_(torch.tensor([[1.0, 0.0], [0.0, 2.0], [-3.0, 0.0]]))
    x = torch.tensor([[3.0, 4.0], [0.0, -0.5]])
    # cos(x, v_k) by hand: (3, 4)/5 against the unit directions (1, 0), (0, 1), (-1, 0)
    expected = 10.0 * torch.tensor([[0.6, 0.8, -0.6], [0.0, -1.0, 0.0]])
    assert torch.allclose(head(x), expected, atol=1e-6)
    assert torch.allclose(head(7.0 * x), expected, atol=1e-5)  # the input's length is ignored
    d, _ = ConvMLP(conv_widths=[8, 16], d_hidden=[64, 32], cosine_head=5.0).build((1, 28, 28), 10)
    assert isinstance(d.out, CosineLinear)
    torch.manual_seed(4)
    x, y = torch.rand(20, 1, 28, 28), torch.arange(20) % 10
    d.data_init(x)
    assert d(x).logits.abs().max() <= 5.0 + 1e-5
    before, after = supervised_loss_before_after(d, x, y, 40)
    assert after < 0.7 * before
