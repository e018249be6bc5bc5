"""RSS of one process running several short Fashion-MNIST trainings one after the other
(as ``evaluate.py sweep`` does): it should not grow by a dataset copy per run.

    python bench/memory_runs.py [RUNS]
"""

import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from time_to_accuracy import rss_mib  # noqa: E402

from ssgan.cli import run_training  # noqa: E402
from ssgan.runs import quiet_library_noise  # noqa: E402


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    torch.set_num_threads(1)
    quiet_library_noise()
    for i in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            run_training(["--config", "configs/fashion_mnist.yaml", "--trainer.max_steps", "10",
                          "--trainer.enable_progress_bar", "false", "--test", "false",
                          "--trainer.logger.init_args.save_dir", tmp])
        print(f"after run {i + 1}: RSS {rss_mib():.0f} MiB", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
