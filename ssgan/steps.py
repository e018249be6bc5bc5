"""The training step, once: the D step and the G step of Salimans et al. 2016 as plain
functions, used by the LightningModules (:mod:`ssgan.model`, :mod:`ssgan.supervised`) and by
the plain-PyTorch loop of ``bench/`` (so the throughput benchmark measures Lightning's
overhead, not two copies of the algorithm).

One GAN step:

1. D step: ``L_D = L_lab + w * L_adv + sum of D's regularizers`` on a labeled batch, the first
   unlabeled batch and a batch of samples from the current G (no gradient reaches G).
2. G step: the objective's generator loss (plus G's regularizers) on the second unlabeled
   batch and fresh samples, with D's parameters frozen.
3. The evaluation copy of D (an exponential moving average of its weights) is updated.

The callers supply ``backward`` (Lightning's ``manual_backward`` runs the precision and DDP
hooks) and the optimizers.
"""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass, field
from typing import Callable, ContextManager, Optional, Sequence

import torch
from torch import Tensor, nn

from .ema import EMA
from .networks.base import DOutput
from .objectives import GANBatch, Objective, supervised_loss
from .regularizers import Regularizer, StepContext


def _identity(x: Tensor) -> Tensor:
    return x


def _backward(loss: Tensor) -> None:
    loss.backward()


@dataclass
class GANParts:
    """What a GAN step needs: the networks, the objectives, the regularizers and the options
    of the step. Built once by :class:`~ssgan.model.SSGAN` (``model.parts``)."""

    discriminator: nn.Module
    generator: nn.Module
    d_objective: Objective
    g_objective: Objective
    num_classes: int
    regularizers: Sequence[Regularizer] = ()
    unlabeled_weight: float = 1.0
    #: the EMA copy of D, updated after each step and handed to regularizers as the teacher
    ema: Optional[EMA] = None
    #: the data module's training augmentation, for regularizers that want a second view
    augment: Callable[[Tensor], Tensor] = field(default=_identity)

    @property
    def conditional(self) -> bool:
        return self.g_objective.conditional

    def player_parameters(self) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
        """(D's, G's) trainable tensors: the networks plus the heads objectives give each."""
        d_params = list(self.discriminator.parameters())
        g_params = list(self.generator.parameters())
        for obj in {id(o): o for o in (self.d_objective, self.g_objective)}.values():
            d_params += list(obj.discriminator_parameters())
            g_params += list(obj.generator_parameters())
        return d_params, g_params

    @functools.cached_property
    def _discriminator_only(self) -> list[nn.Parameter]:
        d_params, g_params = self.player_parameters()
        g_ids = {id(p) for p in g_params}
        return [p for p in d_params if id(p) not in g_ids]

    def freeze_discriminator(self) -> ContextManager:
        """The G step's context: D's parameters (and D-side heads) take no gradient."""
        return frozen(self._discriminator_only)


def sample(generator: nn.Module, n: int, *, conditional: bool, num_classes: int, device=None,
           y: Optional[Tensor] = None) -> tuple[Tensor, Optional[Tensor], Tensor]:
    """``(images, classes, z)``: ``n`` samples of G (z first, then the classes of a conditional
    G: the order of the random draws is part of what makes a run reproducible)."""
    z = generator.sample_latent(n, device=device)
    if not conditional:
        return generator(z), None, z
    if y is None:
        y = torch.randint(0, num_classes, (n,), device=device)
    return generator(z, y), y, z


def discriminate(d: nn.Module, *xs: Tensor) -> list[DOutput]:
    """D's outputs for several groups of images, one forward pass when it is valid."""
    if getattr(d, "couples_batch", False):
        # an image's output depends on its batch (minibatch discrimination): a generated
        # image must only be compared with other generated images, as in the original code
        return [d(x) for x in xs]
    out = d(torch.cat(xs))
    sizes = [x.shape[0] for x in xs]
    return [type(out)(*parts) for parts in zip(*(t.split(sizes) for t in out))]


@contextlib.contextmanager
def frozen(params: Sequence[nn.Parameter]):
    """Keeps ``params`` out of the autograd graph meanwhile (restoring their flags after)."""
    flags = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(params, flags):
            p.requires_grad_(flag)


def _regularize(parts: GANParts, player: str, loss: Tensor, batch: GANBatch, ctx: StepContext,
                logs: dict) -> Tensor:
    for reg in parts.regularizers:
        if reg.serves(player):
            terms = reg(batch, ctx)
            loss = loss + terms["loss"]
            logs.update({f"train/{k}": v.detach() for k, v in terms.items() if k != "loss"})
    return loss


