"""Post-hoc readouts of trained checkpoints on the test split (EMA weights, evaluation mode):
D's K-class head (the usual figure) and its error per class, against classifiers on D's
feature-matching features (L2-normalised): the nearest labeled image (1-NN, cosine) and the
nearest class mean of the labeled images (``--model.readout class_mean``'s code); and the head
with its class logits shifted by one constant per class so that its mean K-class prediction
over the unlabeled images is uniform (``--model.align_prior``:
:func:`ssgan.classifier.prior_shift` on 10,000 unlabeled images). With ``--mirror``, for data
whose classes survive a left-right mirror, also the head averaged over each image and its
mirror (softmax mean) and the 1-NN over the labeled images plus their mirrors. With
``--spread k:alpha[,k:alpha...]``, also scikit-learn's LabelSpreading (the baseline's code,
:func:`ssgan.baselines.label_spreading`) on those features of all training images instead of
pixels, with k neighbours and clamping factor alpha (as session 7's
``bench/results/session7/label_spreading_features.py``).
    python bench/posthoc_readouts.py OUT.json CKPT [CKPT ...] [--mirror] [--spread 10:0.99]
Used in BENCHMARKS.md sessions 7 (without ``--mirror``), 10, 11, 13 and 16 (with it)."""
import argparse
import json

import torch
import torch.nn.functional as F

from ssgan.classifier import class_mean_logits, class_means_of
from ssgan.evaluation import datamodule_from_checkpoint, load_checkpoint


def readouts(path: str, mirror: bool, spread=()) -> dict:
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
    # --model.readout class_mean's readout, through the same code
    means = class_means_of(fl, ylab, num_classes)
    head = lt.argmax(1)
    r = {"head": err(head), "1nn_features": err(nn1),
         "class_mean_features": err(class_mean_logits(ft, means).argmax(1)), "feature_dim": ft.shape[1],
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
    if spread:
        # LabelSpreading (ssgan.baselines) on D's L2-normalised features instead of pixels: the
        # pool is every training image (labeled + unlabeled), the test images are labeled by
        # their kNN in the fitted pool (inductive)
        from ssgan.baselines import label_spreading
        pool = torch.cat([lab, torch.as_tensor(dm.unlabeled_indices)]).unique()
        _, fp = run(data.x_train[pool])
        pos = torch.searchsorted(pool, lab)
        fp_n = F.normalize(fp, dim=1).numpy()
        ytr = data.y_train[pool].numpy()
        for k, alpha in spread:
            s = label_spreading(fp_n, ytr, pos.numpy(), ft_n.numpy(), yte.numpy(),
                                n_neighbors=k, alpha=alpha)
            r[f"label_spreading_features_k{k}_a{alpha}"] = round(s["error"] * 100, 2)
            r[f"label_spreading_features_k{k}_a{alpha}_seconds"] = round(s["train_seconds"], 1)
    if mirror:
        ltf, _ = run(data.x_test.flip(-1))
        _, flf = run(data.x_train[lab].flip(-1))
        bank = F.normalize(torch.cat([fl, flf]), dim=1)
        r["head_flip_tta"] = err((F.softmax(lt, 1) + F.softmax(ltf, 1)).argmax(1))
        r["1nn_features_with_mirrored_labels"] = err(torch.cat([ylab, ylab])[(ft_n @ bank.T).argmax(1)])
    return r


def spread_settings(text: str) -> list[tuple[int, float]]:
    try:
        out = [(int(k), float(al)) for k, al in (x.split(":") for x in text.split(",") if x)]
    except ValueError:
        out = None
    if not out or any(k < 1 or not 0 < al < 1 for k, al in out):
        raise argparse.ArgumentTypeError(
            f"expected k:alpha pairs with k >= 1 and 0 < alpha < 1, e.g. 10:0.99,20:0.8; got {text!r}")
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out")
    p.add_argument("checkpoints", nargs="+")
    p.add_argument("--mirror", action="store_true")
    p.add_argument("--spread", default=[], type=spread_settings,
                   help="LabelSpreading on D's features: k:alpha[,k:alpha...], e.g. 10:0.99")
    a = p.parse_args()
    torch.set_num_threads(1)
    out = {}
    for path in a.checkpoints:
        out[path] = readouts(path, a.mirror, a.spread)
        print(path, out[path], flush=True)
    with open(a.out, "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
