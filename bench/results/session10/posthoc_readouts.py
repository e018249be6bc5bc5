"""Post-hoc readouts of trained checkpoints on the test split, for data whose classes survive a
left-right mirror: D's K-class head (EMA weights, the usual figure), the head averaged over the
image and its mirror (softmax mean, test-time augmentation), the nearest labeled image in D's
feature-matching features (1-NN, cosine) with and without the mirrored labeled images, and the
per-class test error of the head.
    python bench/results/session10/posthoc_readouts.py OUT.json CKPT [CKPT ...]"""
import json
import sys

import torch
import torch.nn.functional as F

from ssgan.evaluation import datamodule_from_checkpoint, load_checkpoint

torch.set_num_threads(1)
out = {}
for path in sys.argv[2:]:
    model, ckpt = load_checkpoint(path)
    dm = datamodule_from_checkpoint(ckpt)
    d = model.eval_discriminator.eval()
    data = dm.data
    lab = torch.as_tensor(dm.labeled_indices)

    def run(x):
        with torch.no_grad():
            o = [d(x[i:i + 2000]) for i in range(0, len(x), 2000)]
        return torch.cat([a.logits for a in o]), torch.cat([a.features for a in o])

    xt, xl = data.x_test, data.x_train[lab]
    lt, ft = run(xt)
    ltf, ftf = run(xt.flip(-1))
    _, fl = run(xl)
    _, flf = run(xl.flip(-1))
    yte, ylab = data.y_test, data.y_train[lab]
    nf = lambda f: F.normalize(f, dim=1)
    err = lambda p: round((p != yte).float().mean().item() * 100, 2)
    tta = (F.softmax(lt, 1) + F.softmax(ltf, 1)).argmax(1)
    nn1 = ylab[(nf(ft) @ nf(fl).T).argmax(1)]
    bank, ybank = nf(torch.cat([fl, flf])), torch.cat([ylab, ylab])
    nn1_flip = ybank[(nf(ft) @ bank.T).argmax(1)]
    head = lt.argmax(1)
    per_class = [round(((head != yte) & (yte == k)).sum().item() / (yte == k).sum().item() * 100, 1)
                 for k in range(int(yte.max()) + 1)]
    r = {"head": err(head), "head_flip_tta": err(tta), "1nn_features": err(nn1),
         "1nn_features_with_mirrored_labels": err(nn1_flip), "head_error_per_class": per_class}
    print(path, r, flush=True)
    out[path] = r
json.dump(out, open(sys.argv[1], "w"), indent=1)
