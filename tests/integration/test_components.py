"""Real training runs with each objective, regularizer and network option, chosen with the
command line of LightningCLI, and their checkpoints reloaded from the checkpoint alone."""

import math
from pathlib import Path

import pytest
import torch

from conftest import logged_metrics
from ssgan.cli import run_training
from ssgan.evaluation import load_checkpoint
from ssgan.model import SSGAN
from ssgan.networks import MLP

TINY = ["--model.networks", "MLP", "--model.networks.preset", "mlp_small",
        "--model.networks.d_hidden", "[64, 32]", "--model.networks.g_hidden", "[64]"]

OBJECTIVE_RUNS = {
    "FeatureMatching": [],
    "Minimax": [],
    "NonSaturating": [],
    "LSGAN": [],
    "LSGAN_pearson": ["--model.objective.a", "-1", "--model.objective.b", "1",
                      "--model.objective.c", "0"],
    "BEGAN": ["--model.objective.gamma", "0.7"],
    "ContraGAN": ["--model.objective.pseudo_labels", "true"],
}
EXPECTED_KEYS = {
    "FeatureMatching": ["loss_unl", "loss_fm", "d_real", "d_fake"],
    "Minimax": ["loss_unl", "loss_g_minimax", "d_real", "d_fake"],
    "NonSaturating": ["loss_unl", "loss_g_ns", "d_real", "d_fake"],
    "LSGAN": ["loss_ls_real", "loss_ls_fake", "loss_ls_g", "d_real", "d_fake"],
    "BEGAN": ["began_k", "began_m_global", "began_l_real", "began_l_fake", "loss_began_g",
              "d_real", "d_fake"],
    "ContraGAN": ["loss_unl", "loss_2c_real", "loss_2c_fake", "loss_g_adv", "d_real", "d_fake"],
}


def train(args, extra):
    return run_training(args + TINY + ["--trainer.max_steps", "6",
                                       "--data.eval_batch_size", "500"] + extra)


@pytest.mark.parametrize("run", list(OBJECTIVE_RUNS))
def test_objective_trains_on_digits_and_checkpoint_loads(run, quiet_trainer_args):
    name = run.split("_")[0]
    metrics, run_dir = train(quiet_trainer_args, ["--model.objective", name, *OBJECTIVE_RUNS[run]])
    logged = logged_metrics(run_dir)
    for key in ["loss_d", "loss_g", "loss_lab"] + EXPECTED_KEYS[name]:
        assert math.isfinite(logged[f"train/{key}"]), key
    assert math.isfinite(metrics["test/error"])
    model, _ = load_checkpoint(run_dir / "checkpoints" / "last.ckpt")
    assert type(model.d_objective).__name__ == name  # rebuilt from the checkpoint alone
    if run == "LSGAN_pearson":
        assert (model.d_objective.a, model.d_objective.c) == (-1.0, 0.0)
    if name == "BEGAN":
        assert model.d_objective.gamma == 0.7 and 0.0 <= float(model.d_objective.k) <= 1.0
    images, _ = model.sample(3)
    assert images.shape == (3, 1, 8, 8) and torch.isfinite(images).all()


TECHNIQUE_RUNS = {
    "minibatch_discrimination": ["--model.networks.minibatch_discrimination", "true",
                                 "--model.networks.minibatch_kernels", "16",
                                 "--model.networks.minibatch_kernel_dim", "3"],
    "historical_averaging": ["--model.regularizers+=HistoricalAveraging",
                             "--model.regularizers.weight", "0.01"],
    "virtual_batchnorm": ["--model.networks.virtual_batchnorm", "true"],
    "all_with_contragan": ["--model.objective", "ContraGAN",
                           "--model.objective.label_smoothing", "0.1",
                           "--model.networks.virtual_batchnorm", "true",
                           "--model.networks.minibatch_discrimination", "true",
                           "--model.networks.minibatch_kernels", "16",
                           "--model.regularizers+=HistoricalAveraging",
                           "--model.regularizers.weight", "0.01"],
}


