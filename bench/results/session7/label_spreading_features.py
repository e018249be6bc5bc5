"""LabelSpreading on D's L2-normalised features of all training images (kNN graph), then a k-NN on
the propagated labels for the test split.   python label_spreading_features.py CKPT [CKPT ...]
Session 7, seed 0 of the ICT weight-3 runs printed: k 10 alpha 0.99: 20.84 % of the pool, 21.9 %
of the test split; k 20 alpha 0.99: 21.34 / 21.98 %; k 10 alpha 0.5: 28.89 / 30.17 %."""
import sys, time, torch, numpy as np

from ssgan.evaluation import load_checkpoint, datamodule_from_checkpoint
from sklearn.semi_supervised import LabelSpreading
from sklearn.neighbors import KNeighborsClassifier
torch.set_num_threads(1)
import os; os.environ["OMP_NUM_THREADS"]="1"
for path in sys.argv[1:]:
    model, ckpt = load_checkpoint(path)
    dm = datamodule_from_checkpoint(ckpt)
    d = model.eval_discriminator.eval(); data = dm.data
    lab = dm.labeled_indices
    with torch.no_grad():
        f = lambda x: torch.nn.functional.normalize(torch.cat([d(x[i:i+2000]).features for i in range(0, len(x), 2000)]), dim=1).numpy()
        F, Ft = f(data.x_train), f(data.x_test)
    y = np.full(len(F), -1); y[lab] = data.y_train.numpy()[lab]; yte = data.y_test.numpy()
    res = {}
    for k, a in ((10, 0.99), (20, 0.99), (10, 0.5)):
        t = time.time()
        ls = LabelSpreading(kernel='knn', n_neighbors=k, alpha=a, max_iter=50).fit(F, y)
        tr = ls.transduction_
        res[f"ls_k{k}_a{a}_pool"] = round((tr != data.y_train.numpy()).mean()*100, 2)
        knn = KNeighborsClassifier(k).fit(F, tr)
        res[f"ls_k{k}_a{a}_test_knn"] = round((knn.predict(Ft) != yte).mean()*100, 2)
        res[f"t{k}{a}"] = round(time.time()-t, 1)
        print(path.split('/')[-5], res, flush=True)
