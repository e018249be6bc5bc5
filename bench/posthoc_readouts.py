"""Post-hoc readouts of trained checkpoints on the test split (EMA weights, evaluation mode):
D's K-class head (the usual figure) and its error per class, against classifiers on D's
feature-matching features (L2-normalised): the nearest labeled image (1-NN, cosine) and the
nearest class mean of the labeled images; and the head with its class logits shifted by one
constant per class so that its mean K-class prediction over the unlabeled images is uniform
(``--model.align_prior``: :func:`ssgan.classifier.prior_shift` on 10,000 unlabeled images).
With ``--mirror``, for data whose classes survive a left-right mirror, also the head averaged
over each image and its mirror (softmax mean) and the 1-NN over the labeled images plus their
mirrors.
    python bench/posthoc_readouts.py OUT.json CKPT [CKPT ...] [--mirror]
Used in BENCHMARKS.md sessions 7 (without ``--mirror``), 10 and 11 (with it)."""
import argparse
import json

import torch
import torch.nn.functional as F

from ssgan.evaluation import datamodule_from_checkpoint, load_checkpoint


def readouts(path: str, mirror: bool) -> dict:
    model, ckpt = load_checkpoint(path)
    dm = datamodule_from_checkpoint(ckpt)
    d = model.eval_discriminator.eval()
    data = dm.data
    lab = torch.as_tensor(dm.labeled_indices)

    def run(x):
        with torch.no_grad():
            o = [d(x[i:i + 2000]) for i in range(0, len(x), 2000)]
        return torch.cat([a.logits for a in o]), torch.cat([a.features for a in o])

    lt, ft = run(data.x_test)
    _, fl = run(data.x_train[lab])
    yte, ylab = data.y_test, data.y_train[lab]
    err = lambda p: round((p != yte).float().mean().item() * 100, 2)
    ft_n, fl_n = F.normalize(ft, dim=1), F.normalize(fl, dim=1)
    nn1 = ylab[(ft_n @ fl_n.T).argmax(1)]
    num_classes = int(yte.max()) + 1
    means = F.normalize(torch.stack([fl_n[ylab == k].mean(0) for k in range(num_classes)]), dim=1)
    head = lt.argmax(1)
    r = {"head": err(head), "1nn_features": err(nn1),
         "class_mean_features": err((ft_n @ means.T).argmax(1)), "feature_dim": ft.shape[1],
         "head_error_per_class": [
             round(((head != yte) & (yte == k)).sum().item() / (yte == k).sum().item() * 100, 1)
             for k in range(num_classes)]}
    # --model.align_prior's readout, through the same code as a run with it
    if not hasattr(model, "class_logit_shift"):
        model.register_buffer("class_logit_shift", torch.zeros(num_classes))
    model.align_prior(dm)
    r["head_prior_aligned"] = err(torch.cat([model.predict_logits(data.x_test[i:i + 2000])
                                             for i in range(0, len(yte), 2000)]).argmax(1))
    r["class_logit_shift"] = [round(v, 3) for v in model.class_logit_shift.tolist()]
    ltr, _ = run(data.x_train[torch.as_tensor(dm.unlabeled_indices)])
    r["head_predictions_per_class_unlabeled"] = torch.bincount(ltr.argmax(1), minlength=num_classes).tolist()
    if mirror:
        ltf, _ = run(data.x_test.flip(-1))
        _, flf = run(data.x_train[lab].flip(-1))
        bank = F.normalize(torch.cat([fl, flf]), dim=1)
        r["head_flip_tta"] = err((F.softmax(lt, 1) + F.softmax(ltf, 1)).argmax(1))
        r["1nn_features_with_mirrored_labels"] = err(torch.cat([ylab, ylab])[(ft_n @ bank.T).argmax(1)])
    return r


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out")
    p.add_argument("checkpoints", nargs="+")
    p.add_argument("--mirror", action="store_true")
    a = p.parse_args()
    torch.set_num_threads(1)
    out = {}
    for path in a.checkpoints:
        out[path] = readouts(path, a.mirror)
        print(path, out[path], flush=True)
    with open(a.out, "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
