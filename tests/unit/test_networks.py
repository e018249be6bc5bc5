"""The networks: the layers (weight norm and its data-dependent init, minibatch
discrimination, virtual batch norm), the feature layer, and the network components with their
presets."""

import math

import pytest
import torch

from ssgan.errors import SSGANError
from ssgan.model import SSGAN
from ssgan.networks import (MLP, Auto, Conv, ConvDiscriminator, ConvGenerator, DOutput,
                            MinibatchDiscrimination, MLPDiscriminator, MLPGenerator,
                            VirtualBatchNorm1d, WNLinear)
from ssgan.steps import discriminate


# -- minibatch discrimination ----------------------------------------------------------------

def test_minibatch_discrimination_matches_the_formula():
    torch.manual_seed(0)
    layer = MinibatchDiscrimination(3, num_kernels=4, kernel_dim=2)
    f = torch.randn(5, 3, dtype=torch.float64)
    layer.double()
    out = layer(f).detach()
    assert out.shape == (5, 3 + 4)
    assert torch.equal(out[:, :3], f)
    T = layer.T.detach().view(3, 4, 2)
    M = [[[sum(f[i, a] * T[a, b, c] for a in range(3)) for c in range(2)] for b in range(4)]
         for i in range(5)]
    for i in range(5):
        for b in range(4):
            o = sum(math.exp(-sum(abs(float(M[i][b][c] - M[j][b][c])) for c in range(2)))
                    for j in range(5)) / 5
            assert abs(float(out[i, 3 + b]) - o) < 1e-9


def test_minibatch_discrimination_couples_the_batch():
    torch.manual_seed(0)
    x = torch.rand(4, 64)
    y = x.clone()
    y[1] = torch.rand(64)
    for minibatch, coupled in [((8, 3), True), (None, False)]:
        d = MLPDiscriminator(64, 10, [32, 16], 0.3, 0.5, minibatch=minibatch).eval()
        d.data_init(torch.rand(20, 64))
        changed = not torch.allclose(d(x).logits[0], d(y).logits[0])
        assert changed == coupled == d.couples_batch
        assert d(x).logits.shape == (4, 10)
        assert d(x).features.shape == (4, 16)  # feature matching still sees the hidden layer


def test_minibatch_discrimination_keeps_groups_apart_in_the_training_step():
    torch.manual_seed(0)
    model = SSGAN(networks=MLP(d_hidden=[32, 16], minibatch_discrimination=True,
                               minibatch_kernels=4, minibatch_kernel_dim=2))
    model.discriminator.eval()
    a, b, c = torch.rand(3, 1, 8, 8), torch.rand(3, 1, 8, 8), torch.rand(3, 1, 8, 8)
    together = discriminate(model.discriminator, a, b, c)
    alone = model.discriminator(b)
    assert torch.allclose(together[1].logits, alone.logits)
    joint = model.discriminator(torch.cat([a, b, c])).logits[3:6]
    assert not torch.allclose(joint, alone.logits)  # the control: one batch would couple them
    with pytest.raises(SSGANError, match="minibatch_kernels"):
        MLP(minibatch_discrimination=True, minibatch_kernels=0)


# -- virtual batch norm ----------------------------------------------------------------------

def test_vbn_layer_matches_the_formula():
    ref = torch.tensor([[0.0], [2.0], [4.0]])  # mean 2, mean of squares 20/3
    x = torch.tensor([[8.0]])
    layer = VirtualBatchNorm1d(1, reference_size=3, eps=0.0)
    out = layer(torch.cat([ref, x]))
    mu, sq = (3 * 2 + 8) / 4, (20 + 64) / 4  # 3.5, 21
    assert float(out[3]) == pytest.approx((8 - mu) / math.sqrt(sq - mu ** 2))
    ref_var = 20 / 3 - 4
    assert torch.allclose(out[:3, 0], (ref[:, 0] - 2) / math.sqrt(ref_var))


@pytest.mark.parametrize("num_classes", [0, 10])
def test_vbn_output_does_not_depend_on_the_rest_of_the_batch(num_classes):
    torch.manual_seed(0)
    kw = dict(latent_dim=8, image_shape=(1, 4, 4), hidden=[16, 16], num_classes=num_classes)
    z = torch.rand(5, 8)
    z_other = torch.cat([z[:1], torch.rand(7, 8)])
    y = torch.randint(0, 10, (5,)) if num_classes else None
    y_other = torch.cat([y[:1], torch.randint(0, 10, (7,))]) if num_classes else None
    for vbn in (True, False):
        g = MLPGenerator(**kw, virtual_batchnorm=vbn, vbn_reference_size=6).train()
        same = torch.allclose(g(z, y)[0], g(z_other, y_other)[0], atol=1e-6)
        assert same == vbn  # plain batch norm (the control) does depend on the batch
    g = MLPGenerator(**kw, virtual_batchnorm=True, vbn_reference_size=6)
    assert torch.allclose(g.train()(z, y), g.eval()(z, y))  # no running statistics
    assert g(z[:1], y[:1] if num_classes else None).shape == (1, 1, 4, 4)


