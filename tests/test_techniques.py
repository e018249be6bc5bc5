"""The Improved-GAN techniques: minibatch discrimination, historical averaging, virtual batch
norm (label smoothing is pinned in test_objectives.py), and real training runs with each."""

import math

import pytest
import torch

from conftest import logged_metrics
from torch import nn

from ssgan.cli import run_training
from ssgan.errors import SSGANError
from ssgan.evaluation import load_checkpoint
from ssgan.model import SSGAN
from ssgan.networks import MLPDiscriminator, MLPGenerator
from ssgan.techniques import HistoricalAveraging, MinibatchDiscrimination, VirtualBatchNorm1d


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
        d = MLPDiscriminator(64, 10, [32, 16], minibatch=minibatch).eval()
        d.data_init(torch.rand(20, 64))
        changed = not torch.allclose(d(x).logits[0], d(y).logits[0])
        assert changed == coupled == d.couples_batch
        assert d(x).logits.shape == (4, 10)
        assert d(x).features.shape == (4, 16)  # feature matching still sees the hidden layer


def test_minibatch_discrimination_keeps_groups_apart_in_the_training_step():
    torch.manual_seed(0)
    model = SSGAN(minibatch_discrimination=True, mbd_b=4, mbd_c=2, d_hidden=[32, 16])
    model.discriminator.eval()
    a, b, c = torch.rand(3, 1, 8, 8), torch.rand(3, 1, 8, 8), torch.rand(3, 1, 8, 8)
    together = model._discriminate(a, b, c)
    alone = model.discriminator(b)
    assert torch.allclose(together[1].logits, alone.logits)
    with pytest.raises(SSGANError, match="mbd_b"):
        SSGAN(minibatch_discrimination=True, mbd_b=0)


# -- historical averaging --------------------------------------------------------------------

def test_historical_averaging_penalty():
    p = nn.Parameter(torch.tensor([1.0, 2.0]))
    q = nn.Parameter(torch.tensor([3.0]))
    frozen = nn.Parameter(torch.tensor([7.0]), requires_grad=False)
    ha = HistoricalAveraging([p, q, frozen], weight=0.5)
    assert float(ha.penalty()) == 0.0  # first step: no history
    ha.record()  # history: (1, 2), (3)
    with torch.no_grad():
        p.copy_(torch.tensor([3.0, 5.0]))
        q.copy_(torch.tensor([1.0]))
    # 0.5 * ((3-1)^2 + (5-2)^2 + (1-3)^2)
    pen = ha.penalty()
    assert float(pen) == pytest.approx(0.5 * (4 + 9 + 4))
    ha.record()  # history mean: (2, 3.5), (2)
    pen.backward()  # recording after the penalty must not break its backward
    assert torch.allclose(p.grad, torch.tensor([2.0, 3.0]))  # 0.5 * 2 * (theta - old mean)
    with torch.no_grad():
        p.zero_()
        q.zero_()
    assert float(ha.penalty()) == pytest.approx(0.5 * (4 + 3.5 ** 2 + 4))


def test_historical_averaging_state_survives_a_state_dict_round_trip():
    p = nn.Parameter(torch.tensor([1.0]))
    ha = HistoricalAveraging([p], weight=1.0)
    ha.record()
    p2 = nn.Parameter(torch.tensor([4.0]))
    ha2 = HistoricalAveraging([p2], weight=1.0)
    ha2.load_state_dict(ha.state_dict())
    assert float(ha2.penalty()) == pytest.approx(9.0)


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
    a = SSGAN(virtual_batchnorm=True)
    torch.manual_seed(1)
    b = SSGAN(virtual_batchnorm=True)
    assert not torch.equal(a.generator.ref_z, b.generator.ref_z)
    b.load_state_dict(a.state_dict())
    assert torch.equal(a.generator.ref_z, b.generator.ref_z)
    z = torch.rand(3, a.hparams.latent_dim)
    assert torch.allclose(a.generator(z), b.generator(z))


# -- real training runs ----------------------------------------------------------------------





RUNS = {
    "minibatch_discrimination": ["--model.minibatch_discrimination", "true",
                                 "--model.mbd_b", "16", "--model.mbd_c", "3"],
    "historical_averaging": ["--model.historical_averaging", "0.01"],
    "label_smoothing": ["--model.label_smoothing", "0.9"],
    "virtual_batchnorm": ["--model.virtual_batchnorm", "true"],
    "all_with_contragan": ["--model.objective", "contragan", "--model.virtual_batchnorm", "true",
                           "--model.minibatch_discrimination", "true", "--model.mbd_b", "16",
                           "--model.historical_averaging", "0.01", "--model.label_smoothing", "0.9"],
}


@pytest.mark.parametrize("run", list(RUNS))
def test_technique_trains_on_digits_and_checkpoint_loads(run, quiet_trainer_args):
    metrics, run_dir = run_training(quiet_trainer_args + RUNS[run] + [
        "--model.network", "mlp_small", "--model.d_hidden", "[64, 32]", "--model.g_hidden", "[64]",
        "--trainer.max_steps", "6", "--data.eval_batch_size", "500"])
    logged = logged_metrics(run_dir)
    for key in ("loss_d", "loss_g", "loss_lab", "d_real", "d_fake"):
        assert math.isfinite(logged[f"train/{key}"]), key
    if "--model.historical_averaging" in RUNS[run]:
        assert logged["train/ha_d"] > 0 and logged["train/ha_g"] > 0
    assert math.isfinite(metrics["test/error"])
    model, ckpt = load_checkpoint(run_dir / "checkpoints" / "last.ckpt")
    if model.hparams.virtual_batchnorm:
        assert torch.equal(model.generator.ref_z, ckpt["state_dict"]["generator.ref_z"])
    if model.hparams.historical_averaging:
        assert int(model.d_history.count) == 3  # one record per training step
    if model.hparams.minibatch_discrimination:
        assert model.discriminator.couples_batch and model.ema.module.couples_batch
    images, _ = model.sample(2)
    assert torch.isfinite(images).all()


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
