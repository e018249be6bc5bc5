"""Steps/s of the plain loop (bench/plain_loop.py) for conv_mlp_mirror.yaml + ClassBalance on
Fashion-MNIST-100 at 2 threads: fp32, bf16-mixed, or D and G compiled (nn.Module.compile).
    PYTHONPATH=. python bench/results/session16/compile_speed.py fp32|bf16|compile"""
import sys, time, torch
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[2]))
from plain_loop import PlainTrainer
from ssgan.data import SSLDataModule
from ssgan.model import SSGAN
from ssgan.networks import ConvMLP
from ssgan.regularizers import Consistency, ClassBalance
torch.set_num_threads(2)
dm = SSLDataModule(dataset="fashion_mnist", num_labels=100); dm.setup("fit")
mode = sys.argv[1]
torch.manual_seed(0)
m = SSGAN(image_shape=dm.image_shape, num_classes=10, lr=1e-3, networks=ConvMLP(conv_widths=[16, 32]),
          regularizers=[Consistency(flip=True), ClassBalance()])
t = PlainTrainer(m, dm, "bf16-mixed" if "bf16" in mode else "32-true")
if "compile" in mode:
    m.discriminator.compile(dynamic=False)
    m.generator.compile(dynamic=False)
t0 = time.perf_counter(); t.run_steps(10); print(mode, "warmup 10 steps", round(time.perf_counter() - t0, 1), "s", flush=True)
r = [round(60 / t.run_steps(60), 2) for _ in range(3)]
print(mode, "steps/s", r, flush=True)