@pytest.mark.parametrize("run", list(TECHNIQUE_RUNS))
def test_technique_trains_on_digits_and_checkpoint_loads(run, quiet_trainer_args):
    args = TECHNIQUE_RUNS[run]
    metrics, run_dir = train(quiet_trainer_args + ["--seed_everything", "3"], args)
    logged = logged_metrics(run_dir)
    for key in ("loss_d", "loss_g", "loss_lab", "d_real", "d_fake"):
        assert math.isfinite(logged[f"train/{key}"]), key
    assert math.isfinite(metrics["test/error"])
    model, ckpt = load_checkpoint(run_dir / "checkpoints" / "last.ckpt")
    if "--model.regularizers+=HistoricalAveraging" in args:
        assert logged["train/ha_d"] > 0 and logged["train/ha_g"] > 0
        (ha,) = model.regularizers
        assert ha.weight == 0.01
        assert int(ha.histories["discriminator"].count) == 3  # one record per training step
    if "--model.networks.virtual_batchnorm" in args:
        # the reference batch in the checkpoint is the one the run drew when it built G:
        # rebuilding the same networks from the same seed draws it again
        torch.manual_seed(3)
        again = SSGAN(objective=type(model.g_objective)(), networks=MLP(
            "mlp_small", d_hidden=[64, 32], g_hidden=[64], virtual_batchnorm=True,
            minibatch_discrimination=model.discriminator.couples_batch, minibatch_kernels=16))
        assert torch.equal(again.generator.ref_z, ckpt["state_dict"]["generator.ref_z"])
    if "--model.networks.minibatch_discrimination" in args:
        assert model.discriminator.couples_batch and model.ema.module.couples_batch
        assert model.discriminator.minibatch.num_kernels == 16
    images, _ = model.sample(2)
    assert torch.isfinite(images).all()


def test_label_smoothing_changes_the_discriminator_loss_in_a_real_run(quiet_trainer_args):
    # one step, the same seed and batches: D's outputs are the same, and with smoothing s the
    # real term of L_unl gains s * (softplus(lse) - softplus(-lse)) = s * lse per real image
    runs = [train(quiet_trainer_args + ["--trainer.logger.init_args.name", f"s{s}"],
                  ["--model.objective.label_smoothing", s, "--trainer.max_steps", "2"])
            for s in ("0.0", "0.3")]
    plain, smoothed = (logged_metrics(run_dir) for _, run_dir in runs)
    assert smoothed["train/loss_unl"] != pytest.approx(plain["train/loss_unl"], rel=1e-4)
    assert smoothed["train/loss_lab"] == pytest.approx(plain["train/loss_lab"], rel=1e-6)


def test_each_component_lists_its_own_options(capsys):
    from ssgan.cli import build_cli

    for option, name, expected in (("objective", "LSGAN", ["--objective.a", "--objective.output"]),
                                   ("networks", "Conv", ["--networks.d_widths", "--networks.dropout"]),
                                   ("regularizers", "HistoricalAveraging", ["--regularizers.player"])):
        with pytest.raises(SystemExit):
            build_cli([f"--model.{option}.help", name])
        text = capsys.readouterr().out
        assert all(flag in text for flag in expected), text
        assert "--objective.gamma" not in text  # BEGAN's option is not LSGAN's


def test_recommended_preset_adds_the_consistency_term_to_any_run(quiet_trainer_args):
    """``configs/recommended.yaml`` composes with other configs and options: the run keeps the
    2016 recipe's parts and gains D's consistency term (logged), and so does its checkpoint."""
    repo = Path(__file__).resolve().parents[2]
    metrics, run_dir = train(quiet_trainer_args,
                             ["--config", str(repo / "configs" / "recommended.yaml"),
                              "--model.regularizers+=PseudoLabel",
                              "--model.regularizers.threshold", "0.5"])
    logged = logged_metrics(run_dir)
    assert logged["train/loss_consistency"] >= 0 and 0 <= logged["train/pseudo_mask"] <= 1
    model, _ = load_checkpoint(run_dir / "checkpoints" / "last.ckpt")
    assert [type(r).__name__ for r in model.regularizers] == ["Consistency", "PseudoLabel"]
    assert model.regularizers[1].threshold == 0.5
    assert type(model.d_objective).__name__ == "FeatureMatching"
    assert math.isfinite(metrics["test/error"])


