"""``evaluate.py export``: a classifier that runs with torch alone.

    python evaluate.py export CHECKPOINT --out classifier.pt2

Writes a ``torch.export`` program (``torch.export.save``) of the evaluation weights (the EMA
copy of D when enabled) with the preprocessing inside:

* input: a uint8 tensor (N, C, H, W) in the training image size (N may vary);
* inside: ``x.float() / scale`` (as the training data was scaled), D, and a softmax over the K
  class logits (the GAN's implicit "fake" logit is not a class);
* output: (N, K) class probabilities, equal to ``evaluate.py predict``'s.

``classifier.json`` beside it holds the class names, the input shape and how training
preprocessed images (resize filter, channels, scaling), so that a user can bring new images to
the input shape. Loading needs only torch::

    program = torch.export.load("classifier.pt2").module()
    probs = program(images_uint8)
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path
from typing import Optional

import torch
from torch import Tensor, nn

from .classifier import read_class_logits
from .errors import SSGANError


class ExportedClassifier(nn.Module):
    """uint8 images -> class probabilities, as the checkpoint's evaluation weights give them."""

    def __init__(self, discriminator: nn.Module, scale: float, shift: Optional[Tensor] = None,
                 class_means: Optional[Tensor] = None):
        super().__init__()
        self.discriminator = discriminator
        self.scale = float(scale)
        # the checkpoint's --model.align_prior shift of the class logits (0 without it)
        self.register_buffer("shift", torch.zeros(()) if shift is None else shift.detach().float().clone())
        # the checkpoint's --model.readout class_mean means (None: D's head)
        self.register_buffer("class_means", None if class_means is None else class_means.detach().float().clone())

    def forward(self, x: Tensor) -> Tensor:
        logits = read_class_logits(self.discriminator(x.to(torch.float32) / self.scale), self.class_means)
        return torch.softmax(logits + self.shift, dim=1)


def export_checkpoint(checkpoint: str, out: str | Path) -> dict:
    """Write ``out`` (.pt2) and ``classifier.json`` beside it; returns the JSON's content."""
    from .evaluation import load_checkpoint
    from .predict import Preprocessing
    out = Path(out)
    if out.suffix != ".pt2":
        raise SSGANError(f"--out {out}: the exported program is a .pt2 file")
    model, ckpt = load_checkpoint(checkpoint)
    prep = Preprocessing.from_checkpoint(model, ckpt)
    d = copy.deepcopy(model.eval_discriminator).cpu().eval().requires_grad_(False)
    module = ExportedClassifier(d, prep.scale, getattr(model, "class_logit_shift", None),
                                getattr(model, "class_means", None)).eval()
    c, h, w = prep.image_shape
    example = torch.randint(0, int(prep.scale) + 1, (2, c, h, w), dtype=torch.uint8)
    batch = torch.export.Dim("batch", min=1)
    try:
        with torch.no_grad():
            program = torch.export.export(module, (example,), dynamic_shapes=({0: batch},))
    except Exception as e:  # torch.export reports unsupported code with many types
        raise SSGANError(f"torch.export could not trace this checkpoint's network: "
                         f"{' '.join(str(e).split())[:300]}") from None
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.export.save(program, str(out))
    info = {"program": out.name, "classes": prep.classes,
            "input": {"dtype": "uint8", "shape": ["N", c, h, w], "layout": "NCHW",
                      "range": f"0..{int(prep.scale)}"},
            "output": {"shape": ["N", len(prep.classes)],
                       "meaning": "class probabilities (softmax over the K class logits)"},
            "preprocessing": prep.describe(),
            "load": "torch.export.load(path).module()(images_uint8)",
            "checkpoint": str(checkpoint), "torch": torch.__version__}
    (out.parent / "classifier.json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def main(args: list[str]) -> None:
    p = argparse.ArgumentParser(prog="evaluate.py export", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", help="a .ckpt written by train.py")
    p.add_argument("--out", required=True, help="the .pt2 file to write (classifier.json "
                                                "goes beside it)")
    ns = p.parse_args(args)
    info = export_checkpoint(ns.checkpoint, ns.out)
    size = Path(ns.out).stat().st_size
    print(f"wrote {ns.out} ({size / 1e6:.2f} MB) and {Path(ns.out).parent / 'classifier.json'}: "
          f"uint8 {info['input']['shape']} -> probabilities over {len(info['classes'])} classes",
          file=sys.stderr)
