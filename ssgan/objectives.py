"""GAN objectives for the K+1 semi-supervised classifier-discriminator.

Conventions (Salimans et al. 2016, "Improved Techniques for Training GANs"): D outputs K class
logits ``l``; the (K+1)-th "fake" logit is fixed at 0, so with ``Z = sum_k exp(l_k)``

    D(x) = Z / (Z + 1) = sigmoid(lse(l)),   lse(l) = logsumexp_k l_k

and ``lse(l)`` is the real/fake logit. The supervised K-class loss on labeled data is always part
of D's loss; an objective supplies the adversarial part on unlabeled and generated data and the
generator's loss.

Every objective is a small ``nn.Module`` (it may own heads or state, e.g. a decoder or a
control variable) registered by name in :data:`OBJECTIVES`. Objectives only compute losses;
the LightningModule owns backward and the optimizer steps. Adding a variant is one
``@register_objective`` class: the training step never changes.

Registered: ``feature_matching`` (the default), ``minimax``, ``nonsaturating``, ``lsgan``,
``began`` and ``contragan``. One-sided label smoothing (the ``label_smoothing`` option) is
implemented by every objective whose D loss has a real target.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Mapping, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .errors import SSGANError, check_choice, check_positive
from .networks import DOutput

# ---------------------------------------------------------------------------------------------
# Pure loss functions


def real_fake_logit(logits: Tensor) -> Tensor:
    """The real/fake logit of the K+1 discriminator with an implicit zero fake logit:
    ``lse(l) = logsumexp_k l_k``, so that ``D(x) = sigmoid(lse(l))``."""
    return torch.logsumexp(logits, dim=1)


def supervised_loss(logits_lab: Tensor, y: Tensor) -> Tensor:
    """``L_lab = -mean(l_lab[y]) + mean(lse(l_lab))``: K-way cross-entropy on labeled data.

    The K-way softmax ignores the fake class, exactly as the original code does."""
    return F.cross_entropy(logits_lab, y)


def unlabeled_loss(logits_unl: Tensor, logits_fake: Tensor, real_target: float = 1.0) -> Tensor:
    """``L_unl`` of Salimans et al. 2016 (REFERENCE.md):

        L_unl = -0.5 mean(lse(l_unl)) + 0.5 mean(softplus(lse(l_unl)))
                + 0.5 mean(softplus(lse(l_fake)))

    which is half the binary cross-entropy of real unlabeled (target 1) vs generated (target 0)
    samples under ``D(x) = sigmoid(lse(l))``. ``softplus(s) - s = softplus(-s)`` is used for the
    real term because it is the numerically stable form of the same value.

    ``real_target < 1`` is one-sided label smoothing (Salimans et al. 2016, section 3.4): the
    real term becomes the cross-entropy against target ``t``,
    ``t * softplus(-s) + (1 - t) * softplus(s)``; the fake target stays 0."""
    lse_unl = real_fake_logit(logits_unl)
    lse_fake = real_fake_logit(logits_fake)
    real = F.softplus(-lse_unl)
    if real_target != 1.0:
        real = real_target * real + (1.0 - real_target) * F.softplus(lse_unl)
    return 0.5 * real.mean() + 0.5 * F.softplus(lse_fake).mean()


def feature_matching_loss(f_real: Tensor, f_fake: Tensor, p: int = 2) -> Tensor:
    """Feature matching (Salimans et al. 2016): ``mean_j (mean_batch f(x) - mean_batch f(G(z)))_j^p``.

    ``p=2`` (squared error) is the MNIST setup; ``p=1`` (absolute error) the CIFAR/SVHN one."""
    diff = f_real.mean(0) - f_fake.mean(0)
    return diff.square().mean() if p == 2 else diff.abs().mean()


def least_squares_loss(out: Tensor, target: float) -> Tensor:
    """``0.5 * mean((out - target)^2)``, one term of LSGAN (Mao et al. 2017)."""
    return 0.5 * (out - target).square().mean()


def reconstruction_energy(x: Tensor, x_rec: Tensor) -> Tensor:
    """BEGAN's ``L(v) = |v - Dec(Enc(v))|``: pixel-wise L1, averaged over pixels and batch."""
    return (x - x_rec).abs().mean()