def _train_small_conv_mlp_after_recommended(quiet_trainer_args, config: str):
    """6 steps with ``configs/recommended.yaml`` then ``configs/<config>`` (ConvMLP with small
    dense layers); checks the consistency term and the test error are finite and returns the
    model rebuilt from the checkpoint alone."""
    repo = Path(__file__).resolve().parents[2]
    metrics, run_dir = run_training(quiet_trainer_args + [
        "--config", str(repo / "configs" / "recommended.yaml"),
        "--config", str(repo / "configs" / config),
        "--model.networks.d_hidden", "[32]", "--model.networks.g_hidden", "[32]",
        "--trainer.max_steps", "6", "--data.eval_batch_size", "500"])
    assert math.isfinite(logged_metrics(run_dir)["train/loss_consistency"])
    assert math.isfinite(metrics["test/error"])
    model, _ = load_checkpoint(run_dir / "checkpoints" / "last.ckpt")
    return model


def test_conv_mlp_config_composes_and_its_checkpoint_loads(quiet_trainer_args):
    """``configs/conv_mlp.yaml`` after the recommended recipe: the run trains the ConvMLP
    networks with the consistency term, and the checkpoint alone rebuilds them."""
    from ssgan.networks import ConvMLPDiscriminator

    model = _train_small_conv_mlp_after_recommended(quiet_trainer_args, "conv_mlp.yaml")
    d = model.discriminator
    assert isinstance(d, ConvMLPDiscriminator)
    assert [c.v.shape[0] for c in d.convs] == [16, 32] and d.feature_dim == 32
    assert [type(r).__name__ for r in model.regularizers] == ["Consistency"]


def test_conv_mlp_mirror_config_sets_network_mirrored_consistency_and_lr(quiet_trainer_args):
    """``configs/conv_mlp_mirror.yaml`` (the measured Fashion-MNIST recipe) replaces the
    recommended recipe's term list: one Consistency term with mirrored views, ConvMLP, lr 1e-3;
    the checkpoint alone restores all three."""
    from ssgan.networks import ConvMLPDiscriminator

    model = _train_small_conv_mlp_after_recommended(quiet_trainer_args, "conv_mlp_mirror.yaml")
    assert isinstance(model.discriminator, ConvMLPDiscriminator)
    assert [type(r).__name__ for r in model.regularizers] == ["Consistency"]
    assert model.regularizers[0].flip and model.regularizers[0].translate == 0
    assert model.hparams.lr == 0.001


def test_conv_mlp_mirror_30min_config_adds_a_cosine_head_class_balance_and_a_time_budget(
        quiet_trainer_args):
    """``configs/conv_mlp_mirror_30min.yaml`` (the measured 30-minute Fashion-MNIST recipe) is
    ``conv_mlp_mirror.yaml`` plus a cosine head of scale 10 and input noise 0.15 for D and
    ClassBalance(0.3) on predictions sharpened at temperature 0.25, read with D's head, at lr
    0.002 decaying over the second half, and ends the run by time: the checkpoint alone restores
    the head and the terms, and the file's budget is 30 minutes with no epoch limit (Lightning
    stops at the first limit reached)."""
    import yaml

    from ssgan.networks.layers import CosineLinear

    repo = Path(__file__).resolve().parents[2]
    model = _train_small_conv_mlp_after_recommended(quiet_trainer_args, "conv_mlp_mirror_30min.yaml")
    assert isinstance(model.discriminator.out, CosineLinear) and model.discriminator.out.scale == 10
    assert model.discriminator.input_noise.sigma == 0.15
    assert [type(r).__name__ for r in model.regularizers] == ["Consistency", "ClassBalance"]
    assert model.regularizers[0].flip and model.regularizers[1].weight == 0.3
    assert model.regularizers[1].temperature == 0.25
    assert model.hparams.lr == 0.002 and model.hparams.lr_decay_start == 0.5
    assert model.hparams.readout == "head"
    trainer = yaml.safe_load((repo / "configs" / "conv_mlp_mirror_30min.yaml").read_text())["trainer"]
    assert trainer == {"max_time": "00:00:30:00", "max_epochs": -1}


