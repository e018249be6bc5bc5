"""Averages over one run's trajectory, from the per-epoch snapshots that
``bench/time_to_accuracy.py --snapshot-dir DIR`` saves (each epoch's test logits and evaluation
weights), against the final weights alone:

* ``ensemble``: the mean of the snapshots' softmax predictions (a snapshot ensemble);
* ``weights``: one network whose weights are the uniform mean of the snapshots' evaluation
  weights (stochastic weight averaging, Izmailov et al. 2018, of the EMA copies), evaluated
  through the run's checkpoint (``--checkpoint``; needs ``--runs-dir``'s ``last.ckpt``).

Each is computed over the snapshots of the last fraction of the run's batches (``--from``,
e.g. 0.5 = the second half). The fractions are fixed beforehand, not chosen on the test set.
With ``--checkpoint`` it also gives, for every snapshot, the error of ``--model.readout
class_mean`` (the nearest class mean of the labeled images' features) beside the head's.
    python bench/snapshot_average.py DIR [--checkpoint CKPT] [--from 0.5 0.75] [--out OUT.json]"""
import argparse
import json
from pathlib import Path

import torch


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("snapshots")
    p.add_argument("--checkpoint", default=None)
    p.add_argument("--from", dest="fractions", type=float, nargs="+", default=[0.5, 0.75])
    p.add_argument("--out", default=None)
    a = p.parse_args()
    files = sorted(Path(a.snapshots).glob("epoch*.pt"))
    snaps = [torch.load(f, weights_only=True) for f in files]
    y = snaps[-1]["y_test"]
    err = lambda logits_or_probs: round((logits_or_probs.argmax(1) != y).float().mean().item() * 100, 2)
    last = snaps[-1]["batches"]
    r = {"snapshots": len(snaps), "last_batches": last, "final": err(snaps[-1]["test_logits"])}
    model = None
    if a.checkpoint:
        from ssgan.evaluation import datamodule_from_checkpoint, load_checkpoint, predict
        model, ckpt = load_checkpoint(a.checkpoint)
        dm = datamodule_from_checkpoint(ckpt)
        x_test = dm.data.x_test
    for f in a.fractions:
        chosen = [s for s in snaps if s["batches"] >= (1 - f) * last]
        probs = torch.stack([s["test_logits"].softmax(1) for s in chosen]).mean(0)
        row = {"snapshots": len(chosen), "first_batches": chosen[0]["batches"], "ensemble": err(probs)}
        if model is not None:
            keys = chosen[0]["eval_weights"].keys()
            avg = {k: (torch.stack([s["eval_weights"][k].float() for s in chosen]).mean(0)
                       .to(chosen[0]["eval_weights"][k].dtype)
                       if chosen[0]["eval_weights"][k].is_floating_point()
                       else chosen[-1]["eval_weights"][k]) for k in keys}
            model.eval_discriminator.load_state_dict(avg)
            row["weights"] = err(predict(model, x_test))
        r[f"last_{f}"] = row
    if model is not None:
        from ssgan.classifier import class_mean_logits, class_means_of
        lab = torch.as_tensor(dm.labeled_indices)
        r["per_snapshot"] = []
        d = model.eval_discriminator.eval()
        for s in snaps:
            d.load_state_dict(s["eval_weights"])
            with torch.no_grad():
                means = class_means_of(d(dm.data.x_train[lab]).features, dm.data.y_train[lab],
                                       model.num_classes)
                feats = torch.cat([d(x_test[i:i + 2000]).features for i in range(0, len(x_test), 2000)])
            r["per_snapshot"].append({"batches": s["batches"], "head": err(s["test_logits"]),
                                      "class_mean": err(class_mean_logits(feats, means))})
    print(json.dumps(r, indent=2))
    if a.out:
        Path(a.out).write_text(json.dumps(r, indent=2))


if __name__ == "__main__":
    main()