def began_k_update(k: Tensor, l_real: Tensor, l_fake: Tensor, gamma: float,
                   lambda_k: float) -> Tensor:
    """BEGAN's proportional control (Berthelot et al. 2017, eq. 4):
    ``k_{t+1} = clamp(k_t + lambda_k * (gamma * L(x) - L(G(z))), 0, 1)``."""
    return (k + lambda_k * (gamma * l_real - l_fake)).clamp(0.0, 1.0)


def began_convergence(l_real: Tensor, l_fake: Tensor, gamma: float) -> Tensor:
    """BEGAN's convergence measure ``M_global = L(x) + |gamma * L(x) - L(G(z))|``."""
    return l_real + (gamma * l_real - l_fake).abs()


def contrastive_2c_loss(embeddings: Tensor, proxies: Tensor, y: Tensor,
                        temperature: float) -> Tensor:
    """ContraGAN's conditional contrastive (2C) loss (Kang & Park 2020, eq. 8), batch mean.

    With ``e_i`` and the class proxies ``p_{y_i}`` L2-normalised and ``s(u, v) = u.v / T``:

        loss_i = -log( (exp(s(e_i, p_yi)) + sum_{j != i, y_j = y_i} exp(s(e_i, e_j)))
                       / (exp(s(e_i, p_yi)) + sum_{j != i} exp(s(e_i, e_j))) )

    ``proxies`` holds one row per example (the proxy of its class). Computed as a difference
    of two masked log-sum-exps over the batch's similarity matrix; the proxy term is always
    in both, so they are finite even for a class with a single example."""
    e = F.normalize(embeddings, dim=1)
    p = F.normalize(proxies, dim=1)
    n = e.shape[0]
    sim = (e @ e.T) / temperature
    to_proxy = (e * p).sum(1, keepdim=True) / temperature
    other = ~torch.eye(n, dtype=torch.bool, device=e.device)
    positive = (y[:, None] == y[None, :]) & other
    neg_inf = torch.finfo(sim.dtype).min
    numerator = torch.logsumexp(torch.cat([to_proxy, sim.masked_fill(~positive, neg_inf)], 1), 1)
    denominator = torch.logsumexp(torch.cat([to_proxy, sim.masked_fill(~other, neg_inf)], 1), 1)
    return (denominator - numerator).mean()


# ---------------------------------------------------------------------------------------------
# The objective interface


@dataclass
class GANBatch:
    """What an objective sees in one step.

    ``real``/``fake`` are D's outputs on unlabeled real and on generated images. ``labeled`` and
    ``y_lab`` are D's outputs on the labeled batch (D step only). ``y_fake`` holds the classes a
    conditional generator was asked for."""

    real: DOutput
    fake: DOutput
    x_real: Tensor
    x_fake: Tensor
    labeled: Optional[DOutput] = None
    y_lab: Optional[Tensor] = None
    y_fake: Optional[Tensor] = None


