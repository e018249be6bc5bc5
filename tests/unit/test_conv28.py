"""The CPU-sized convolutional networks for 28x28 grayscale (ssgan/networks/conv28.py)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from conftest import supervised_loss_before_after
from ssgan.networks.conv28 import Conv28Discriminator, Conv28Generator, FastDropout, build_conv28
from ssgan.errors import SSGANError
from ssgan.networks import DOutput


def test_shapes_and_ranges():
    torch.manual_seed(0)
    d, g = build_conv28((1, 28, 28), 10)
    x = g(g.sample_latent(6))
    assert x.shape == (6, 1, 28, 28) and 0 <= x.min() and x.max() <= 1
    out = d(x)
    assert isinstance(out, DOutput)
    assert out.logits.shape == (6, 10) and out.features.shape == (6, d.feature_dim) == (6, 128)
    # other sizes and channels: G crops to the image, D pools over whatever is left
    d, g = build_conv28((3, 18, 22), 4, conditional=True,
                        d_widths=[8, 16, 24], g_widths=[16, 8])
    x = g(g.sample_latent(5), torch.arange(5) % 4)
    assert x.shape == (5, 3, 18, 22)
    assert d(x).logits.shape == (5, 4) and d(x).features.shape == (5, 24)
    with pytest.raises(SSGANError, match="class-conditional"):
        g(g.sample_latent(2))


@pytest.mark.parametrize("layer", [-1, 0, 1])
def test_features_are_the_spatial_mean_of_the_chosen_layer(layer):
    torch.manual_seed(1)
    d = Conv28Discriminator(1, 10, feature_layer=layer).eval()
    seen = {}
    d.convs[layer].register_forward_hook(lambda m, i, o: seen.setdefault("pre", o))
    x = torch.rand(4, 1, 28, 28)
    feats = d(x).features
    expected = F.leaky_relu(seen["pre"], 0.2).mean((2, 3))
    torch.testing.assert_close(feats, expected)
    assert feats.shape[1] == d.feature_dim == d.convs[layer].v.shape[0]
    if layer == -1:  # the global-pool output feeds the classifier
        torch.testing.assert_close(d.out(feats), d(x).logits)


def test_data_dependent_init_normalises_each_layer():
    torch.manual_seed(2)
    d = Conv28Discriminator(1, 10).eval()  # eval: no input noise, so the init batch is exact
    x = torch.rand(200, 1, 28, 28)
    d.data_init(x)
    assert bool(d.initialised)
    pre = []
    for conv in d.convs:
        conv.register_forward_hook(lambda m, i, o: pre.append(o))
    logits = d(x).logits
    for t in pre:
        per_channel = t.transpose(0, 1).flatten(1)
        torch.testing.assert_close(per_channel.mean(1), torch.zeros(len(per_channel)), atol=1e-4, rtol=0)
        torch.testing.assert_close(per_channel.std(1), torch.ones(len(per_channel)), atol=1e-3, rtol=0)
    torch.testing.assert_close(logits.std(0), torch.full((10,), 0.1), atol=1e-3, rtol=0)


def test_noise_and_dropout_only_in_training():
    torch.manual_seed(3)
    d = Conv28Discriminator(1, 10)
    x = torch.rand(3, 1, 28, 28)
    assert not torch.equal(d(x).logits, d(x).logits)
    d.eval()
    assert torch.equal(d(x).logits, d(x).logits)
    drop = FastDropout(0.25)
    h = torch.ones(200_000)
    y = drop(h)
    kept = (y != 0).float().mean().item()
    assert kept == pytest.approx(0.75, abs=0.01) and y.max().item() == pytest.approx(1 / 0.75)
    assert torch.equal(drop.eval()(h), h)


def test_a_few_steps_reduce_the_supervised_loss():
    torch.manual_seed(4)
    d = Conv28Discriminator(1, 10)
    x = torch.rand(20, 1, 28, 28)
    y = torch.arange(20) % 10
    d.data_init(x)
    before, after = supervised_loss_before_after(d, x, y, 30)
    assert after < 0.5 * before


def test_bad_sizes_are_one_line_errors():
    with pytest.raises(SSGANError, match="at least 8x8"):
        build_conv28((1, 6, 6), 10)
    with pytest.raises(SSGANError, match="three widths"):
        Conv28Discriminator(1, 10, widths=[32, 64])
    with pytest.raises(SSGANError, match="two widths"):
        Conv28Generator(100, (1, 28, 28), widths=[64])
    with pytest.raises(SSGANError, match="dropout"):
        Conv28Discriminator(1, 10, dropout=1.0)
    with pytest.raises(SSGANError, match="feature_layer"):
        Conv28Discriminator(1, 10, feature_layer=3)
