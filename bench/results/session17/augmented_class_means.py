"""Session 17: class means over augmented labeled images (mirrors, shifts), mirrored test-time views
and a head/class-mean blend, on trained checkpoints. Output: augmented_class_means.txt."""
import sys, torch, torch.nn.functional as F
from ssgan.classifier import class_mean_logits, class_means_of
from ssgan.evaluation import datamodule_from_checkpoint, load_checkpoint
from ssgan.data.module import random_translate
torch.set_num_threads(1)
for path in sys.argv[1:]:
    model, ckpt = load_checkpoint(path); dm = datamodule_from_checkpoint(ckpt)
    d = model.eval_discriminator.eval(); data = dm.data
    lab = torch.as_tensor(dm.labeled_indices)
    def run(x):
        with torch.no_grad():
            o = [d(x[i:i + 2000]) for i in range(0, len(x), 2000)]
        return torch.cat([a.logits for a in o]), torch.cat([a.features for a in o])
    lt, ft = run(data.x_test); yte = data.y_test
    xl, yl = data.x_train[lab], data.y_train[lab]
    err = lambda p: round((p != yte).float().mean().item() * 100, 2)
    _, fl = run(xl)
    base = class_means_of(fl, yl, 10)
    r = {"head": err(lt.argmax(1)), "cm": err(class_mean_logits(ft, base).argmax(1))}
    _, flm = run(xl.flip(-1))
    m2 = class_means_of(torch.cat([fl, flm]), torch.cat([yl, yl]), 10)
    r["cm_mirror"] = err(class_mean_logits(ft, m2).argmax(1))
    g = torch.Generator().manual_seed(0)
    xs = [xl, xl.flip(-1)] + [random_translate(v, 2, g) for v in [xl, xl.flip(-1)] * 8]
    fs = [run(v)[1] for v in xs]
    m3 = class_means_of(torch.cat(fs), yl.repeat(len(xs)), 10)
    r["cm_aug18"] = err(class_mean_logits(ft, m3).argmax(1))
    _, ftm = run(data.x_test.flip(-1))
    r["cm_mirror_tta"] = err((class_mean_logits(ft, m2) + class_mean_logits(ftm, m2)).argmax(1))
    for w in (0.5,):
        p = w * F.softmax(lt, 1) + (1 - w) * F.softmax(class_mean_logits(ft, base), 1)
        r[f"blend{w}"] = err(p.argmax(1))
    print(path.split("/runs/")[-1].split("/")[0], r, flush=True)