class Objective(nn.Module):
    """Base class. Subclasses implement one or both halves and return a dict of named terms
    with the key ``"loss"`` for the value to minimise; other keys are logged as
    ``train/<key>``, so a term's name must not be used by the other half of any objective.

    Hyperparameters are options of :class:`ssgan.model.SSGAN` (its signature holds their
    defaults and its docstring their help). A subclass lists the names it reads in
    :attr:`options`; the model passes exactly those as keyword arguments."""

    #: True when the generator must be class-conditional (it receives ``y_fake``).
    conditional: bool = False
    #: SSGAN options this objective takes as keyword arguments.
    options: tuple[str, ...] = ()
    #: True when the generator's loss goes through heads that only this objective's
    #: discriminator loss trains, so it cannot be paired with another D objective.
    generator_needs_own_discriminator: bool = False

    def __init__(self, *, num_classes: int, feature_dim: int, image_shape: tuple):
        super().__init__()
        self.num_classes = num_classes
        self.feature_dim = feature_dim
        self.image_shape = tuple(image_shape)

    def discriminator_loss(self, batch: GANBatch) -> dict[str, Tensor]:
        raise NotImplementedError(f"{type(self).__name__} defines no discriminator loss")

    def generator_loss(self, batch: GANBatch) -> dict[str, Tensor]:
        raise NotImplementedError(f"{type(self).__name__} defines no generator loss")

    def after_discriminator_step(self, terms: dict[str, Tensor]) -> None:
        """Hook for state updated once per D step (e.g. BEGAN's k_t)."""

    def discriminator_parameters(self):
        """Parameters of heads that D's optimizer trains (e.g. a decoder)."""
        return []

    def generator_parameters(self):
        """Parameters that G's optimizer trains (e.g. a label embedding)."""
        return []


OBJECTIVES: dict[str, type[Objective]] = {}


def register_objective(name: str) -> Callable[[type[Objective]], type[Objective]]:
    def deco(cls: type[Objective]) -> type[Objective]:
        OBJECTIVES[name] = cls
        cls.name = name
        return cls
    return deco


def objective_class(name: str) -> type[Objective]:
    check_choice("objective", name, OBJECTIVES)
    return OBJECTIVES[name]


def build_objective(name: str, **kwargs) -> Objective:
    return objective_class(name)(**kwargs)


def objective_options(cls: type[Objective], values: Mapping) -> dict:
    """The options ``cls`` takes, read from ``values`` (the model's hyperparameters)."""
    return {key: values[key] for key in cls.options}


def d_real_fake_means(batch: GANBatch) -> dict[str, Tensor]:
    """Diagnostics: mean D(real) and D(fake) under the implicit zero logit."""
    return {"d_real": torch.sigmoid(real_fake_logit(batch.real.logits)).mean(),
            "d_fake": torch.sigmoid(real_fake_logit(batch.fake.logits)).mean()}


def _check_label_smoothing(value: float) -> float:
    if not 0.0 < value <= 1.0:
        raise SSGANError(f"model.label_smoothing is the real target, in (0, 1] (1 = off, 0.9 is "
                         f"usual), got {value!r}")
    return float(value)


# ---------------------------------------------------------------------------------------------
# The objectives


class _CrossEntropyDiscriminator(Objective):
    """D's adversarial part shared by feature matching, minimax and non-saturating GANs:
    Salimans' ``L_unl`` (:func:`unlabeled_loss`), which *is* the minimax discriminator loss
    ``-log D(x) - log(1 - D(G(z)))`` under ``D(x) = sigmoid(lse(l))``, halved; keeping the
    half makes ``unlabeled_weight`` mean the same for all three."""

    options = ("label_smoothing",)

    def __init__(self, *, label_smoothing: float, **common):
        super().__init__(**common)
        self.real_target = _check_label_smoothing(label_smoothing)

    def discriminator_loss(self, batch: GANBatch) -> dict[str, Tensor]:
        loss = unlabeled_loss(batch.real.logits, batch.fake.logits, self.real_target)
        return {"loss": loss, "loss_unl": loss, **d_real_fake_means(batch)}