def _context(parts: GANParts, player: str, x_lab, y_lab, x_unl, z, y_fake) -> StepContext:
    return StepContext(parts.discriminator, parts.generator, x_lab, y_lab, x_unl, z, y_fake,
                       teacher=parts.ema.module if parts.ema is not None else None,
                       augment=parts.augment, player=player)


def gan_step(parts: GANParts, batch: Sequence[Tensor], opt_d, opt_g, *,
             backward: Callable[[Tensor], None] = _backward,
             freeze: Optional[Callable[[], ContextManager]] = None) -> tuple[dict, Tensor]:
    """One training step on ``(x_lab, y_lab, x_unl, x_unl2)``; returns the values to log
    (``train/<name>``, detached) and the G step's generated images."""
    x_lab, y_lab, x_unl, x_unl2 = batch
    d, g = parts.discriminator, parts.generator
    n = x_unl.shape[0]
    draw = dict(conditional=parts.conditional, num_classes=parts.num_classes, device=x_unl.device)
    reg_logs: dict[str, Tensor] = {}

    # D step
    with torch.no_grad():
        x_fake, y_fake, z = sample(g, n, **draw)
    lab, unl, fake = discriminate(d, x_lab, x_unl, x_fake)
    loss_lab = supervised_loss(lab.logits, y_lab)
    d_batch = GANBatch(unl, fake, x_unl, x_fake, labeled=lab, y_lab=y_lab, y_fake=y_fake)
    d_terms = parts.d_objective.discriminator_loss(d_batch)
    loss_d = loss_lab + parts.unlabeled_weight * d_terms["loss"]
    # built only for regularizers: a step without any pays nothing for them
    ctx = parts.regularizers and _context(parts, "discriminator", x_lab, y_lab, x_unl, z, y_fake)
    loss_d = _regularize(parts, "discriminator", loss_d, d_batch, ctx, reg_logs)
    opt_d.zero_grad(set_to_none=True)
    backward(loss_d)
    opt_d.step()
    parts.d_objective.after_discriminator_step(d_terms)

    # G step: D is frozen, so only G (and G-side heads) get gradients
    with (freeze or parts.freeze_discriminator)():
        x_fake, y_fake, z = sample(g, n, **draw)
        with torch.no_grad():
            real = d(x_unl2)
        fake = d(x_fake)
        g_batch = GANBatch(real, fake, x_unl2, x_fake, y_fake=y_fake)
        g_terms = parts.g_objective.generator_loss(g_batch)
        ctx = parts.regularizers and _context(parts, "generator", x_lab, y_lab, x_unl2, z, y_fake)
        loss_g = _regularize(parts, "generator", g_terms["loss"], g_batch, ctx, reg_logs)
        opt_g.zero_grad(set_to_none=True)
        backward(loss_g)
        opt_g.step()

    if parts.ema is not None:
        parts.ema.update(d)

    train_err = (lab.logits.detach().argmax(1) != y_lab).float().mean()
    logs = {"train/loss_d": loss_d.detach(), "train/loss_lab": loss_lab.detach(),
            "train/loss_g": loss_g.detach(), "train/err_lab": train_err, **reg_logs}
    for terms in (d_terms, g_terms):
        logs.update({f"train/{k}": v.detach() for k, v in terms.items() if k != "loss"})
    return logs, x_fake.detach()


def supervised_step(discriminator: nn.Module, x_lab: Tensor, y_lab: Tensor, opt, *,
                    ema: Optional[EMA] = None,
                    backward: Callable[[Tensor], None] = _backward) -> dict:
    """One step of the supervised-only baseline: D's classifier on the labeled batch alone
    (the same loss, ``L_lab``, that the GAN's D step starts from)."""
    logits = discriminator(x_lab).logits
    loss = supervised_loss(logits, y_lab)
    opt.zero_grad(set_to_none=True)
    backward(loss)
    opt.step()
    if ema is not None:
        ema.update(discriminator)
    err = (logits.detach().argmax(1) != y_lab).float().mean()
    return {"train/loss_lab": loss.detach(), "train/err_lab": err}


def adam(params, lr: float, betas: Sequence[float], eps: float = 1e-8) -> torch.optim.Adam:
    """The optimizer of every player and of the baseline. ``eps`` is added to ``sqrt(v_hat)``
    (torch's Adam); the original code's Lasagne-style Adam adds it under the root,
    ``sqrt(v_hat + 1e-8)`` (see ``ClassifierModule``'s ``adam_eps``)."""
    # fused: one kernel per step instead of a Python loop over parameters (same update)
    return torch.optim.Adam(params, lr=lr, betas=tuple(betas), eps=eps, fused=True)
