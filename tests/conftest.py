import os
import warnings

import pytest
import torch

from ssgan.runs import quiet_library_noise

# tiny networks: one thread is as fast and never oversubscribes a shared machine
torch.set_num_threads(1)
quiet_library_noise()


@pytest.fixture
def quiet_trainer_args(tmp_path):
    """CLI arguments that keep a test run small, silent and inside tmp_path."""
    return ["--trainer.enable_progress_bar", "false",
            "--trainer.logger.init_args.save_dir", str(tmp_path / "runs"),
            "--data.data_root", str(tmp_path / "data")]