@register_objective("feature_matching")
class FeatureMatching(_CrossEntropyDiscriminator):
    """Salimans et al. 2016, "Improved Techniques for Training GANs".

    D: ``L_unl`` (see :func:`unlabeled_loss`). G: feature matching
    ``|| mean f(x_unl) - mean f(G(z)) ||^2`` on D's feature layer; ``feature_matching_p=1``
    gives the L1 form the original code used for CIFAR-10 and SVHN."""

    options = ("label_smoothing", "feature_matching_p")

    def __init__(self, *, feature_matching_p: int, **kwargs):
        super().__init__(**kwargs)
        if feature_matching_p not in (1, 2):
            raise SSGANError(f"model.feature_matching_p must be 1 (L1) or 2 (squared L2), "
                             f"got {feature_matching_p}")
        self.p = feature_matching_p

    def generator_loss(self, batch: GANBatch) -> dict[str, Tensor]:
        loss = feature_matching_loss(batch.real.features, batch.fake.features, self.p)
        return {"loss": loss, "loss_fm": loss}


@register_objective("minimax")
class Minimax(_CrossEntropyDiscriminator):
    """The original GAN game (Goodfellow et al. 2014), ``min_G max_D E log D(x) + E log(1 - D(G(z)))``.

    D: ``L_unl`` (see :class:`_CrossEntropyDiscriminator`). G minimises
    ``mean log(1 - D(G(z))) = -mean softplus(lse(l_fake))``. It saturates: while D rejects the
    samples confidently the gradient vanishes, which is why the non-saturating form exists."""

    def generator_loss(self, batch: GANBatch) -> dict[str, Tensor]:
        loss = -F.softplus(real_fake_logit(batch.fake.logits)).mean()
        return {"loss": loss, "loss_g_minimax": loss}


@register_objective("nonsaturating")
class NonSaturating(_CrossEntropyDiscriminator):
    """The non-saturating GAN (Goodfellow et al. 2014, section 3).

    D: ``L_unl`` (see :class:`_CrossEntropyDiscriminator`). G maximises ``log D(G(z))``, i.e.
    minimises ``-mean log D(G(z)) = mean softplus(-lse(l_fake))``."""

    def generator_loss(self, batch: GANBatch) -> dict[str, Tensor]:
        loss = F.softplus(-real_fake_logit(batch.fake.logits)).mean()
        return {"loss": loss, "loss_g_ns": loss}


LSGAN_OUTPUTS = ("logit", "probability")


@register_objective("lsgan")
class LSGAN(Objective):
    """Least-squares GAN (Mao et al. 2017, "Least Squares Generative Adversarial Networks", eq. 2):

        L_D = 0.5 E[(D(x) - b)^2] + 0.5 E[(D(G(z)) - a)^2],   L_G = 0.5 E[(D(G(z)) - c)^2]

    ``(a, b, c) = (0, 1, 1)`` is the usual setting, ``(-1, 1, 0)`` the Pearson chi^2 one.

    Which output of the K+1 discriminator is "D(x)" (``lsgan_output``):

    * ``logit`` (default): the real/fake logit ``lse(l)``. The paper's D has a linear output,
      with no sigmoid; that is what lets a sample far on the correct side of the boundary still
      be penalised, and what makes ``a = -1`` reachable, so this is the form for which both
      settings mean what the paper means.
    * ``probability``: ``D(x) = sigmoid(lse(l))``. Bounded in (0, 1): the gradient saturates as
      D gets confident, and with ``(-1, 1, 0)`` the generator's target 0 is "fake", so that
      setting does not train G sensibly on this output.

    One-sided label smoothing ``t`` moves the real target from ``b`` to ``a + t (b - a)``
    (0.9 for (0, 1, 1)): the same fraction of the way back towards the fake target as 0.9
    is for the cross-entropy objectives.
    """

    options = ("lsgan_a", "lsgan_b", "lsgan_c", "lsgan_output", "label_smoothing")

    def __init__(self, *, lsgan_a: float, lsgan_b: float, lsgan_c: float, lsgan_output: str,
                 label_smoothing: float, **common):
        super().__init__(**common)
        check_choice("model.lsgan_output", lsgan_output, LSGAN_OUTPUTS)
        if lsgan_a == lsgan_b:
            raise SSGANError(f"model.lsgan_a and model.lsgan_b are the fake and real targets and "
                             f"must differ, got both {lsgan_a!r}")
        self.a, self.c, self.output = float(lsgan_a), float(lsgan_c), lsgan_output
        self.b = self.a + _check_label_smoothing(label_smoothing) * (float(lsgan_b) - self.a)

    def _d(self, out: DOutput) -> Tensor:
        s = real_fake_logit(out.logits)
        return s if self.output == "logit" else torch.sigmoid(s)

    def discriminator_loss(self, batch: GANBatch) -> dict[str, Tensor]:
        real = least_squares_loss(self._d(batch.real), self.b)
        fake = least_squares_loss(self._d(batch.fake), self.a)
        return {"loss": real + fake, "loss_ls_real": real, "loss_ls_fake": fake,
                **d_real_fake_means(batch)}

    def generator_loss(self, batch: GANBatch) -> dict[str, Tensor]:
        loss = least_squares_loss(self._d(batch.fake), self.c)
        return {"loss": loss, "loss_ls_g": loss}


