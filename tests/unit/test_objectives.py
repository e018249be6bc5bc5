"""Objectives: losses pinned on hand-made tensors, their options and the model's wiring.

The hand-made discriminator outputs use K = 2 class logits chosen so that
``Z = sum_k exp(l_k)`` is a simple number, hence ``D(x) = Z / (Z + 1)`` is a simple fraction:

    real:  Z = 1 (D = 1/2),  Z = 3 (D = 3/4)
    fake:  Z = 1/3 (D = 1/4), Z = 1 (D = 1/2)
"""

import math

import pytest
import torch

from ssgan.errors import SSGANError
from ssgan.model import SSGAN
from ssgan.networks import DOutput
from ssgan.objectives import (BEGAN, LSGAN, OBJECTIVES, ContraGAN, FeatureMatching, GANBatch,
                              Minimax, NonSaturating, contrastive_2c_loss, objective_class)

LN2, LN3 = math.log(2), math.log(3)
REAL_LOGITS = torch.tensor([[math.log(0.5), math.log(0.5)], [0.0, LN2]])
FAKE_LOGITS = torch.tensor([[math.log(1 / 6), math.log(1 / 6)], [math.log(0.5), math.log(0.5)]])
D_REAL, D_FAKE = [1 / 2, 3 / 4], [1 / 4, 1 / 2]
S_REAL, S_FAKE = [0.0, LN3], [-LN3, 0.0]  # the real/fake logits lse(l) = ln Z
F_REAL = torch.tensor([[1.0, 2.0], [3.0, 4.0]])  # batch mean (2, 3)
F_FAKE = torch.tensor([[0.0, 0.0], [2.0, 2.0]])  # batch mean (1, 1)
# the labeled batch: other logits and features than the unlabeled one, so that an objective
# reading the wrong batch gives another value
LAB_LOGITS = torch.tensor([[LN3, 0.0], [0.0, 0.0]])
F_LAB = torch.tensor([[0.0, 1.0], [1.0, 1.0]])
SIZES = dict(num_classes=2, feature_dim=2, image_shape=(1, 1, 2))
NAMES = {"feature_matching": FeatureMatching, "minimax": Minimax, "nonsaturating": NonSaturating,
         "lsgan": LSGAN, "began": BEGAN, "contragan": ContraGAN}


def make(name: str, **options):
    """The objective with its own defaults and ``options``, set up for 2 classes and
    2 features."""
    return NAMES[name](**options).setup(**SIZES)


def batch(**kw) -> GANBatch:
    x_real = kw.pop("x_real", torch.zeros(2, 1, 1, 2))
    x_fake = kw.pop("x_fake", torch.zeros(2, 1, 1, 2))
    return GANBatch(DOutput(REAL_LOGITS, F_REAL), DOutput(FAKE_LOGITS, F_FAKE), x_real, x_fake, **kw)


def mean(values):
    return sum(values) / len(values)


def close(t, expected, tol=1e-6):
    return abs(float(torch.as_tensor(t).detach()) - expected) < tol


# -- the cross-entropy family ----------------------------------------------------------------

@pytest.mark.parametrize("name", ["feature_matching", "minimax", "nonsaturating"])
def test_cross_entropy_discriminator_loss(name):
    # 0.5 * mean(-ln D(x)) + 0.5 * mean(-ln(1 - D(G(z)))) = 0.25 (ln 2 + ln 4/3) * 2
    terms = make(name).discriminator_loss(batch())
    assert close(terms["loss"], 0.5 * math.log(8 / 3))
    assert close(terms["d_real"], 5 / 8) and close(terms["d_fake"], 3 / 8)


def test_label_smoothing_changes_only_the_real_target():
    t = 0.9  # label_smoothing 0.1
    real = mean([t * -math.log(d) + (1 - t) * -math.log(1 - d) for d in D_REAL])
    fake = mean([-math.log(1 - d) for d in D_FAKE])
    for name in ("feature_matching", "minimax", "nonsaturating", "contragan"):
        obj = make(name, label_smoothing=0.1)
        if name == "contragan":
            obj.weight = 0.0  # the 2C part is pinned separately
            b = batch(labeled=DOutput(LAB_LOGITS, F_LAB), y_lab=torch.tensor([0, 1]))
        else:
            b = batch()
        assert close(obj.discriminator_loss(b)["loss"], 0.5 * real + 0.5 * fake), name


@pytest.mark.parametrize("value", [-0.1, 1.0])
def test_label_smoothing_range_is_checked(value):
    with pytest.raises(SSGANError, match="label_smoothing"):
        make("feature_matching", label_smoothing=value)


