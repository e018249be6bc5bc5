"""The LightningModule: K+1 classifier-discriminator and generator, trained adversarially.

One training step (manual optimisation, two Adam optimizers), as in Salimans et al. 2016:

1. D step: ``L_D = L_lab + w * L_adv`` on a labeled batch, an unlabeled batch and a batch of
   samples from the current G (no gradient reaches G).
2. G step: the objective's generator loss on a second unlabeled batch and fresh samples
   (D's parameters are frozen for it).
3. The evaluation copy of D (an exponential moving average of its weights) is updated.

The objective (``ssgan.objectives``) supplies the adversarial losses; the Improved-GAN
techniques (``ssgan.techniques``) are options that combine with any of them: minibatch
discrimination and virtual batch norm live in the networks, historical averaging is added to
each player's loss here, one-sided label smoothing is an option of the objectives.

Validation and test use the EMA copy unless ``ema=False``.
"""

from __future__ import annotations

import copy
from typing import Optional

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics.classification import MulticlassAccuracy

from .errors import SSGANError, check_positive
from . import conv_networks  # noqa: F401  (registers the convolutional architectures)
from .networks import DOutput, NetworkConfig, build_networks, resolve_network
from .objectives import (GANBatch, Objective, objective_class, objective_options,
                         supervised_loss)
from .techniques import HistoricalAveraging


class EMA(nn.Module):
    """Exponential moving average of a module's weights (Polyak averaging).

    The effective decay is ``min(decay, (1 + t) / (10 + t))`` after ``t`` updates, so the copy is
    useful early in short runs and approaches the nominal decay later."""

    def __init__(self, module: nn.Module, decay: float):
        super().__init__()
        self.module = copy.deepcopy(module).requires_grad_(False).eval()
        self.decay = decay
        self.register_buffer("num_updates", torch.zeros((), dtype=torch.long))
        self._t: Optional[int] = None  # host mirror of num_updates, avoids a sync per step

    @torch.no_grad()
    def update(self, module: nn.Module) -> None:
        if self._t is None:
            self._t = int(self.num_updates)
        decay = min(self.decay, (1 + self._t) / (10 + self._t))
        self._t += 1
        self.num_updates.add_(1)
        ema = list(self.module.parameters()) + list(self.module.buffers())
        cur = list(module.parameters()) + list(module.buffers())
        floats = [(e, c) for e, c in zip(ema, cur) if e.is_floating_point()]
        torch._foreach_lerp_([e for e, _ in floats], [c for _, c in floats], 1.0 - decay)

    def _load_from_state_dict(self, *args, **kwargs):
        self._t = None
        super()._load_from_state_dict(*args, **kwargs)

    def train(self, mode: bool = True):
        # the averaged copy is only ever evaluated
        return super().train(False)