@register_objective("began")
class BEGAN(Objective):
    """BEGAN (Berthelot et al. 2017, "BEGAN: Boundary Equilibrium Generative Adversarial
    Networks", eqs. 3-4), on top of the K-class classifier.

    D gains an auto-encoder: the encoder is D's own trunk up to its feature layer, the decoder
    a head owned here. With ``L(v) = |v - Dec(Enc(v))|`` (pixel-wise L1, :func:`reconstruction_energy`):

        L_D = L(x) - k_t L(G(z)),   L_G = L(G(z)),
        k_{t+1} = clamp(k_t + lambda_k (gamma L(x) - L(G(z))), 0, 1),   k_0 = 0

    and ``M_global = L(x) + |gamma L(x) - L(G(z))|`` is logged with ``k``. D's classification
    head is untouched: it keeps its supervised loss and learns from the unlabeled data only
    through the trunk it shares with the encoder. The decoder's output is linear, so it fits
    images in any value range. One-sided label smoothing does not apply: there is no real target.
    """

    options = ("began_gamma", "began_lambda_k")
    generator_needs_own_discriminator = True
    #: width of the decoder's hidden layer
    DECODER_HIDDEN = 512

    def __init__(self, *, began_gamma: float, began_lambda_k: float, **common):
        super().__init__(**common)
        if not 0.0 < began_gamma <= 1.0:
            raise SSGANError(f"model.began_gamma is a diversity ratio in (0, 1] (the paper uses "
                             f"0.5-0.75), got {began_gamma!r}")
        check_positive("model.began_lambda_k", began_lambda_k, allow_zero=True)
        self.gamma, self.lambda_k = float(began_gamma), float(began_lambda_k)
        pixels = math.prod(self.image_shape)
        self.decoder = nn.Sequential(nn.Linear(self.feature_dim, self.DECODER_HIDDEN), nn.ReLU(),
                                     nn.Linear(self.DECODER_HIDDEN, pixels))
        self.register_buffer("k", torch.zeros(()))

    def energy(self, x: Tensor, out: DOutput) -> Tensor:
        return reconstruction_energy(x, self.decoder(out.features).view_as(x))

    def discriminator_loss(self, batch: GANBatch) -> dict[str, Tensor]:
        l_real = self.energy(batch.x_real, batch.real)
        l_fake = self.energy(batch.x_fake, batch.fake)
        k = self.k.clone()  # the value this step used, before the hook moves it
        return {"loss": l_real - k * l_fake, "began_l_real": l_real, "began_l_fake": l_fake,
                "began_k": k, "began_m_global": began_convergence(l_real, l_fake, self.gamma),
                **d_real_fake_means(batch)}

    @torch.no_grad()
    def after_discriminator_step(self, terms: dict[str, Tensor]) -> None:
        self.k.copy_(began_k_update(self.k, terms["began_l_real"], terms["began_l_fake"],
                                    self.gamma, self.lambda_k))

    def generator_loss(self, batch: GANBatch) -> dict[str, Tensor]:
        loss = self.energy(batch.x_fake, batch.fake)
        return {"loss": loss, "loss_began_g": loss}

    def discriminator_parameters(self):
        return list(self.decoder.parameters())