def test_vbn_reference_batch_is_kept_in_checkpoints():
    torch.manual_seed(0)
    a = SSGAN(networks=Auto(virtual_batchnorm=True))
    torch.manual_seed(1)
    b = SSGAN(networks=Auto(virtual_batchnorm=True))
    assert not torch.equal(a.generator.ref_z, b.generator.ref_z)
    b.load_state_dict(a.state_dict())
    assert torch.equal(a.generator.ref_z, b.generator.ref_z)
    z = torch.rand(3, a.generator.latent_dim)
    assert torch.allclose(a.generator(z), b.generator(z))


def test_minibatch_discrimination_gradient_matches_autograd_of_the_formula(monkeypatch):
    """The layer's hand-written backward against autograd of the plain broadcast formula,
    in one slice and in slices of 3 rows."""
    torch.manual_seed(0)
    layer = MinibatchDiscrimination(6, num_kernels=3, kernel_dim=2).double()
    f = torch.randn(10, 6, dtype=torch.float64)
    weights = torch.randn(10, 9, dtype=torch.float64)

    def naive(f):
        m = (f @ layer.T).view(10, 3, 2)
        l1 = (m.unsqueeze(1) - m.unsqueeze(0)).abs().sum(3)  # n x n x B
        return torch.cat([f, torch.exp(-l1).mean(1)], 1)

    expected = torch.autograd.grad((naive(f) * weights).sum(), layer.T)[0]
    for max_elements in (MinibatchDiscrimination.MAX_INTERMEDIATE, 3 * 3 * 10):
        monkeypatch.setattr(MinibatchDiscrimination, "MAX_INTERMEDIATE", max_elements)
        out = layer(f)
        assert torch.allclose(out, naive(f))
        got = torch.autograd.grad((out * weights).sum(), layer.T)[0]
        assert torch.allclose(got, expected)
    assert torch.autograd.gradcheck(layer, (f.clone().requires_grad_(),))


# -- weight norm, the feature layer ----------------------------------------------------------

def test_weight_norm_data_init_gives_zero_mean_unit_std_preactivations():
    torch.manual_seed(0)
    layer = WNLinear(3, 2, init_scale=2.0)
    x = torch.randn(50, 3, dtype=torch.float64) * 3 + 1
    layer.double()
    layer.init_from(x)
    # the formula of the original code, written out: t = x v^T / ||v||, g = s / std(t), b = -mean(t) g
    v = layer.v.detach()
    t = (x @ v.T) / v.norm(dim=1)
    g = 2.0 / (t.std(0) + 1e-6)
    assert torch.allclose(layer.g, g) and torch.allclose(layer.b, -t.mean(0) * g)
    out = layer(x).detach()
    assert torch.allclose(out.mean(0), torch.zeros(2, dtype=torch.float64), atol=1e-9)
    assert torch.allclose(out.std(0), torch.full((2,), 2.0, dtype=torch.float64), atol=1e-5)


@pytest.mark.parametrize("layer", [0, 1, -1])
def test_feature_layer_returns_that_layers_activations(layer):
    torch.manual_seed(0)
    d = MLPDiscriminator(6, 3, [5, 4, 7], 0.0, 0.0, feature_layer=layer).eval()
    x = torch.rand(2, 6)
    h, acts = x, []
    for wn in d.hidden:  # the ReLU output of each hidden layer, by hand
        h = torch.relu(wn(h))
        acts.append(h)
    out = d(x)
    assert torch.equal(out.features, acts[layer])
    assert d.feature_dim == acts[layer].shape[1]


# -- the network components -----------------------------------------------------------------

@pytest.mark.parametrize("shape,name", [((1, 8, 8), "mlp_digits"), ((1, 16, 16), "mlp_digits"),
                                        ((1, 28, 28), "mlp_mnist"), ((3, 32, 32), "conv_cifar"),
                                        ((1, 32, 32), "conv_cifar"), ((3, 8, 8), "mlp_digits")])
