"""Session 17: prediction ensembles of checkpoints trained on the same split (head and class-mean
readouts). Output: ensembles_same_split.txt."""
import itertools, sys, torch, torch.nn.functional as F
from ssgan.classifier import class_mean_logits, class_means_of
from ssgan.evaluation import datamodule_from_checkpoint, load_checkpoint
torch.set_num_threads(2)
P = {}
for path in sys.argv[1:]:
    model, ckpt = load_checkpoint(path); dm = datamodule_from_checkpoint(ckpt)
    d = model.eval_discriminator.eval(); data = dm.data
    lab = torch.as_tensor(dm.labeled_indices)
    def run(x):
        with torch.no_grad():
            o = [d(x[i:i + 2000]) for i in range(0, len(x), 2000)]
        return torch.cat([a.logits for a in o]), torch.cat([a.features for a in o])
    lt, ft = run(data.x_test); _, fl = run(data.x_train[lab]); yte = data.y_test
    cm = class_mean_logits(ft, class_means_of(fl, data.y_train[lab], 10))
    name = path.split("/runs/")[-1].split("/")[0] if "/runs/" in path else path.split("_runs/")[-1].split("/")[0]
    P[name] = (F.softmax(lt, 1), F.softmax(cm, 1))
err = lambda p: (p.argmax(1) != yte).float().mean().item() * 100
for n, (h, c) in P.items():
    print(f"{n}: head {err(h):.2f} cm {err(c):.2f}")
for k in (2, 3):
    for combo in itertools.combinations(P, k):
        h = sum(P[n][0] for n in combo); c = sum(P[n][1] for n in combo)
        print(" + ".join(combo), f"head {err(h):.2f} cm {err(c):.2f} both {err(h / k + c / k):.2f}")