class SSGAN(pl.LightningModule):
    """Semi-supervised GAN (Salimans et al. 2016) with pluggable objectives.

    Args:
        image_shape: (C, H, W) of the images; linked from the data module.
        num_classes: K; linked from the data module.
        objective: registered objective for both players: feature_matching, minimax,
            nonsaturating, lsgan, began or contragan (see ``ssgan.objectives``).
        generator_objective: override the generator's objective.
        discriminator_objective: override the discriminator's adversarial objective.
        unlabeled_weight: w in ``L_D = L_lab + w * L_unl``.
        lr: Adam learning rate of D (and of G unless ``lr_g`` is set).
        lr_g: Adam learning rate of G.
        betas: Adam betas.
        latent_dim: size of z ~ U[0, 1).
        network: ``auto`` (by image size: ``mlp_digits`` up to 16x16, ``mlp_mnist`` for 28x28
            grayscale, ``conv_cifar`` for 32x32 or colour), or one of those, ``mlp_small``,
            ``conv_svhn``. For the conv networks ``input_noise``/``hidden_noise`` are dropout rates.
        d_hidden: D's hidden sizes (overrides the network's).
        g_hidden: G's hidden sizes (overrides the network's).
        input_noise: sigma of D's input noise.
        hidden_noise: sigma of the noise after D's hidden layers.
        feature_layer: D's hidden layer used for feature matching (-1 = last).
        ema: evaluate with an exponential moving average of D's weights.
        ema_decay: nominal decay of that average.
        data_init: data-dependent initialisation of D's weight-normalised layers.
        data_init_size: number of training images used for it.
        supervised_only: the baseline: train D's classifier on the labeled batches alone (same
            network, same steps); no generator, no unlabeled data.
        lsgan_a: lsgan: D's target for generated images.
        lsgan_b: lsgan: D's target for real images.
        lsgan_c: lsgan: the target G wants D to give its images ((a, b, c) = (0, 1, 1) or the
            Pearson chi^2 setting (-1, 1, 0)).
        lsgan_output: lsgan: the D output the squares apply to: ``logit`` (the real/fake logit
            lse(l), unbounded like the paper's linear D) or ``probability`` (sigmoid(lse(l))).
        began_gamma: began: diversity ratio gamma = E[L(G(z))] / E[L(x)] the control aims at.
        began_lambda_k: began: learning rate of the control variable k.
        contrastive_temperature: contragan: temperature T of the 2C loss.
        contrastive_weight: contragan: weight of the 2C loss in both players' losses.
        contrastive_embed_dim: contragan: size of the projection of D's features and of the
            class proxies.
        contrastive_pseudo_labels: contragan: add the unlabeled real images, labeled with D's
            arg-max class, to D's 2C batch.
        label_smoothing: one-sided label smoothing: D's target for real images (e.g. 0.9;
            1 = off). Objectives without a real target (began) reject it.
        feature_matching_p: feature matching's norm: 2 = mean squared error (the MNIST setup),
            1 = mean absolute error (the CIFAR-10/SVHN setup of the original code).
        minibatch_discrimination: add a minibatch discrimination layer before D's output layer.
        mbd_b: number B of minibatch discrimination kernels.
        mbd_c: dimension C of each kernel.
        lr_decay_start: fraction of ``trainer.max_epochs`` after which both learning rates decay
            linearly to 0 at the last step (1 = constant learning rates; the older variant of
            the original MNIST code decays over the last third: 0.667).
        historical_averaging: weight of the historical averaging penalty
            ||theta - mean of past theta||^2 added to both players' losses (0 = off).
        virtual_batchnorm: virtual batch normalisation in G, with a reference batch drawn once
            at the start (saved in checkpoints).
    """

    def __init__(self, image_shape: tuple[int, int, int] = (1, 8, 8), num_classes: int = 10,
                 objective: str = "feature_matching", generator_objective: Optional[str] = None,
                 discriminator_objective: Optional[str] = None, unlabeled_weight: float = 1.0,
                 lr: float = 0.003, lr_g: Optional[float] = None,
                 betas: tuple[float, float] = (0.5, 0.999), latent_dim: int = 100,
                 network: str = "auto", d_hidden: Optional[list[int]] = None,
                 g_hidden: Optional[list[int]] = None, input_noise: Optional[float] = None,
                 hidden_noise: Optional[float] = None, feature_layer: int = -1, ema: bool = True,
                 ema_decay: float = 0.999, data_init: bool = True, data_init_size: int = 500,
                 supervised_only: bool = False,
                 lsgan_a: float = 0.0, lsgan_b: float = 1.0, lsgan_c: float = 1.0,
                 lsgan_output: str = "logit",
                 began_gamma: float = 0.5, began_lambda_k: float = 0.001,
                 contrastive_temperature: float = 0.5, contrastive_weight: float = 1.0,
                 contrastive_embed_dim: int = 128, contrastive_pseudo_labels: bool = False,
                 label_smoothing: float = 1.0, feature_matching_p: int = 2,
                 minibatch_discrimination: bool = False, mbd_b: int = 100, mbd_c: int = 5,
                 historical_averaging: float = 0.0, virtual_batchnorm: bool = False,
                 lr_decay_start: float = 1.0):
        super().__init__()
        check_positive("model.lr", lr)
        check_positive("model.lr_g", lr_g)
        check_positive("model.latent_dim", latent_dim)
        check_positive("model.unlabeled_weight", unlabeled_weight, allow_zero=True)
        check_positive("model.data_init_size", data_init_size)
        check_positive("model.mbd_b", mbd_b)
        check_positive("model.mbd_c", mbd_c)
        check_positive("model.historical_averaging", historical_averaging, allow_zero=True)
        if not 0 <= lr_decay_start <= 1:
            raise SSGANError(f"model.lr_decay_start must be a fraction of the run in [0, 1], "
                             f"got {lr_decay_start}")
        if not 0 <= ema_decay < 1:
            raise SSGANError(f"model.ema_decay must be in [0, 1), got {ema_decay}")
        self.save_hyperparameters()
        self.automatic_optimization = False
        image_shape = tuple(image_shape)
        g_name = generator_objective or objective
        d_name = discriminator_objective or objective
        g_cls, d_cls = objective_class(g_name), objective_class(d_name)
        if g_name != d_name and g_cls.generator_needs_own_discriminator:
            raise SSGANError(f"generator objective {g_name!r} trains through heads that only its own "
                             f"discriminator loss trains; use it for both players "
                             f"(--model.objective {g_name}) or pick another generator objective")
        if label_smoothing != 1.0 and "label_smoothing" not in d_cls.options:
            raise SSGANError(f"model.label_smoothing sets D's real target, but the {d_name!r} "
                             "discriminator loss has none; leave it at 1.0")
        self.discriminator, self.generator = build_networks(
            image_shape, num_classes, network=network, latent_dim=latent_dim,
            feature_layer=feature_layer, conditional=g_cls.conditional,
            config=NetworkConfig(d_hidden, g_hidden, input_noise, hidden_noise,
                                 minibatch=(mbd_b, mbd_c) if minibatch_discrimination else None,
                                 virtual_batchnorm=virtual_batchnorm))
        arch = resolve_network(network, image_shape)
        if minibatch_discrimination and not getattr(self.discriminator, "couples_batch", False):
            raise SSGANError(f"network {arch!r} has no minibatch discrimination layer; choose "
                             "a network with one or turn model.minibatch_discrimination off")
        if virtual_batchnorm and not getattr(self.generator, "virtual_batchnorm", False):
            raise SSGANError(f"network {arch!r} has no virtual batch norm; use an MLP network "
                             "or turn model.virtual_batchnorm off")
        common = dict(num_classes=num_classes, feature_dim=self.discriminator.feature_dim,
                      image_shape=image_shape)

        def build(cls: type[Objective]) -> Objective:
            return cls(**common, **objective_options(cls, self.hparams))

        self.g_objective = build(g_cls)
        self.d_objective = self.g_objective if d_name == g_name else build(d_cls)
        if historical_averaging > 0:
            d_params, g_params = self._player_parameters()
            self.d_history = HistoricalAveraging(d_params, historical_averaging)
            self.g_history = HistoricalAveraging(g_params, historical_averaging)
        else:
            self.d_history = self.g_history = None
        self.ema = EMA(self.discriminator, ema_decay) if ema else None
        self.val_acc = MulticlassAccuracy(num_classes, average="micro")
        self.test_acc = MulticlassAccuracy(num_classes, average="micro")
        # training values summed over the epoch so far (see _accumulate_train_logs)
        self._train_log_keys: tuple[str, ...] = ()
        self._train_log_sums: Optional[Tensor] = None
        self._train_log_count = 0

    # -- public helpers ------------------------------------------------------------------------
    @property
    def eval_discriminator(self) -> nn.Module:
        """The weights used for evaluation: the EMA copy when enabled."""
        return self.ema.module if self.ema is not None else self.discriminator

    @torch.no_grad()
    def predict_logits(self, x: Tensor) -> Tensor:
        d = self.eval_discriminator
        was_training = d.training
        d.eval()
        logits = d(x).logits
        d.train(was_training)
        return logits

    def sample(self, n: int, y: Optional[Tensor] = None) -> tuple[Tensor, Optional[Tensor]]:
        """Draw ``n`` generated images (and the classes asked for, for a conditional G)."""
        z = self.generator.sample_latent(n, device=self.device)
        if self.g_objective.conditional:
            if y is None:
                y = torch.randint(0, self.hparams.num_classes, (n,), device=self.device)
            return self.generator(z, y), y
        return self.generator(z), None

    # -- training ------------------------------------------------------------------------------
    def _player_parameters(self) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
        """(D's, G's) trainable tensors: the networks plus the heads objectives give each."""
        d_params = list(self.discriminator.parameters())
        g_params = list(self.generator.parameters())
        for obj in {id(o): o for o in (self.d_objective, self.g_objective)}.values():
            d_params += list(obj.discriminator_parameters())
            g_params += list(obj.generator_parameters())
        return d_params, g_params

    def configure_optimizers(self):
        hp = self.hparams
        d_params, g_params = self._player_parameters()
        # fused: one kernel per step instead of a Python loop over parameters (same update)
        opt_d = torch.optim.Adam(d_params, lr=hp.lr, betas=tuple(hp.betas), fused=True)
        opt_g = torch.optim.Adam(g_params, lr=hp.lr_g or hp.lr, betas=tuple(hp.betas), fused=True)
        return [opt_d, opt_g]

    def _apply_lr_schedule(self, batch_idx: int) -> None:
        """Linear decay to 0 over the last ``1 - lr_decay_start`` of the run, step by step
        (derived from the epoch and batch, so a resumed run continues the same schedule)."""
        hp = self.hparams
        if hp.lr_decay_start >= 1:
            return
        trainer = self.trainer
        progress = (trainer.current_epoch + batch_idx / trainer.num_training_batches) / trainer.max_epochs
        factor = min(1.0, max(0.0, (1.0 - progress) / (1.0 - hp.lr_decay_start)))
        for opt, lr in zip(self.optimizers(), (hp.lr, hp.lr_g or hp.lr)):
            for group in opt.param_groups:
                group["lr"] = lr * factor

    def on_fit_start(self) -> None:
        if self.hparams.lr_decay_start < 1 and (self.trainer.max_epochs or -1) < 1:
            raise SSGANError("model.lr_decay_start < 1 decays the learning rates to 0 at the end "
                             "of trainer.max_epochs; set trainer.max_epochs (got "
                             f"{self.trainer.max_epochs}) or leave model.lr_decay_start at 1")
        d = self.discriminator
        if self.hparams.data_init and hasattr(d, "data_init") and not bool(d.initialised):
            dm = self.trainer.datamodule
            idx = torch.as_tensor(dm.unlabeled_indices)
            g = torch.Generator().manual_seed(torch.initial_seed() % 2**63)
            pick = idx[torch.randperm(len(idx), generator=g)[: self.hparams.data_init_size]]
            d.data_init(dm.data.x_train[pick].to(self.device))
            if self.ema is not None:
                self.ema.module.load_state_dict(d.state_dict())

    def training_step(self, batch, batch_idx: int) -> dict:
        if self.hparams.supervised_only:
            return self._supervised_step(batch, batch_idx)
        x_lab, y_lab, x_unl, x_unl2 = batch
        opt_d, opt_g = self.optimizers()
        n = x_unl.shape[0]
        self._apply_lr_schedule(batch_idx)

        # D step
        with torch.no_grad():
            x_fake, y_fake = self.sample(n)
        lab, unl, fake = self._discriminate(x_lab, x_unl, x_fake)
        loss_lab = supervised_loss(lab.logits, y_lab)
        d_terms = self.d_objective.discriminator_loss(
            GANBatch(unl, fake, x_unl, x_fake, labeled=lab, y_lab=y_lab, y_fake=y_fake))
        loss_d = loss_lab + self.hparams.unlabeled_weight * d_terms["loss"]
        technique_logs = {}
        loss_d = self._add_historical_average(loss_d, self.d_history, "train/ha_d", technique_logs)
        opt_d.zero_grad(set_to_none=True)
        self.manual_backward(loss_d)
        opt_d.step()
        self.d_objective.after_discriminator_step(d_terms)

        # G step: D is frozen, so only G (and G-side heads) get gradients
        with self.toggled_optimizer(opt_g):
            x_fake, y_fake = self.sample(n)
            with torch.no_grad():
                real = self.discriminator(x_unl2)
            fake = self.discriminator(x_fake)
            g_terms = self.g_objective.generator_loss(
                GANBatch(real, fake, x_unl2, x_fake, y_fake=y_fake))
            loss_g = self._add_historical_average(g_terms["loss"], self.g_history, "train/ha_g",
                                                  technique_logs)
            opt_g.zero_grad(set_to_none=True)
            self.manual_backward(loss_g)
            opt_g.step()

        if self.ema is not None:
            self.ema.update(self.discriminator)

        train_err = (lab.logits.detach().argmax(1) != y_lab).float().mean()
        logs = {"train/loss_d": loss_d.detach(), "train/loss_lab": loss_lab.detach(),
                "train/loss_g": loss_g.detach(), "train/err_lab": train_err, **technique_logs}
        for terms in (d_terms, g_terms):
            logs.update({f"train/{k}": v.detach() for k, v in terms.items() if k != "loss"})
        self._accumulate_train_logs(logs)
        # handed to callbacks (on_train_batch_end's ``outputs``), e.g. a divergence guard
        return {"loss_d": logs["train/loss_d"], "loss_g": logs["train/loss_g"], "x_fake": x_fake.detach()}

    def _discriminate(self, *xs: Tensor) -> list[DOutput]:
        """D's outputs for several groups of images, one forward pass when it is valid."""
        d = self.discriminator
        if getattr(d, "couples_batch", False):
            # an image's output depends on its batch (minibatch discrimination): a generated
            # image must only be compared with other generated images, as in the original code
            return [d(x) for x in xs]
        out = d(torch.cat(xs))
        sizes = [x.shape[0] for x in xs]
        return [type(out)(*parts) for parts in zip(*(t.split(sizes) for t in out))]

    @staticmethod
    def _add_historical_average(loss: Tensor, history, key: str, logs: dict) -> Tensor:
        """``loss + ||theta - mean of past theta||^2`` when historical averaging is on; the current
        weights join the history after the penalty is taken (so it is 0 at the first step)."""
        if history is None:
            return loss
        penalty = history.penalty()
        history.record()
        logs[key] = penalty.detach()
        return loss + penalty

    def _supervised_step(self, batch, batch_idx: int) -> dict:
        x_lab, y_lab = batch[0], batch[1]
        self._apply_lr_schedule(batch_idx)
        opt_d = self.optimizers()[0]
        logits = self.discriminator(x_lab).logits
        loss = supervised_loss(logits, y_lab)
        opt_d.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        opt_d.step()
        if self.ema is not None:
            self.ema.update(self.discriminator)
        err = (logits.detach().argmax(1) != y_lab).float().mean()
        self._accumulate_train_logs({"train/loss_lab": loss.detach(), "train/err_lab": err})
        return {"loss_d": loss.detach()}

    # -- training logs -------------------------------------------------------------------------
    # Lightning's self.log costs about 0.5 ms a key on CPU (~8 keys: ~10% of a Fashion-MNIST
    # step, see BENCHMARKS.md), so the step only adds its values into one tensor on the device
    # and the epoch means are logged once, at the end of the epoch (all batches have the same
    # size, so this is the mean Lightning's on_epoch=True would give).
    def _accumulate_train_logs(self, logs: dict[str, Tensor]) -> None:
        keys = tuple(logs)
        if keys != self._train_log_keys:
            self._flush_train_logs()
            self._train_log_keys = keys
        values = torch.stack([v.detach().float().reshape(()) for v in logs.values()])
        if self._train_log_sums is None:
            self._train_log_sums, self._train_log_count = values, 1
        else:
            self._train_log_sums.add_(values)
            self._train_log_count += 1

    def _flush_train_logs(self) -> None:
        if self._train_log_sums is not None and self._train_log_count:
            means = self._train_log_sums / self._train_log_count
            self.log_dict(dict(zip(self._train_log_keys, means.unbind())), on_step=False,
                          on_epoch=True, sync_dist=True)
        self._train_log_sums, self._train_log_count = None, 0

    def on_train_epoch_start(self) -> None:
        self._train_log_sums, self._train_log_count = None, 0

    def on_train_epoch_end(self) -> None:
        self._flush_train_logs()

    # -- evaluation ----------------------------------------------------------------------------
    def _eval_step(self, batch, metric: MulticlassAccuracy, prefix: str) -> None:
        x, y = batch
        logits = self.eval_discriminator(x).logits
        metric.update(logits, y)
        self.log(f"{prefix}/loss", F.cross_entropy(logits, y), on_epoch=True, batch_size=len(y),
                 sync_dist=True)

    def validation_step(self, batch, batch_idx: int) -> None:
        self._eval_step(batch, self.val_acc, "val")

    def on_validation_epoch_end(self) -> None:
        acc = self.val_acc.compute()
        self.log_dict({"val/acc": acc, "val/error": 1 - acc})
        self.val_acc.reset()

    def test_step(self, batch, batch_idx: int) -> None:
        self._eval_step(batch, self.test_acc, "test")

    def on_test_epoch_end(self) -> None:
        acc = self.test_acc.compute()
        self.log_dict({"test/acc": acc, "test/error": 1 - acc})
        self.test_acc.reset()