def test_auto_picks_the_preset_by_image_size(shape, name):
    assert Auto().name(shape) == name


def test_presets_and_overrides_reach_the_networks():
    d, g = MLP("mlp_mnist").build((1, 28, 28), 10)
    assert [layer.v.shape[0] for layer in d.hidden] == [1000, 500, 250, 250, 250]
    assert d.input_noise.sigma == 0.3 and d.noise.sigma == 0.5
    d, g = MLP("mlp_small", d_hidden=[7, 5], input_noise=0.0, latent_dim=3).build((1, 4, 4), 2)
    assert [layer.v.shape[0] for layer in d.hidden] == [7, 5] and d.input_noise.sigma == 0.0
    assert d.noise.sigma == 0.5 and g.latent_dim == 3  # the preset's, where not overridden
    d, _ = Conv("conv_svhn", dropout=0.25).build((3, 32, 32), 10)
    assert d.convs[0].v.shape[0] == 64 and d.dropout.p == 0.25 and d.input_dropout.p == 0.2


def test_components_refuse_what_they_cannot_build():
    with pytest.raises(SSGANError, match="virtual batch norm"):
        Auto(virtual_batchnorm=True).build((3, 32, 32), 10)
    with pytest.raises(SSGANError, match="at least 9x9"):
        Conv().build((1, 8, 8), 10)
    with pytest.raises(SSGANError, match="latent_dim"):
        MLP(latent_dim=0)


# -- the conv networks --------------------------------------------------------------------

SMALL = dict(d_widths=[8, 16], g_widths=[16, 8, 4])


@pytest.mark.parametrize("shape", [(3, 32, 32), (1, 32, 32), (3, 28, 28)])
def test_conv_networks_shapes_range_and_init(shape):
    torch.manual_seed(0)
    assert Auto().name(shape) == "conv_cifar"
    d, g = Conv(**SMALL).build(shape, 10, conditional=True)
    assert isinstance(d, ConvDiscriminator) and isinstance(g, ConvGenerator)
    y = torch.arange(4) % 10
    with torch.no_grad():
        x = g(g.sample_latent(4), y)
    assert x.shape == (4, *shape) and 0 <= float(x.min()) and float(x.max()) <= 1
    with pytest.raises(SSGANError, match="class-conditional"):
        g(g.sample_latent(4))
    d.data_init(torch.rand(32, *shape))
    assert bool(d.initialised)
    d.eval()
    with torch.no_grad():
        out = d(torch.rand(32, *shape))
    assert isinstance(out, DOutput) and out.logits.shape == (32, 10)
    assert out.features.shape == (32, d.feature_dim) == (32, 16)
    assert 0.02 < float(out.logits.std()) < 0.5  # output layer initialised to std ~0.1


def test_conv_presets_follow_the_paper_and_mlp_kept_for_small_gray():
    d, g = Conv("conv_cifar").build((3, 32, 32), 10)
    assert [c.v.shape[0] for c in d.convs] == [96] * 3 + [192] * 6 and d.feature_dim == 192
    assert d.input_dropout.p == 0.2 and d.dropout.p == 0.5
    assert g.fc.out_features == 4 * 4 * 512 and g.base == (4, 4)
    assert [m.out_channels for m in g.ups if isinstance(m, torch.nn.ConvTranspose2d)] == [256, 128]
    d, _ = Conv("conv_svhn").build((3, 32, 32), 10)
    assert d.feature_dim == 128 and d.convs[0].v.shape[0] == 64
    with pytest.raises(SSGANError, match="at least 9x9"):
        Conv("conv_cifar").build((3, 8, 8), 10)


def test_conv_networks_under_bf16_autocast_and_with_minibatch_discrimination():
    d, g = Conv(**SMALL).build((3, 32, 32), 10)
    d.data_init(torch.rand(16, 3, 32, 32))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = d(g(g.sample_latent(8)))
        out.logits.float().logsumexp(1).mean().backward()
    assert out.features.dtype == torch.float32  # batch means for feature matching stay fp32
    assert torch.isfinite(out.logits.float()).all() and d.convs[0].v.grad is not None
    d, _ = Conv(**SMALL, minibatch_discrimination=True, minibatch_kernels=4,
                minibatch_kernel_dim=3).build((3, 32, 32), 10)
    assert d.couples_batch and d.feature_dim == 16
    d.data_init(torch.rand(16, 3, 32, 32))
    assert d(torch.rand(5, 3, 32, 32)).logits.shape == (5, 10)
