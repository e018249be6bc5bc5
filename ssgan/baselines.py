"""Baselines to compare the semi-supervised GAN against.

* :func:`label_spreading`: scikit-learn's ``LabelSpreading`` with a kNN kernel on flattened
  pixels, fitted transductively on the same pool of training images the GAN sees as unlabeled
  (its labeled images included) with the same labeled indices, then asked to predict the test
  set (``predict`` labels a test image by its kNN in the fitted pool).
* :func:`train_supervised_classifier`: the supervised-only baseline
  (:class:`ssgan.supervised.Supervised` and its step, :func:`ssgan.steps.supervised_step`)
  on any map-style ``Dataset`` of ``(image, label)`` pairs, e.g. a ``ConcatDataset`` of
  real and generated images, instead of the labeled split. The supervised baseline of
  ``evaluate.py sweep`` is ``train.py --model Supervised`` itself; this loop serves
  ``evaluate.py augment --evaluate``, where the labeled set is real + generated images.
"""

from __future__ import annotations

import time
import warnings
from typing import Optional, Sequence

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, RandomSampler

#: LabelSpreading settings (scikit-learn's defaults, except more iterations so that it
#: converges instead of stopping at 30 with a ConvergenceWarning).
LABEL_SPREADING_PARAMS = dict(kernel="knn", n_neighbors=7, alpha=0.2, max_iter=1000, tol=1e-3)


_KNN_CACHE: dict = {}  # key -> (kernel, seconds it took to compute)
_KNN_CACHE_SIZE = 8
_CACHED_CLASS = None


def _digest(a: np.ndarray) -> tuple:
    import hashlib
    a = np.ascontiguousarray(a)
    return (a.shape, str(a.dtype),
            hashlib.blake2b(a.view(np.uint8).reshape(-1), digest_size=16).hexdigest())


def _cached_label_spreading_class():
    global _CACHED_CLASS
    if _CACHED_CLASS is not None:
        return _CACHED_CLASS
    from sklearn.semi_supervised import LabelSpreading

    class CachedKNNLabelSpreading(LabelSpreading):
        """scikit-learn's LabelSpreading, unchanged, except that with the kNN kernel the
        neighbour graph of the pool (and the neighbours of the images to predict) is cached
        by the arrays' content: a sweep refits the same pool with other labeled subsets, and
        the graph (quadratic in the pool size) does not depend on the labels.
        ``graph_seconds_`` is what computing the pool's graph took (now or when cached)."""

        def _get_kernel(self, X, y=None):
            if self.kernel != "knn":
                return super()._get_kernel(X, y)
            key = (_digest(X), None if y is None else _digest(y), self.n_neighbors)
            hit = key in _KNN_CACHE
            if not hit:
                if len(_KNN_CACHE) >= _KNN_CACHE_SIZE:
                    _KNN_CACHE.pop(next(iter(_KNN_CACHE)))
                start = time.perf_counter()
                kernel = super()._get_kernel(X, y)
                _KNN_CACHE[key] = (kernel, time.perf_counter() - start)
            kernel, seconds = _KNN_CACHE[key]
            if y is None:
                self.graph_cache_hit_, self.graph_seconds_ = hit, seconds
            return kernel

    _CACHED_CLASS = CachedKNNLabelSpreading
    return _CACHED_CLASS


