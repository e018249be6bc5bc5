"""Readouts of D's L2-normalised features on trained checkpoints (test error %): the nearest class
mean of the labeled images (as bench/posthoc_readouts.py), and that mean refined with the
unlabeled training images by k-means (hard assignment, labeled images fixed to their class,
ITER iterations) or by the head's soft predictions (each class mean = the mean of all
training features weighted by the head's probability of that class, labeled ones one-hot).
    PYTHONPATH=. python bench/results/session16/ncm_refine.py OUT.json CKPT [CKPT ...]"""
import json
import sys

import torch
import torch.nn.functional as F

from ssgan.evaluation import datamodule_from_checkpoint, load_checkpoint

torch.set_num_threads(1)


def features(d, x):
    with torch.no_grad():
        o = [d(x[i:i + 2000]) for i in range(0, len(x), 2000)]
    return torch.cat([a.logits for a in o]), F.normalize(torch.cat([a.features for a in o]), dim=1)


def main():
    out = {}
    for path in sys.argv[2:]:
        model, ckpt = load_checkpoint(path)
        dm = datamodule_from_checkpoint(ckpt)
        d = model.eval_discriminator.eval()
        data = dm.data
        lab, unl = torch.as_tensor(dm.labeled_indices), torch.as_tensor(dm.unlabeled_indices)
        lt, ft = features(d, data.x_test)
        lu, fu = features(d, data.x_train[unl])
        _, fl = features(d, data.x_train[lab])
        yte, ylab = data.y_test, data.y_train[lab]
        k = int(yte.max()) + 1
        err = lambda pred: round((pred != yte).float().mean().item() * 100, 2)
        onehot = F.one_hot(ylab, k).float()
        means = F.normalize(onehot.T @ fl, dim=1)
        r = {"head": err(lt.argmax(1)), "class_mean": err((ft @ means.T).argmax(1))}
        m = means
        for it in range(1, 11):
            assign = F.one_hot((fu @ m.T).argmax(1), k).float()
            m = F.normalize(onehot.T @ fl + assign.T @ fu, dim=1)
            if it in (1, 3, 10):
                r[f"kmeans_{it}"] = err((ft @ m.T).argmax(1))
        p = lu.softmax(1)
        mh = F.normalize(onehot.T @ fl + p.T @ fu, dim=1)
        r["head_weighted_means"] = err((ft @ mh.T).argmax(1))
        hard = F.one_hot(lu.argmax(1), k).float()
        r["head_hard_means"] = err((ft @ F.normalize(onehot.T @ fl + hard.T @ fu, dim=1).T).argmax(1))
        print(path, r, flush=True)
        out[path] = r
    json.dump(out, open(sys.argv[1], "w"), indent=1)


main()
