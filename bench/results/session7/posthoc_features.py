"""Post-hoc probe of trained checkpoints: the test error of D's K-class head (EMA weights,
evaluation mode) against two classifiers on D's feature-matching features (L2-normalised):
the nearest labeled image (1-NN, cosine) and the nearest class mean of the labeled images.
    python bench/results/session7/posthoc_features.py OUT.json CKPT [CKPT ...]"""
import json, sys, torch
from ssgan.evaluation import load_checkpoint, datamodule_from_checkpoint
torch.set_num_threads(1)
out = {}
for path in sys.argv[2:]:
    model, ckpt = load_checkpoint(path)
    dm = datamodule_from_checkpoint(ckpt)
    d = model.eval_discriminator.eval()
    data = dm.data
    lab = torch.as_tensor(dm.labeled_indices)
    with torch.no_grad():
        o = [d(data.x_test[i:i + 2000]) for i in range(0, len(data.x_test), 2000)]
        lt = torch.cat([x.logits for x in o]); ft = torch.cat([x.features for x in o])
        ol = d(data.x_train[lab])
    yte, ylab = data.y_test, data.y_train[lab]
    nf = lambda f: torch.nn.functional.normalize(f, dim=1)
    ft_n, fl_n = nf(ft), nf(ol.features)
    nn1 = ylab[(ft_n @ fl_n.T).argmax(1)]
    means = nf(torch.stack([fl_n[ylab == k].mean(0) for k in range(10)]))
    proto = (ft_n @ means.T).argmax(1)
    err = lambda p: round((p != yte).float().mean().item() * 100, 2)
    r = {"head": err(lt.argmax(1)), "1nn_features": err(nn1), "class_mean_features": err(proto),
         "feature_dim": ft.shape[1]}
    print(path, r, flush=True)
    out[path] = r
json.dump(out, open(sys.argv[1], 'w'), indent=1)