def label_spreading(x_pool: Tensor | np.ndarray, y_pool: Tensor | np.ndarray,
                    labeled: Sequence[int], x_test: Tensor | np.ndarray,
                    y_test: Tensor | np.ndarray, **params) -> dict:
    """Fit ``LabelSpreading`` on ``x_pool`` where only ``labeled`` (positions in the pool)
    keep their labels, predict ``x_test``; returns ``error``, ``accuracy``, ``train_seconds``.

    Images are flattened to vectors of pixels. Every other label of the pool is hidden
    (set to -1) before fitting, so ``y_pool`` is only read at ``labeled``. ``cache=False``
    uses scikit-learn's class as is (same results, the kNN graph recomputed every fit).
    ``train_seconds`` is the time of ``fit``; when the graph came from the cache, the time it
    took to compute is added, so the figure is that of a standalone fit."""
    x_pool = _flat(x_pool)
    x_test = _flat(x_test)
    y_pool = np.asarray(y_pool)
    labeled = np.asarray(labeled, dtype=np.int64)
    target = np.full(len(x_pool), -1, dtype=np.int64)
    target[labeled] = y_pool[labeled]
    if params.pop("cache", True):
        cls = _cached_label_spreading_class()
    else:
        from sklearn.semi_supervised import LabelSpreading as cls
    model = cls(**{**LABEL_SPREADING_PARAMS, **params})
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(x_pool, target)
    seconds = time.perf_counter() - start
    if getattr(model, "graph_cache_hit_", False):
        seconds += model.graph_seconds_  # report what a fit without the cache costs
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        # a test image whose neighbours carry no label mass gets NaN probabilities (0/0);
        # sklearn's predict then answers class 0 for it: counted below, left as sklearn does
        warnings.simplefilter("ignore", RuntimeWarning)
        proba = model.predict_proba(x_test)
    pred = model.classes_[np.argmax(proba, axis=1)]
    acc = float((pred == np.asarray(y_test)).mean())
    out = {"error": 1.0 - acc, "accuracy": acc, "train_seconds": seconds,
           "n_iter": int(getattr(model, "n_iter_", -1)),
           "test_without_label_mass": int(np.isnan(proba).any(axis=1).sum())}
    notes = [str(w.message) for w in caught if "converge" in str(w.message).lower()]
    if notes:
        out["warning"] = notes[0]
    return out


def _flat(x) -> np.ndarray:
    x = x.numpy() if isinstance(x, Tensor) else np.asarray(x)
    return x.reshape(len(x), -1).astype(np.float32, copy=False)


# ---------------------------------------------------------------------------------------------
# supervised-only classifier on an arbitrary Dataset


def build_classifier(hparams) -> nn.Module:
    """The discriminator network of a checkpoint's hyper-parameters (``model.hparams``),
    freshly initialised: the classifier the supervised-only baseline trains
    (:meth:`ssgan.supervised.Supervised.from_hparams`)."""
    from .supervised import Supervised

    return Supervised.from_hparams(hparams).discriminator


def train_supervised_classifier(dataset: Dataset, hparams, *, steps: int, batch_size: int,
                                seed: int, init_images: Optional[Tensor] = None,
                                device: str | torch.device = "cpu") -> nn.Module:
    """Train the supervised-only classifier for exactly ``steps`` steps of ``batch_size``
    items drawn from ``dataset`` (reshuffled each pass, as the core tiles its labeled set);
    returns the evaluation network (the EMA copy when ``hparams['ema']``).

    The module is :class:`ssgan.supervised.Supervised` built from ``hparams`` (a checkpoint's
    ``model.hparams``: its networks, optimiser and EMA settings), and each step is
    :func:`ssgan.steps.supervised_step`, the step of ``train.py --model Supervised``;
    ``init_images`` feed the data-dependent initialisation, as ``train.py`` does with images
    of the training pool. Everything random is seeded from ``seed``."""
    from .steps import supervised_step
    from .supervised import Supervised

    torch.manual_seed(seed)
    module = Supervised.from_hparams(hparams).to(device)
    # building the module draws a different amount of randomness per network; reseed so
    # that the training noise depends on the seed and the network only
    torch.manual_seed(seed)
    d = module.discriminator
    if module.hparams.data_init and init_images is not None and hasattr(d, "data_init"):
        d.data_init(init_images.to(device))
        if module.ema is not None:
            module.ema.module.load_state_dict(d.state_dict())
    opt = module.configure_optimizers()
    g = torch.Generator().manual_seed(seed)
    sampler = RandomSampler(dataset, replacement=False, num_samples=steps * batch_size,
                            generator=g)
    loader = DataLoader(dataset, batch_size=batch_size, sampler=sampler, drop_last=True)
    d.train()
    for x, y in loader:
        supervised_step(d, x.to(device), y.to(device), opt, ema=module.ema)
    return module.eval_discriminator.eval()


@torch.no_grad()
def classifier_error(net: nn.Module, x: Tensor, y: Tensor, batch_size: int = 1000) -> float:
    """Test error of a classifier returning ``DOutput`` (logits first)."""
    net.eval()
    device = next(net.parameters()).device
    pred = torch.cat([net(x[i:i + batch_size].to(device)).logits.argmax(1).cpu()
                      for i in range(0, len(x), batch_size)])
    return float((pred != y).float().mean())
