"""Session 14: how often the confident predictions of a trained checkpoint are right on the
unlabeled images, per class: the precision of the k most confident unlabeled images predicted
as each class, and of a confidence threshold. Run to judge pseudo-labels taken after the plateau.
    python bench/results/session14/pseudo_label_precision.py CKPT"""
import torch, sys
from ssgan.evaluation import datamodule_from_checkpoint, load_checkpoint
torch.set_num_threads(2)
model, ckpt = load_checkpoint(sys.argv[1])
dm = datamodule_from_checkpoint(ckpt)
d = model.eval_discriminator.eval()
data = dm.data
unl = torch.as_tensor(dm.unlabeled_indices)
x = data.x_train[unl]; y = data.y_train[unl]
with torch.no_grad():
    lg = torch.cat([d(x[i:i+2000]).logits for i in range(0, len(x), 2000)])
p = lg.softmax(1); conf, pred = p.max(1)
print("unlabeled err", (pred != y).float().mean().item())
for k in [100, 300, 500, 1000, 2000, 3000]:
    sel = []
    accs = []
    for c in range(10):
        idx = (pred == c).nonzero().squeeze(1)
        top = idx[conf[idx].argsort(descending=True)[:k]]
        accs.append((y[top] == c).float().mean().item())
        sel.append(top)
    sel = torch.cat(sel)
    print(k, "precision %.4f" % (y[sel] == pred[sel]).float().mean().item(), " ".join("%.2f" % a for a in accs))
for t in [0.9, 0.95, 0.99]:
    m = conf >= t
    print("thr", t, "frac %.3f" % m.float().mean().item(), "prec %.4f" % (pred[m] == y[m]).float().mean().item(), torch.bincount(pred[m], minlength=10).tolist())