def test_generator_losses_of_the_cross_entropy_family():
    b = batch()
    assert close(make("minimax").generator_loss(b)["loss"], mean([math.log(1 - d) for d in D_FAKE]))
    assert close(make("nonsaturating").generator_loss(b)["loss"], 1.5 * LN2)
    # feature matching: mean((2,3) - (1,1))^2 = (1 + 4) / 2; L1: (1 + 2) / 2
    assert close(make("feature_matching").generator_loss(b)["loss"], 2.5)
    fm1 = make("feature_matching", p=1)
    assert close(fm1.generator_loss(b)["loss"], 1.5)


# -- LSGAN -----------------------------------------------------------------------------------

@pytest.mark.parametrize("abc", [(0.0, 1.0, 1.0), (-1.0, 1.0, 0.0)])
def test_lsgan_on_the_logit(abc):
    a, b_, c = abc
    obj = make("lsgan", a=a, b=b_, c=c, output="logit")
    d = obj.discriminator_loss(batch())
    real = 0.5 * mean([(s - b_) ** 2 for s in S_REAL])
    fake = 0.5 * mean([(s - a) ** 2 for s in S_FAKE])
    assert close(d["loss"], real + fake)
    assert close(d["loss_ls_real"], real) and close(d["loss_ls_fake"], fake)
    assert close(obj.generator_loss(batch())["loss"], 0.5 * mean([(s - c) ** 2 for s in S_FAKE]))


def test_lsgan_on_the_probability_pinned_fractions():
    obj = make("lsgan", output="probability")  # (0, 1, 1)
    # D: 0.5 * ((1/2)^2 + (1/4)^2)/2 + 0.5 * ((1/4)^2 + (1/2)^2)/2 = 5/32;  G: 0.5 * (9/16 + 1/4)/2
    assert close(obj.discriminator_loss(batch())["loss"], 5 / 32)
    assert close(obj.generator_loss(batch())["loss"], 13 / 64)
    obj = make("lsgan", a=-1.0, b=1.0, c=0.0, output="probability")
    # D: 5/64 + 0.5 * ((5/4)^2 + (3/2)^2)/2 = 66/64;  G: 0.5 * ((1/4)^2 + (1/2)^2)/2 = 5/64
    assert close(obj.discriminator_loss(batch())["loss"], 66 / 64)
    assert close(obj.generator_loss(batch())["loss"], 5 / 64)


@pytest.mark.parametrize("abc,target", [((0.0, 1.0, 1.0), 0.9), ((-1.0, 1.0, 0.0), 0.8)])
def test_lsgan_label_smoothing_moves_b_towards_a(abc, target):
    a, b_, c = abc
    obj = make("lsgan", a=a, b=b_, c=c, label_smoothing=0.1)
    assert close(obj.discriminator_loss(batch())["loss_ls_real"],
                 0.5 * mean([(s - target) ** 2 for s in S_REAL]))


def test_lsgan_rejects_equal_targets_and_unknown_output():
    with pytest.raises(SSGANError, match="objective.a"):
        make("lsgan", a=1.0, b=1.0)
    with pytest.raises(SSGANError, match="logit, probability"):
        make("lsgan", output="sigmoid")


# -- BEGAN -----------------------------------------------------------------------------------

def began_with_linear_decoder(scale, **kw):
    """A BEGAN objective whose decoder is ``Dec(f) = scale * f`` (ReLU passes the positive
    features unchanged), so that each image's reconstruction depends on its own features."""
    obj = make("began", **kw)
    first, last = obj.decoder[0], obj.decoder[-1]
    with torch.no_grad():
        first.weight.zero_()
        first.weight[:2, :2] = torch.eye(2)
        first.bias.zero_()
        last.weight.zero_()
        last.weight[:2, :2] = scale * torch.eye(2)
        last.bias.zero_()
    return obj


def test_began_losses_pinned():
    # Dec(f) = f / 4: real features (1, 2), (3, 4) -> (.25, .5), (.75, 1);
    # fake features (0, 0), (2, 2) -> (0, 0), (.5, .5)
    obj = began_with_linear_decoder(0.25, gamma=0.5)
    x_real = torch.tensor([[0.0, 1.0], [1.0, 1.0]]).view(2, 1, 1, 2)  # |x - r| = .25,.5,.25,0
    x_fake = torch.tensor([[0.5, 0.25], [0.5, 0.75]]).view(2, 1, 1, 2)  # .5, .25, 0, .25
    l_real, l_fake = 0.25, 0.25
    obj.k.fill_(0.25)
    d = obj.discriminator_loss(batch(x_real=x_real, x_fake=x_fake))
    assert close(d["began_l_real"], l_real) and close(d["began_l_fake"], l_fake)
    assert close(d["loss"], l_real - 0.25 * l_fake)
    assert close(d["began_k"], 0.25)
    assert close(d["began_m_global"], l_real + abs(0.5 * l_real - l_fake))  # 0.375
    # swapping the features of the two batches (the wrong encoder input) changes the energies
    swapped = GANBatch(DOutput(FAKE_LOGITS, F_FAKE), DOutput(REAL_LOGITS, F_REAL), x_real, x_fake)
    assert close(obj.discriminator_loss(swapped)["began_l_real"], 0.5)  # |x - (0,0),(.5,.5)|
    assert close(obj.generator_loss(batch(x_real=x_real, x_fake=x_fake))["loss"], l_fake)