@register_objective("contragan")
class ContraGAN(Objective):
    """ContraGAN (Kang & Park 2020, "ContraGAN: Contrastive Learning for Conditional Image
    Generation"): the conditional contrastive (2C) loss :func:`contrastive_2c_loss` on top of
    the K+1 game.

    Heads owned here and trained by D: a linear projection ``h`` of D's features and the class
    proxies (an embedding of the labels). The generator is class-conditional (a label
    embedding concatenated to z).

        L_D = L_unl + w * 2C(h(f(x_lab)), y_lab)
        L_G = -mean log D(G(z, y)) + w * 2C(h(f(G(z, y))), y)

    The adversarial part is the K+1 cross-entropy (:func:`unlabeled_loss` for D, the
    non-saturating loss for G) because the paper pairs 2C with a standard adversarial loss.
    With ``contrastive_pseudo_labels`` D's 2C batch also holds the unlabeled real images, each
    labeled with D's current arg-max class (no confidence threshold; no gradient through the
    choice).
    """

    conditional = True
    options = ("contrastive_temperature", "contrastive_weight", "contrastive_embed_dim",
               "contrastive_pseudo_labels", "label_smoothing")
    generator_needs_own_discriminator = True

    def __init__(self, *, contrastive_temperature: float, contrastive_weight: float,
                 contrastive_embed_dim: int, contrastive_pseudo_labels: bool,
                 label_smoothing: float, **common):
        super().__init__(**common)
        check_positive("model.contrastive_temperature", contrastive_temperature)
        check_positive("model.contrastive_weight", contrastive_weight, allow_zero=True)
        check_positive("model.contrastive_embed_dim", contrastive_embed_dim)
        self.temperature, self.weight = float(contrastive_temperature), float(contrastive_weight)
        self.pseudo_labels = bool(contrastive_pseudo_labels)
        self.real_target = _check_label_smoothing(label_smoothing)
        self.projection = nn.Linear(self.feature_dim, contrastive_embed_dim)
        self.proxies = nn.Embedding(self.num_classes, contrastive_embed_dim)

    def contrastive(self, features: Tensor, y: Tensor) -> Tensor:
        return contrastive_2c_loss(self.projection(features), self.proxies(y), y, self.temperature)

    def discriminator_loss(self, batch: GANBatch) -> dict[str, Tensor]:
        if batch.labeled is None or batch.y_lab is None:
            raise ValueError("contragan's discriminator loss needs the labeled batch")
        loss_unl = unlabeled_loss(batch.real.logits, batch.fake.logits, self.real_target)
        features, y = batch.labeled.features, batch.y_lab
        if self.pseudo_labels:
            features = torch.cat([features, batch.real.features])
            y = torch.cat([y, batch.real.logits.detach().argmax(1)])
        loss_2c = self.contrastive(features, y)
        return {"loss": loss_unl + self.weight * loss_2c, "loss_unl": loss_unl,
                "loss_2c_real": loss_2c, **d_real_fake_means(batch)}

    def generator_loss(self, batch: GANBatch) -> dict[str, Tensor]:
        if batch.y_fake is None:
            raise ValueError("contragan's generator loss needs the classes G was conditioned on")
        adv = F.softplus(-real_fake_logit(batch.fake.logits)).mean()
        loss_2c = self.contrastive(batch.fake.features, batch.y_fake)
        return {"loss": adv + self.weight * loss_2c, "loss_g_adv": adv, "loss_2c_fake": loss_2c}

    def discriminator_parameters(self):
        return list(self.projection.parameters()) + list(self.proxies.parameters())
