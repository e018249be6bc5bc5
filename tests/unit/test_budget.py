"""The training budget the learning-rate schedule follows: max_steps, max_epochs or max_time
(issue 14, item 7), pinned on stand-in trainers."""

from types import SimpleNamespace

import pytest
from pytorch_lightning.callbacks import Timer

from ssgan.classifier import budget_progress, has_budget, lr_decay_factor


def trainer(max_steps=-1, max_epochs=-1, global_step=0, epoch=0, batches=10, callbacks=()):
    return SimpleNamespace(max_steps=max_steps, max_epochs=max_epochs, global_step=global_step,
                           current_epoch=epoch, num_training_batches=batches,
                           callbacks=list(callbacks))


def timer(duration_s: float, elapsed_s: float) -> Timer:
    t = Timer(duration={"seconds": duration_s})
    # the state a resumed run restores: elapsed training time, the clock not running
    t.load_state_dict({"time_elapsed": {"train": elapsed_s}})
    return t


def test_lr_decay_factor_is_linear_over_the_last_part():
    # decay over the last third: 1 until 2/3 of the budget, then (1 - p) / (1/3)
    assert lr_decay_factor(0.5, 2 / 3) == 1.0
    assert lr_decay_factor(5 / 6, 2 / 3) == pytest.approx(0.5)
    assert lr_decay_factor(0.9, 0.5) == pytest.approx(0.2)
    assert lr_decay_factor(1.2, 0.5) == 0.0


def test_progress_of_a_step_budget_counts_optimizer_steps():
    # the GAN: 2 optimizer steps per batch; 300 of 1000 steps done
    t = trainer(max_steps=1000, global_step=300, epoch=7, batches=13)
    assert budget_progress(t, batch_idx=4) == pytest.approx(0.3)
    assert lr_decay_factor(budget_progress(t, 4), 0.2) == pytest.approx(0.875)


def test_progress_of_an_epoch_budget_counts_batches():
    # epoch 3, batch 5 of 10, of 8 epochs: 3.5 / 8
    t = trainer(max_epochs=8, global_step=123, epoch=3, batches=10)
    assert budget_progress(t, batch_idx=5) == pytest.approx(0.4375)
    assert lr_decay_factor(budget_progress(t, 5), 0.25) == pytest.approx(0.75)


def test_progress_of_a_time_budget_is_the_elapsed_fraction():
    t = trainer(callbacks=[timer(duration_s=120.0, elapsed_s=90.0)])
    assert budget_progress(t, batch_idx=0) == pytest.approx(0.75)
    assert lr_decay_factor(budget_progress(t, 0), 0.5) == pytest.approx(0.5)


def test_with_several_limits_the_one_that_ends_the_run_first_rules():
    t = trainer(max_steps=1000, global_step=100, max_epochs=4, epoch=2, batches=10,
                callbacks=[timer(duration_s=100.0, elapsed_s=30.0)])
    assert budget_progress(t, batch_idx=0) == pytest.approx(0.5)  # epochs: 2 / 4
    t.max_epochs = 40
    assert budget_progress(t, batch_idx=0) == pytest.approx(0.3)  # time: 30 / 100


def test_no_limit_no_budget():
    t = trainer()
    assert budget_progress(t, 0) is None and not has_budget(t)
    t.max_epochs = None  # Lightning's "not given"
    assert not has_budget(t)
    assert has_budget(trainer(callbacks=[timer(60.0, 0.0)]))
    assert has_budget(trainer(max_steps=4))


def test_sweep_gives_the_supervised_baseline_the_gans_batches_and_not_its_options():
    """``evaluate.py sweep ... -- EXTRA``: the supervised row trains on as many batches as the
    GAN (Lightning's max_steps counts the GAN's D and G steps) and without the GAN's options,
    which its module does not take."""
    from ssgan.sweep import supervised_extra_args

    extra = ["--model.regularizers+=Consistency", "--model.regularizers.weight", "3",
             "--trainer.max_steps", "8000", "--model.lr", "0.001", "--model.objective", "LSGAN",
             "--model.objective.a", "-1", "--model.unlabeled_weight=0", "--data.augment_translate",
             "2", "--model.init_args.lr_g", "0.01", "--model.networks.input_noise", "0.2"]
    assert supervised_extra_args(extra) == [
        "--trainer.max_steps", "4000", "--model.lr", "0.001", "--data.augment_translate", "2",
        "--model.networks.input_noise", "0.2"]
    assert supervised_extra_args(["--trainer.max_steps=600"]) == ["--trainer.max_steps", "300"]
    assert supervised_extra_args(["--trainer.max_steps", "-1"]) == ["--trainer.max_steps", "-1"]