def test_began_k_update_and_clamps():
    obj = make("began", gamma=0.5, lambda_k=0.1)
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
    obj = began_with_linear_decoder(0.0, lambda_k=1.0)
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
    obj = make("contragan", embed_dim=2, **kw)
    with torch.no_grad():
        obj.projection.weight.copy_(torch.eye(2))
        obj.projection.bias.zero_()
        obj.proxies.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
    return obj


def test_contragan_losses_pinned():
    obj = contragan_with_identity_projection(temperature=0.5, weight=2.0)
    proxies = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    y_lab, y_fake = torch.tensor([0, 1]), torch.tensor([1, 1])
    # the labeled batch differs from the unlabeled one: 2C must use the labeled features,
    # L_unl the unlabeled and generated logits
    b = batch(labeled=DOutput(LAB_LOGITS, F_LAB), y_lab=y_lab, y_fake=y_fake)
    d = obj.discriminator_loss(b)
    two_c_real = naive_2c(F_LAB, proxies[y_lab], y_lab, 0.5)
    assert not close(two_c_real, naive_2c(F_REAL, proxies[y_lab], y_lab, 0.5))
    assert close(d["loss_2c_real"], two_c_real)
    assert close(d["loss"], 0.5 * math.log(8 / 3) + 2.0 * two_c_real)
    g = obj.generator_loss(b)
    two_c_fake = naive_2c(F_FAKE, proxies[y_fake], y_fake, 0.5)
    assert close(g["loss_2c_fake"], two_c_fake)
    assert close(g["loss"], 1.5 * LN2 + 2.0 * two_c_fake)
    assert ContraGAN.conditional and not FeatureMatching.conditional


def test_contragan_pseudo_labels_add_the_unlabeled_batch():
    obj = contragan_with_identity_projection(pseudo_labels=True, temperature=0.5)
    b = batch(labeled=DOutput(LAB_LOGITS, F_LAB), y_lab=torch.tensor([0, 1]))
    # arg-max classes of the unlabeled REAL_LOGITS: row 0 ties -> 0, row 1 -> 1
    feats, y = torch.cat([F_LAB, F_REAL]), torch.tensor([0, 1, 0, 1])
    expected = naive_2c(feats, torch.eye(2)[y], y, 0.5)
    assert close(obj.discriminator_loss(b)["loss_2c_real"], expected)


# -- names and the model's wiring -----------------------------------------------------------

def test_objective_names_ignore_case_and_underscores():
    assert objective_class("feature_matching") is FeatureMatching
    assert objective_class("LSGAN") is objective_class("lsgan") is LSGAN
    assert set(OBJECTIVES) == {"FeatureMatching", "Minimax", "NonSaturating", "LSGAN", "BEGAN",
                               "ContraGAN"}
    with pytest.raises(SSGANError, match="unknown objective 'wgan'; choose one of: BEGAN"):
        objective_class("wgan")


def test_a_generator_objective_with_own_heads_needs_its_discriminator():
    with pytest.raises(SSGANError, match="BEGAN"):
        SSGAN(generator_objective=BEGAN(), discriminator_objective=LSGAN())


def test_model_sets_up_separate_objectives():
    model = SSGAN(generator_objective=FeatureMatching(),
                  discriminator_objective=LSGAN(a=-1.0, c=0.0, label_smoothing=0.1))
    assert type(model.g_objective) is FeatureMatching and type(model.d_objective) is LSGAN
    assert (model.d_objective.a, model.d_objective.b, model.d_objective.c) == \
        (-1.0, pytest.approx(0.8), 0.0)
    model = SSGAN(objective=ContraGAN())
    assert model.d_objective is model.g_objective
    assert model.generator.embed is not None  # class-conditional G
    opt_d, opt_g = model.configure_optimizers()
    d_ids = {id(p) for group in opt_d.param_groups for p in group["params"]}
    g_ids = {id(p) for group in opt_g.param_groups for p in group["params"]}
    assert id(model.d_objective.projection.weight) in d_ids
    assert id(model.d_objective.proxies.weight) in d_ids
    assert id(model.generator.embed.weight) in g_ids and not d_ids & g_ids


def test_a_default_objective_is_not_shared_between_models():
    a, b = SSGAN(objective=BEGAN()), SSGAN()
    c = SSGAN()
    assert a.g_objective is not b.g_objective and b.g_objective is not c.g_objective
    assert isinstance(b.g_objective, FeatureMatching)
