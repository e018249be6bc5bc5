"""Objectives: losses pinned on hand-made tensors, the registry, and real training runs.

The hand-made discriminator outputs use K = 2 class logits chosen so that
``Z = sum_k exp(l_k)`` is a simple number, hence ``D(x) = Z / (Z + 1)`` is a simple fraction:

    real:  Z = 1 (D = 1/2),  Z = 3 (D = 3/4)
    fake:  Z = 1/3 (D = 1/4), Z = 1 (D = 1/2)
"""

import inspect
import math

import pytest
import torch

from conftest import logged_metrics
from torch import nn

from ssgan.cli import run_training
from ssgan.errors import SSGANError
from ssgan.evaluation import load_checkpoint
from ssgan.model import SSGAN
from ssgan.networks import DOutput
from ssgan.objectives import (OBJECTIVES, GANBatch, build_objective, contrastive_2c_loss,
                              objective_class)

LN2, LN3 = math.log(2), math.log(3)
REAL_LOGITS = torch.tensor([[math.log(0.5), math.log(0.5)], [0.0, LN2]])
FAKE_LOGITS = torch.tensor([[math.log(1 / 6), math.log(1 / 6)], [math.log(0.5), math.log(0.5)]])
D_REAL, D_FAKE = [1 / 2, 3 / 4], [1 / 4, 1 / 2]
S_REAL, S_FAKE = [0.0, LN3], [-LN3, 0.0]  # the real/fake logits lse(l) = ln Z
F_REAL = torch.tensor([[1.0, 2.0], [3.0, 4.0]])  # batch mean (2, 3)
F_FAKE = torch.tensor([[0.0, 0.0], [2.0, 2.0]])  # batch mean (1, 1)
COMMON = dict(num_classes=2, feature_dim=2, image_shape=(1, 1, 2))


def defaults() -> dict:
    """The model's option defaults: the one place they are defined."""
    return {k: p.default for k, p in inspect.signature(SSGAN.__init__).parameters.items()
            if p.default is not inspect.Parameter.empty}


def make(name: str, **overrides):
    cls = objective_class(name)
    opts = {k: defaults()[k] for k in cls.options}
    opts.update(overrides)
    return build_objective(name, **COMMON, **opts)


def batch(**kw) -> GANBatch:
    x_real = kw.pop("x_real", torch.zeros(2, 1, 1, 2))
    x_fake = kw.pop("x_fake", torch.zeros(2, 1, 1, 2))
    return GANBatch(DOutput(REAL_LOGITS, F_REAL), DOutput(FAKE_LOGITS, F_FAKE), x_real, x_fake, **kw)


def mean(values):
    return sum(values) / len(values)


def close(t, expected, tol=1e-6):
    return abs(float(torch.as_tensor(t).detach()) - expected) < tol


# -- the cross-entropy family ----------------------------------------------------------------

def test_hand_made_logits_have_the_intended_d():
    d = lambda l: torch.sigmoid(torch.logsumexp(l, 1))
    assert torch.allclose(d(REAL_LOGITS), torch.tensor(D_REAL))
    assert torch.allclose(d(FAKE_LOGITS), torch.tensor(D_FAKE))


@pytest.mark.parametrize("name", ["feature_matching", "minimax", "nonsaturating"])
def test_cross_entropy_discriminator_loss(name):
    # 0.5 * mean(-ln D(x)) + 0.5 * mean(-ln(1 - D(G(z)))) = 0.25 (ln 2 + ln 4/3) * 2
    terms = make(name).discriminator_loss(batch())
    assert close(terms["loss"], 0.5 * math.log(8 / 3))
    assert close(terms["d_real"], 5 / 8) and close(terms["d_fake"], 3 / 8)


def test_label_smoothing_changes_only_the_real_target():
    t = 0.9
    real = mean([t * -math.log(d) + (1 - t) * -math.log(1 - d) for d in D_REAL])
    fake = mean([-math.log(1 - d) for d in D_FAKE])
    for name in ("feature_matching", "minimax", "nonsaturating", "contragan"):
        obj = make(name, label_smoothing=t)
        if name == "contragan":
            obj.weight = 0.0  # the 2C part is pinned separately
            b = batch(labeled=DOutput(REAL_LOGITS, F_REAL), y_lab=torch.tensor([0, 1]))
        else:
            b = batch()
        assert close(obj.discriminator_loss(b)["loss"], 0.5 * real + 0.5 * fake), name


def test_label_smoothing_range_is_checked():
    with pytest.raises(SSGANError, match="label_smoothing"):
        make("feature_matching", label_smoothing=0.0)