def test_align_prior_shift_is_tested_saved_and_used_by_every_prediction(quiet_trainer_args, tmp_path):
    """``--model.align_prior true``: the class-logit shift is computed on the unlabeled images,
    makes D's mean prediction there uniform, travels in ``last.ckpt``, and the reloaded
    classifier predicts with it (``predict_logits`` and the exported program agree); a run
    without it keeps its state_dict keys (so older checkpoints still load)."""
    import torch.nn.functional as F

    from ssgan.data.module import SSLDataModule
    from ssgan.export import ExportedClassifier

    metrics, run_dir = train(quiet_trainer_args, ["--model.align_prior", "true",
                                                  "--trainer.max_steps", "40"])
    assert math.isfinite(metrics["test/error"])
    model, ckpt = load_checkpoint(run_dir / "checkpoints" / "last.ckpt")
    shift = ckpt["state_dict"]["class_logit_shift"]
    assert shift.shape == (10,) and float(shift.abs().max()) > 0
    assert torch.equal(model.class_logit_shift, shift)
    dm = SSLDataModule(data_root=quiet_trainer_args[-1])
    dm.setup()
    x = dm.data.x_train[torch.as_tensor(dm.unlabeled_indices)]
    raw = model.eval_discriminator(x).logits.detach()
    aligned = model.predict_logits(x)
    assert torch.allclose(aligned, raw + shift)
    # the shift was set on up to ALIGN_PRIOR_IMAGES of these images (all of digits' pool)
    assert torch.allclose(F.softmax(aligned, 1).mean(0), torch.full((10,), 0.1), atol=1e-3)
    assert not torch.allclose(F.softmax(raw, 1).mean(0), torch.full((10,), 0.1), atol=1e-3)
    exported = ExportedClassifier(model.eval_discriminator, 1.0, model.class_logit_shift)
    assert torch.allclose(exported(x[:50]), F.softmax(aligned[:50], 1), atol=1e-6)
    _, plain_dir = train(quiet_trainer_args, ["--trainer.max_steps", "2"])
    plain = torch.load(plain_dir / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]
    assert "class_logit_shift" not in plain


def test_class_mean_readout_is_saved_and_used_by_every_prediction(quiet_trainer_args):
    """``--model.readout class_mean``: the class means are those of the labeled images' features
    under the evaluation weights, travel in ``last.ckpt``, and every prediction uses them (the
    test metrics, ``predict_logits``, ``suggest``'s probabilities and the exported program);
    with ``align_prior`` the shift is computed on these logits."""
    import torch.nn.functional as F

    from ssgan.classifier import class_mean_logits, class_means_of
    from ssgan.data.module import SSLDataModule
    from ssgan.export import ExportedClassifier
    from ssgan.suggest import features_and_probs

    metrics, run_dir = train(quiet_trainer_args, ["--model.readout", "class_mean",
                                                  "--model.align_prior", "true",
                                                  "--trainer.max_steps", "40"])
    model, ckpt = load_checkpoint(run_dir / "checkpoints" / "last.ckpt")
    dm = SSLDataModule(data_root=quiet_trainer_args[-1])
    dm.setup()
    lab = torch.as_tensor(dm.labeled_indices)
    d = model.eval_discriminator.eval()
    with torch.no_grad():
        means = class_means_of(d(dm.data.x_train[lab]).features, dm.data.y_train[lab], 10)
        out = d(dm.data.x_test)
    assert torch.allclose(ckpt["state_dict"]["class_means"], means, atol=1e-5)
    assert torch.allclose(model.class_means, means, atol=1e-5)
    shift = model.class_logit_shift
    logits = model.predict_logits(dm.data.x_test)
    expected = class_mean_logits(out.features, means) + shift
    assert torch.allclose(logits, expected, atol=1e-4)
    # the readout differs from the head's, so each check below can tell them apart
    assert not torch.equal(logits.argmax(1), (out.logits + shift).argmax(1))
    error = (logits.argmax(1) != dm.data.y_test).float().mean().item()
    assert abs(metrics["test/error"] - error) < 1e-6
    _, probs = features_and_probs(model, dm.data.x_test[:50])
    assert torch.allclose(probs, F.softmax(expected[:50], 1), atol=1e-5)
    exported = ExportedClassifier(d, 1.0, shift, model.class_means)
    assert torch.allclose(exported(dm.data.x_test[:50]), F.softmax(expected[:50], 1), atol=1e-5)