def test_generator_losses_of_the_cross_entropy_family():
    b = batch()
    assert close(make("minimax").generator_loss(b)["loss"], mean([math.log(1 - d) for d in D_FAKE]))
    assert close(make("minimax").generator_loss(b)["loss"], -0.5 * math.log(8 / 3))
    assert close(make("nonsaturating").generator_loss(b)["loss"], 1.5 * LN2)
    # feature matching: mean((2,3) - (1,1))^2 = (1 + 4) / 2; L1: (1 + 2) / 2
    assert close(make("feature_matching").generator_loss(b)["loss"], 2.5)
    fm1 = make("feature_matching", feature_matching_p=1)
    assert close(fm1.generator_loss(b)["loss"], 1.5)


# -- LSGAN -----------------------------------------------------------------------------------

@pytest.mark.parametrize("abc", [(0.0, 1.0, 1.0), (-1.0, 1.0, 0.0)])
def test_lsgan_on_the_logit(abc):
    a, b_, c = abc
    obj = make("lsgan", lsgan_a=a, lsgan_b=b_, lsgan_c=c, lsgan_output="logit")
    d = obj.discriminator_loss(batch())
    real = 0.5 * mean([(s - b_) ** 2 for s in S_REAL])
    fake = 0.5 * mean([(s - a) ** 2 for s in S_FAKE])
    assert close(d["loss"], real + fake)
    assert close(d["loss_ls_real"], real) and close(d["loss_ls_fake"], fake)
    assert close(obj.generator_loss(batch())["loss"], 0.5 * mean([(s - c) ** 2 for s in S_FAKE]))


def test_lsgan_on_the_probability_pinned_fractions():
    obj = make("lsgan", lsgan_output="probability")  # (0, 1, 1)
    # D: 0.5 * ((1/2)^2 + (1/4)^2)/2 + 0.5 * ((1/4)^2 + (1/2)^2)/2 = 5/32;  G: 0.5 * (9/16 + 1/4)/2
    assert close(obj.discriminator_loss(batch())["loss"], 5 / 32)
    assert close(obj.generator_loss(batch())["loss"], 13 / 64)
    obj = make("lsgan", lsgan_a=-1.0, lsgan_b=1.0, lsgan_c=0.0, lsgan_output="probability")
    # D: 5/64 + 0.5 * ((5/4)^2 + (3/2)^2)/2 = 66/64;  G: 0.5 * ((1/4)^2 + (1/2)^2)/2 = 5/64
    assert close(obj.discriminator_loss(batch())["loss"], 66 / 64)
    assert close(obj.generator_loss(batch())["loss"], 5 / 64)


@pytest.mark.parametrize("abc,target", [((0.0, 1.0, 1.0), 0.9), ((-1.0, 1.0, 0.0), 0.8)])
def test_lsgan_label_smoothing_moves_b_towards_a(abc, target):
    a, b_, c = abc
    obj = make("lsgan", lsgan_a=a, lsgan_b=b_, lsgan_c=c, label_smoothing=0.9)
    assert close(obj.discriminator_loss(batch())["loss_ls_real"],
                 0.5 * mean([(s - target) ** 2 for s in S_REAL]))


def test_lsgan_rejects_equal_targets_and_unknown_output():
    with pytest.raises(SSGANError, match="lsgan_a"):
        make("lsgan", lsgan_a=1.0, lsgan_b=1.0)
    with pytest.raises(SSGANError, match="logit, probability"):
        make("lsgan", lsgan_output="sigmoid")


# -- BEGAN -----------------------------------------------------------------------------------

def began_with_constant_decoder(recon, **kw):
    """A BEGAN objective whose decoder outputs ``recon`` whatever the features."""
    obj = make("began", **kw)
    last = obj.decoder[-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.copy_(torch.tensor(recon))
    return obj


def test_began_losses_pinned():
    obj = began_with_constant_decoder([0.5, 0.25], began_gamma=0.5)
    x_real = torch.tensor([[0.0, 1.0], [1.0, 0.0]]).view(2, 1, 1, 2)  # |x - r| = .5,.75,.5,.25
    x_fake = torch.tensor([[0.5, 0.25], [0.5, 0.75]]).view(2, 1, 1, 2)  # 0, 0, 0, .5
    l_real, l_fake = 0.5, 0.125
    obj.k.fill_(0.25)
    d = obj.discriminator_loss(batch(x_real=x_real, x_fake=x_fake))
    assert close(d["began_l_real"], l_real) and close(d["began_l_fake"], l_fake)
    assert close(d["loss"], l_real - 0.25 * l_fake)
    assert close(d["began_k"], 0.25)
    assert close(d["began_m_global"], l_real + abs(0.5 * l_real - l_fake))  # 0.625
    assert close(obj.generator_loss(batch(x_real=x_real, x_fake=x_fake))["loss"], l_fake)


def test_began_k_update_and_clamps():
    obj = make("began", began_gamma=0.5, began_lambda_k=0.1)
    t = lambda v: torch.tensor(v)
    obj.k.fill_(0.5)
    obj.after_discriminator_step({"began_l_real": t(1.0), "began_l_fake": t(0.2)})
    assert close(obj.k, 0.5 + 0.1 * (0.5 * 1.0 - 0.2))  # 0.53
    obj.k.fill_(0.01)  # 0.01 + 0.1 * (0 - 1) < 0
    obj.after_discriminator_step({"began_l_real": t(0.0), "began_l_fake": t(1.0)})
    assert float(obj.k) == 0.0
    obj.k.fill_(0.99)  # 0.99 + 0.1 * (0.5 * 2 - 0) > 1
    obj.after_discriminator_step({"began_l_real": t(2.0), "began_l_fake": t(0.0)})
    assert float(obj.k) == 1.0


def test_began_logged_k_is_the_value_the_step_used():
    obj = began_with_constant_decoder([0.0, 0.0], began_lambda_k=1.0)
    terms = obj.discriminator_loss(batch(x_real=torch.ones(2, 1, 1, 2)))
    obj.after_discriminator_step(terms)
    assert float(terms["began_k"]) == 0.0 and float(obj.k) > 0.0
    assert [p for p in obj.discriminator_parameters()] == list(obj.decoder.parameters())


# -- ContraGAN -------------------------------------------------------------------------------

def naive_2c(e, p, y, temperature):
    """REFERENCE.md's formula, one sample at a time, in plain Python floats."""
    e = torch.nn.functional.normalize(e, dim=1).tolist()
    p = torch.nn.functional.normalize(p, dim=1).tolist()
    y = y.tolist()
    dot = lambda u, v: sum(a * b for a, b in zip(u, v))
    losses = []
    for i in range(len(e)):
        pos = math.exp(dot(e[i], p[i]) / temperature)
        same = sum(math.exp(dot(e[i], e[j]) / temperature)
                   for j in range(len(e)) if j != i and y[j] == y[i])
        every = sum(math.exp(dot(e[i], e[j]) / temperature) for j in range(len(e)) if j != i)
        losses.append(-math.log((pos + same) / (pos + every)))
    return sum(losses) / len(losses)


@pytest.mark.parametrize("temperature", [0.1, 0.5, 1.0])
def test_2c_loss_matches_a_naive_loop(temperature):
    g = torch.Generator().manual_seed(0)
    e = torch.randn(7, 5, generator=g, dtype=torch.float64)
    y = torch.tensor([0, 1, 0, 2, 1, 0, 3])  # class 2 and class 3 have one example each
    proxies = torch.randn(4, 5, generator=g, dtype=torch.float64)[y]
    got = contrastive_2c_loss(e, proxies, y, temperature)
    assert abs(float(got) - naive_2c(e, proxies, y, temperature)) < 1e-9


def test_2c_loss_hand_value():
    # two orthogonal embeddings of different classes, each equal to its proxy, T = 1:
    # loss_i = -log(e / (e + exp(0))) = log(1 + 1/e)
    e = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    got = contrastive_2c_loss(e, e.clone(), torch.tensor([0, 1]), 1.0)
    assert close(got, math.log(1 + math.exp(-1)))


def contragan_with_identity_projection(**kw):
    obj = make("contragan", contrastive_embed_dim=2, **kw)
    with torch.no_grad():
        obj.projection.weight.copy_(torch.eye(2))
        obj.projection.bias.zero_()
        obj.proxies.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
    return obj


def test_contragan_losses_pinned():
    obj = contragan_with_identity_projection(contrastive_temperature=0.5, contrastive_weight=2.0)
    proxies = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    y_lab, y_fake = torch.tensor([0, 1]), torch.tensor([1, 1])
    b = batch(labeled=DOutput(REAL_LOGITS, F_REAL), y_lab=y_lab, y_fake=y_fake)
    d = obj.discriminator_loss(b)
    two_c_real = naive_2c(F_REAL, proxies[y_lab], y_lab, 0.5)
    assert close(d["loss_2c_real"], two_c_real)
    assert close(d["loss"], 0.5 * math.log(8 / 3) + 2.0 * two_c_real)
    g = obj.generator_loss(b)
    two_c_fake = naive_2c(F_FAKE, proxies[y_fake], y_fake, 0.5)
    assert close(g["loss_2c_fake"], two_c_fake)
    assert close(g["loss"], 1.5 * LN2 + 2.0 * two_c_fake)
    assert objective_class("contragan").conditional


def test_contragan_pseudo_labels_add_the_unlabeled_batch():
    obj = contragan_with_identity_projection(contrastive_pseudo_labels=True)
    b = batch(labeled=DOutput(REAL_LOGITS, F_REAL), y_lab=torch.tensor([0, 1]))
    # arg-max classes of REAL_LOGITS: row 0 ties -> 0, row 1 -> 1
    feats, y = torch.cat([F_REAL, F_REAL]), torch.tensor([0, 1, 0, 1])
    expected = naive_2c(feats, torch.eye(2)[y], y, defaults()["contrastive_temperature"])
    assert close(obj.discriminator_loss(b)["loss_2c_real"], expected)


# -- registry and options --------------------------------------------------------------------

def test_registry_and_options():
    assert set(OBJECTIVES) >= {"feature_matching", "minimax", "nonsaturating", "lsgan", "began",
                               "contragan"}
    params = inspect.signature(SSGAN.__init__).parameters
    for cls in OBJECTIVES.values():
        assert set(cls.options) <= set(params), cls  # every option is a typed model option
    with pytest.raises(SSGANError, match="unknown objective 'wgan'; choose one of: began, contragan"):
        SSGAN(objective="wgan")
    with pytest.raises(SSGANError, match="began"):
        SSGAN(generator_objective="began", discriminator_objective="lsgan")
    with pytest.raises(SSGANError, match="label_smoothing"):
        SSGAN(objective="began", label_smoothing=0.9)


def test_model_passes_options_and_combines_objectives():
    model = SSGAN(generator_objective="feature_matching", discriminator_objective="lsgan",
                  lsgan_a=-1.0, lsgan_c=0.0, label_smoothing=0.9)
    assert type(model.g_objective).name == "feature_matching"
    assert type(model.d_objective).name == "lsgan"
    assert (model.d_objective.a, model.d_objective.b, model.d_objective.c) == (-1.0, 0.8, 0.0)
    model = SSGAN(objective="contragan")
    assert model.generator.embed is not None  # class-conditional G
    opt_d, opt_g = model.configure_optimizers()
    d_ids = {id(p) for group in opt_d.param_groups for p in group["params"]}
    assert id(model.d_objective.projection.weight) in d_ids
    assert id(model.d_objective.proxies.weight) in d_ids


# -- real training runs ----------------------------------------------------------------------





RUNS = {
    "feature_matching": [],
    "minimax": [],
    "nonsaturating": [],
    "lsgan": [],
    "lsgan_pearson": ["--model.lsgan_a", "-1", "--model.lsgan_b", "1", "--model.lsgan_c", "0"],
    "began": [],
    "contragan": ["--model.contrastive_pseudo_labels", "true"],
}
EXPECTED_KEYS = {
    "feature_matching": ["loss_unl", "loss_fm", "d_real", "d_fake"],
    "minimax": ["loss_unl", "loss_g_minimax", "d_real", "d_fake"],
    "nonsaturating": ["loss_unl", "loss_g_ns", "d_real", "d_fake"],
    "lsgan": ["loss_ls_real", "loss_ls_fake", "loss_ls_g", "d_real", "d_fake"],
    "began": ["began_k", "began_m_global", "began_l_real", "began_l_fake", "loss_began_g",
              "d_real", "d_fake"],
    "contragan": ["loss_unl", "loss_2c_real", "loss_2c_fake", "loss_g_adv", "d_real", "d_fake"],
}


@pytest.mark.parametrize("run", list(RUNS))
def test_objective_trains_on_digits_and_checkpoint_loads(run, quiet_trainer_args):
    name = "lsgan" if run.startswith("lsgan") else run
    metrics, run_dir = run_training(quiet_trainer_args + [
        "--model.objective", name, *RUNS[run], "--model.network", "mlp_small",
        "--model.d_hidden", "[64, 32]", "--model.g_hidden", "[64]",
        "--trainer.max_steps", "6", "--data.eval_batch_size", "500"])
    logged = logged_metrics(run_dir)
    for key in ["loss_d", "loss_g", "loss_lab"] + EXPECTED_KEYS[name]:
        assert math.isfinite(logged[f"train/{key}"]), key
    assert math.isfinite(metrics["test/error"])
    model, _ = load_checkpoint(run_dir / "checkpoints" / "last.ckpt")
    assert type(model.d_objective).name == name
    if name == "began":
        assert 0.0 <= float(model.d_objective.k) <= 1.0
    images, _ = model.sample(3)
    assert images.shape == (3, 1, 8, 8) and torch.isfinite(images).all()
