"""``train.py``: LightningCLI over a training module (:class:`SSGAN` by default, or
``--model Supervised``) and :class:`SSLDataModule`.

Every option is typed and listed in ``--help``; ``--config FILE`` reads YAML. One run folder
(the logger's directory, ``runs/ssgan/version_N``) receives:

* ``config.yaml``: the resolved config (a resumed run adds ``config.resume-K.yaml``);
* ``labeled_indices.json``: the labeled split (checked, not rewritten, when a run resumes);
* ``metrics.csv``: per-epoch logs (a resumed run appends to it);
* ``metrics.json``: the final test metrics and counters. It holds no wall-clock values, so on
  CPU the same ``--seed_everything`` and ``--data.seed_data`` give an identical file;
* ``timing.json``: wall-clock seconds of this session (they vary from run to run), the number
  of processes and CPU threads, the torch version and the device;
* ``checkpoints/last.ckpt``: written atomically at every epoch end (and every
  ``--checkpoint.last_every_n_batches`` batches, and on SIGTERM).

``--ckpt_path last`` continues the newest run folder (of ``--trainer.logger.init_args.save_dir``
and ``name``) that has a ``checkpoints/last.ckpt``, in that same folder; ``--ckpt_path FILE``
with a checkpoint inside a run folder of the same logger also continues that folder, any other
checkpoint starts a new folder. The checkpoint is checked before anything is written: it must be
readable, resumable, and made with the same data and model options.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import re
import sys
import time
from pathlib import Path
from typing import Any, Optional

import torch
from jsonargparse import lazy_instance
from pytorch_lightning.cli import LightningCLI
from pytorch_lightning.utilities.exceptions import MisconfigurationException
from pytorch_lightning.utilities.rank_zero import rank_zero_only, rank_zero_warn

from .callbacks import RNGState, RunCheckpoint, TrainingGuard
from .data import SSLDataModule
from .data.module import DEFAULT_NUM_LABELS
from .errors import SSGANError
from .classifier import ClassifierModule
from .model import SSGAN
from .supervised import Supervised  # noqa: F401  (--model Supervised)
from .runs import RunArtifacts, RunLogger, run_entry_point, version_folders, write_json

# A GAN step runs two backward passes, each through one player's parameters only, so DDP must
# look for the parameters a backward pass did not use
DDP_FIND_UNUSED = {name: f"{name}_find_unused_parameters_true"
                   for name in ("ddp", "ddp_spawn", "ddp_fork", "ddp_notebook")}

# data options that may change when a run is resumed (they do not change what is trained on)
RESUME_FREE_DATA_OPTIONS = {"data_root", "download", "eval_batch_size"}
# model options that may change when a run is resumed
RESUME_FREE_MODEL_OPTIONS: set[str] = set()


# module-level (not lambdas) so that the parser pickles, as ddp_spawn needs
def _image_shape(dm: SSLDataModule):
    return dm.image_shape


def _num_classes(dm: SSLDataModule):
    return dm.num_classes


class SSGANCLI(LightningCLI):
    def add_arguments_to_parser(self, parser) -> None:
        parser.add_lightning_class_args(RunCheckpoint, "checkpoint")
        parser.set_defaults({"checkpoint.save_last": True, "checkpoint.save_top_k": 0,
                             "checkpoint.enable_version_counter": False})
        parser.add_lightning_class_args(TrainingGuard, "guard")
        parser.add_lightning_class_args(RunArtifacts, "run_artifacts")
        # the training module: SSGAN unless --model Supervised (or another ClassifierModule)
        parser.set_defaults({"model": lazy_instance(SSGAN)})
        parser.link_arguments("data", "model.init_args.image_shape", apply_on="instantiate",
                              compute_fn=_image_shape)
        parser.link_arguments("data", "model.init_args.num_classes", apply_on="instantiate",
                              compute_fn=_num_classes)
        parser.add_argument("--ckpt_path", type=Optional[str], default=None,
                            help="resume training from this checkpoint; 'last' = the newest run "
                                 "folder's checkpoints/last.ckpt, continued in that folder")
        parser.add_argument("--test", type=bool, default=True,
                            help="evaluate on the test split after training")

    def instantiate_trainer(self, **kwargs: Any):
        try:
            return super().instantiate_trainer(**kwargs)
        except SSGANError:
            raise
        except (MisconfigurationException, ValueError) as e:
            # Lightning's own checks of the trainer options (devices, strategy, precision, ...)
            raise SSGANError(f"invalid trainer options: {e}") from e

    # -- checks before anything is built or written ------------------------------------------
    def before_instantiate_classes(self) -> None:
        check_trainer_options(self.config)
        apply_default_budget(self.config)
        apply_default_root_dir(self.config)
        strategy = _get(self.config, "trainer.strategy")
        if isinstance(strategy, str) and strategy in DDP_FIND_UNUSED:
            self.config["trainer.strategy"] = DDP_FIND_UNUSED[strategy]
        self.resume = resolve_resume(self.config)
        if self.resume.get("config_filename"):
            self.save_config_kwargs = {**self.save_config_kwargs,
                                       "config_filename": self.resume["config_filename"]}


def _get(config, key: str, default=None):
    try:
        value = config[key]
    except (KeyError, TypeError):
        return default
    return default if value is None else value


def check_trainer_options(config) -> None:
    """Zero/negative counts that Lightning would accept silently or fail on later."""
    max_epochs = _get(config, "trainer.max_epochs")
    if max_epochs is not None and max_epochs != -1 and max_epochs < 1:
        raise SSGANError(f"trainer.max_epochs must be >= 1 (or -1 for no limit), got {max_epochs}")
    max_steps = _get(config, "trainer.max_steps", -1)
    if max_steps != -1 and max_steps < 1:
        raise SSGANError(f"trainer.max_steps must be >= 1 (or -1 for no limit), got {max_steps}")
    for key in ("trainer.log_every_n_steps", "trainer.check_val_every_n_epoch"):
        value = _get(config, key)
        if value is not None and value < 1:
            raise SSGANError(f"{key} must be >= 1, got {value}")
    if _get(config, "trainer.use_distributed_sampler", False):
        raise SSGANError("trainer.use_distributed_sampler must stay false: the SSL sampler shards "
                         "the training stream over the processes itself")


def _model_class(config) -> type:
    path = getattr(_get(config, "model"), "class_path", None)
    if path:
        module, _, name = path.rpartition(".")
        try:
            return getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            pass
    return SSGAN


def apply_default_budget(config) -> None:
    """Without any budget (``--trainer.max_steps``, ``max_epochs`` or ``max_time``), train
    :data:`DEFAULT_TRAIN_BATCHES` batches. Lightning's ``max_steps`` counts optimizer steps, so
    the budget becomes ``max_steps = batches * optimizer_steps_per_batch`` of the training module
    (2 for the GAN: one D and one G step; 1 for the supervised baseline, which so trains the
    same batches). A budget the user gives is left alone: a default ``max_steps`` would cut a
    longer ``max_epochs`` or ``max_time`` short, as Lightning stops at whichever comes first."""
    if (_get(config, "trainer.max_steps", -1) != -1 or _get(config, "trainer.max_epochs") is not None
            or _get(config, "trainer.max_time") is not None):
        return
    per_batch = getattr(_model_class(config), "optimizer_steps_per_batch", 1)
    config["trainer.max_steps"] = DEFAULT_TRAIN_BATCHES * per_batch


DEFAULT_SAVE_DIR = "runs"


def apply_default_root_dir(config) -> None:
    """``--trainer.default_root_dir DIR`` moves the default logger's ``save_dir`` there, so that
    run folders (``DIR/ssgan/version_N``: logs, checkpoints, ``metrics.json``) and
    ``--ckpt_path last`` follow it, as Lightning users expect. An explicit
    ``--trainer.logger.init_args.save_dir`` other than the default ``runs`` wins."""
    root = _get(config, "trainer.default_root_dir")
    loc = _logger_location(config)
    if root is None or loc is None:
        return
    init = loc[2]
    if str(init.save_dir) == DEFAULT_SAVE_DIR:
        init.save_dir = str(root)


def _logger_location(config) -> Optional[tuple[Path, Any, Any]]:
    """``(save_dir/name, version, init_args)`` of a logger with the CSVLogger layout, else None."""
    logger = _get(config, "trainer.logger")
    init = getattr(logger, "init_args", None)
    if init is None or not hasattr(init, "save_dir"):
        return None
    name = getattr(init, "name", None)
    root = Path(init.save_dir) / (name or "")
    return root, getattr(init, "version", None), init


def _is_nonempty_dir(path: Path) -> bool:
    return path.is_dir() and any(path.iterdir())


def resolve_resume(config) -> dict:
    """Turns ``--ckpt_path`` into a checked file and the run folder to continue.

    Sets ``ckpt_path`` and the logger's ``version`` in ``config``; returns what was decided.
    Raises :class:`SSGANError` before anything is written when the checkpoint cannot be
    resumed, or when a new run would write into an existing run folder."""
    ckpt = _get(config, "ckpt_path")
    loc = _logger_location(config)
    if loc is None:
        if ckpt == "last":
            raise SSGANError("--ckpt_path last needs a logger with save_dir/name (the default "
                             "CSV logger); pass the checkpoint file instead")
        if ckpt:
            preflight_checkpoint(Path(ckpt), config)
        return {"ckpt_path": ckpt}
    root, version, init = loc
    folder: Optional[Path] = None
    if ckpt == "last":
        if version is not None:
            folder = root / (version if isinstance(version, str) else f"version_{version}")
            path = folder / "checkpoints" / "last.ckpt"
            if not path.is_file():
                raise SSGANError(f"--ckpt_path last: {path} does not exist")
        else:
            found = [(n, d) for n, d in version_folders(root)
                     if (d / "checkpoints" / "last.ckpt").is_file()]
            if not found:
                rank_zero_warn(f"--ckpt_path last: no run folder under {root} has a "
                               "checkpoints/last.ckpt; starting a new run")
                config["ckpt_path"] = None
                return {"ckpt_path": None}
            version, folder = found[-1]
            path = folder / "checkpoints" / "last.ckpt"
    elif ckpt:
        path = Path(ckpt)
        run = path.parent.parent
        if (path.parent.name == "checkpoints" and run.name.startswith("version_")
                and run.name[8:].isdigit() and path.is_file()
                and run.parent.resolve() == root.resolve()
                and (version is None or run.name in (str(version), f"version_{version}"))):
            folder, version = run, int(run.name[8:])
    else:
        path = None
    ckpt_data = preflight_checkpoint(path, config) if path is not None else {}
    if folder is None:
        # a new run: never into a folder that already holds something
        if version is not None:
            target = root / (version if isinstance(version, str) else f"version_{version}")
            if _is_nonempty_dir(target):
                raise SSGANError(f"run folder {target} already exists; continue it with "
                                 "--ckpt_path last or choose another "
                                 "--trainer.logger.init_args.version")
        return {"ckpt_path": str(path) if path else None}
    init.version = version
    config["ckpt_path"] = str(path)
    k = 1
    while (folder / f"config.resume-{k}.yaml").exists():
        k += 1
    if rank_zero_only.rank == 0:
        print(f"resuming {folder} from {path} (global step {ckpt_data.get('global_step')})")
    return {"ckpt_path": str(path), "run_dir": str(folder),
            "config_filename": f"config.resume-{k}.yaml"}


def _normalise(value):
    if isinstance(value, (tuple, list)):
        return [_normalise(v) for v in value]
    if hasattr(value, "items"):
        return {k: _normalise(v) for k, v in value.items()}
    return value


def _differences(saved: dict, now, free: set[str], prefix: str) -> list[str]:
    out = []
    for key, old in saved.items():
        if key in free or key.startswith("_"):
            continue
        try:
            new = now[key]
        except (KeyError, TypeError):
            continue  # an option this version does not have (or a linked one)
        if _normalise(old) != _normalise(new):
            out.append(f"{prefix}.{key} {old!r} (now {new!r})")
    return out


def _model_options(config) -> dict:
    """The model's options as the checkpoint saves them: its init_args and ``_class_path``."""
    model = _get(config, "model", {})
    if not hasattr(model, "class_path"):
        return model
    init = model.get("init_args")
    options = init.as_dict() if hasattr(init, "as_dict") else dict(init or {})
    return {"_class_path": model.class_path, **options}


def preflight_checkpoint(path: Path, config) -> dict:
    """Check that ``path`` is a train.py checkpoint that this command can resume."""
    if not path.is_file():
        raise SSGANError(f"checkpoint {path} does not exist; pass a .ckpt written by train.py or "
                         "'last' (the newest run folder's checkpoints/last.ckpt)")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # any unreadable file: truncated, not a zip/pickle, ...
        raise SSGANError(f"checkpoint {path} is corrupt or not a PyTorch file "
                         f"({type(e).__name__}); pass a .ckpt written by train.py") from None
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt or "hyper_parameters" not in ckpt:
        raise SSGANError(f"{path} is not an ssgan checkpoint (no state_dict/hyper_parameters); "
                         "pass a .ckpt written by train.py")
    if "optimizer_states" not in ckpt or "loops" not in ckpt:
        raise SSGANError(f"{path} holds weights only and cannot be resumed; pass a full "
                         "checkpoint such as checkpoints/last.ckpt")
    saved_data = dict(ckpt.get("datamodule_hyper_parameters") or {})
    if "num_labels" in saved_data:
        # num_labels None means "the default": compare the sizes of the labeled sets (checkpoints
        # written when the default was 50 say 50)
        used = len((ckpt.get(SSLDataModule.__qualname__) or {}).get("labeled_indices") or []) \
            or DEFAULT_NUM_LABELS
        saved_n = used if saved_data["num_labels"] is None else saved_data["num_labels"]
        now_n = _get(config, "data.num_labels")
        saved_data["num_labels"] = now_n if saved_n == (used if now_n is None else now_n) else saved_n
    diffs = _differences(saved_data, _get(config, "data", {}), RESUME_FREE_DATA_OPTIONS, "data")
    model_now = _model_options(config)
    saved_class = ckpt["hyper_parameters"].get("_class_path")
    if saved_class and model_now.get("_class_path") not in (None, saved_class):
        diffs.append(f"model {saved_class!r} (now {model_now['_class_path']!r})")
    diffs += _differences(ckpt["hyper_parameters"], model_now, RESUME_FREE_MODEL_OPTIONS, "model")
    if diffs:
        shown = "; ".join(diffs[:4]) + ("; ..." if len(diffs) > 4 else "")
        config_file = path.parent.parent / "config.yaml"
        how = (f"e.g. --config {config_file} --ckpt_path {path}" if config_file.is_file()
               else "the options of the run that wrote it")
        raise SSGANError(f"checkpoint {path} was trained with {shown}; resume it with its own "
                         f"options ({how}) or start a new run without --ckpt_path")
    return ckpt


#: the default training budget, in batches, whatever the dataset's size: 200 epochs of digits
#: (13 batches each, about 80 s on 2 CPU cores), 4.3 epochs of Fashion-MNIST. It applies when
#: none of --trainer.max_steps, max_epochs, max_time is given (see apply_default_budget)
DEFAULT_TRAIN_BATCHES = 2600

TRAINER_DEFAULTS = {
    # flushing every step costs nothing: metrics are logged once per epoch
    "logger": lazy_instance(RunLogger, save_dir=DEFAULT_SAVE_DIR, name="ssgan",
                            flush_logs_every_n_steps=1),
    "log_every_n_steps": 50,
    "num_sanity_val_steps": 0,
    "use_distributed_sampler": False,  # the SSL sampler shards itself
    "enable_model_summary": False,
}


def fit_and_test(cli: SSGANCLI) -> dict:
    """Train, test the final weights and write ``metrics.json`` and ``timing.json``.

    Returns the metrics plus ``train_seconds`` (wall clock, which is kept out of
    ``metrics.json`` so that the file is reproducible).

    A run stopped by the training guard still gets its result: the last good checkpoint is
    tested (for a collapse without any checkpoint, the final weights, which are finite), and
    ``metrics.json`` records ``stop_reason`` (``divergence`` or ``collapse``), ``stop_epoch``,
    ``stop_message`` and which weights were tested (``evaluated``, ``evaluated_epoch``,
    ``evaluated_global_step``). The :class:`~ssgan.callbacks.TrainingStopped` error is then
    raised again, carrying the metrics and the run folder, so that ``train.py`` still exits
    with code 3 and a caller (a sweep) can record the row."""
    from .callbacks import TrainingStopped

    trainer, model, dm = cli.trainer, cli.model, cli.datamodule
    ckpt_path = cli.config.get("ckpt_path")
    if trainer.local_rank == 0:
        # read the data before the trainer creates the run folder: a missing data root fails
        # here. The node's other processes wait for this one inside fit (downloads, if any,
        # happen once per node).
        dm.prepare_data()
        dm.setup("fit")
    for logger in trainer.loggers:
        # fix the run folder's version here: with ddp_spawn, fit and test run in fresh processes
        # that would otherwise each pick the next free version
        _ = logger.version
    start = time.perf_counter()
    stop: Optional[TrainingStopped] = None
    try:
        trainer.fit(model, datamodule=dm, ckpt_path=ckpt_path)
    except TrainingStopped as e:
        stop = e
    train_seconds = time.perf_counter() - start
    metrics: dict = {}
    counters = {"epochs": trainer.current_epoch, "global_step": trainer.global_step}
    evaluated, test_ckpt = None, None
    if stop is not None:
        metrics.update({"stop_reason": stop.reason, "stop_epoch": stop.epoch,
                        "stop_message": str(stop)})
        if stop.checkpoint:
            evaluated, test_ckpt = "last good checkpoint", stop.checkpoint
            if "://" not in str(test_ckpt):  # a remote checkpoint is only read by Lightning
                saved = torch.load(test_ckpt, map_location="cpu", weights_only=False)
                # "epoch" is the 0-based epoch in which the checkpoint was written
                metrics.update({"evaluated_epoch": saved.get("epoch"),
                                "evaluated_global_step": saved.get("global_step")})
                del saved
        elif stop.reason == "collapse":
            # D's weights are finite; a collapsed G does not make its classifier useless
            evaluated = "final weights"
            metrics.update({"evaluated_epoch": counters["epochs"],
                            "evaluated_global_step": counters["global_step"]})
        metrics["evaluated"] = evaluated
    test_seconds = None
    if cli.config.get("test", True) and dm.has_test and (stop is None or evaluated):
        start = time.perf_counter()
        results = trainer.test(model, datamodule=dm, verbose=False, ckpt_path=test_ckpt)
        test_seconds = time.perf_counter() - start
        metrics.update({k: float(v) for k, v in results[0].items()})
    metrics.update({**counters, "num_labels": dm.num_labels_used,
                    "dataset": dm.hparams.dataset})
    if not dm.has_test:
        metrics["test_split"] = "none: the dataset has no test split, so no test error"
    timing = {"train_seconds": round(train_seconds, 3),
              "test_seconds": None if test_seconds is None else round(test_seconds, 3),
              "resumed_from": ckpt_path, "processes": trainer.world_size,
              # what else a bit-identical metrics.json needs (see docs/scaling.md)
              "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
              "device": str(trainer.strategy.root_device)}
    run_dir = Path(trainer.log_dir)
    if trainer.is_global_zero:
        write_json(run_dir / "metrics.json", metrics)
        write_json(run_dir / "timing.json", timing)
        if "test/acc" in metrics:
            tested = f" ({evaluated})" if evaluated else ""
            print(f"test accuracy{tested}: {metrics['test/acc']:.4f}")
        print(f"run folder: {run_dir}")
    result = {**metrics, "train_seconds": timing["train_seconds"]}
    if stop is not None:
        tested = (f"; test error of the {evaluated}: {metrics['test/error']:.4f}"
                  if "test/error" in metrics else "; nothing could be tested")
        stop.args = (f"{stop}{tested} (in {run_dir / 'metrics.json'})",)
        stop.metrics, stop.run_dir = result, run_dir
        raise stop
    return result


@contextlib.contextmanager
def _argv_hidden():
    """LightningCLI parses ``args``; hide ``sys.argv`` from it meanwhile (it warns when both are
    given), but keep it for Lightning's DDP launcher, which restarts the script with it."""
    saved = sys.argv
    sys.argv = saved[:1]
    try:
        yield
    finally:
        sys.argv = saved


# the components' base classes by the option that takes them, for the messages below
_COMPONENT_OPTIONS = {"objective": "Objective", "generator_objective": "Objective",
                      "discriminator_objective": "Objective", "networks": "Networks",
                      "regularizers": "Regularizer", "model": "ClassifierModule"}


def _component_names(kind: str) -> list[str]:
    from . import networks, objectives, regularizers
    from . import classifier
    base = {"Objective": objectives.Objective, "Networks": networks.Networks,
            "Regularizer": regularizers.Regularizer,
            "ClassifierModule": classifier.ClassifierModule}[kind]
    found, todo = [], list(base.__subclasses__())
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        concrete = kind != "Objective" or cls.generator_loss is not base.generator_loss
        if concrete and not cls.__name__.startswith("LazyInstance") and cls.__name__ not in found:
            found.append(cls.__name__)
    return sorted(found)


def explain_parse_error(message: str) -> Optional[str]:
    """A one-line message for the parse errors of component options, whose jsonargparse form
    lists every Union subtype it tried; None when the message is not one of those."""
    unknown = re.search(r'Parser key "(\w+)":\s*- Expected a path but (\S+) either not accessible',
                        message)
    if unknown is None:
        unknown = re.search(r'Parser key "(\w+)":.*?Given value: NestedArg\(key=\'\1\', '
                            r'val=\'([^\']*)\'', message, re.S)
    if unknown and unknown.group(1) in _COMPONENT_OPTIONS:
        option, name = unknown.groups()
        kind = _COMPONENT_OPTIONS[option]
        where = "--model" if option == "model" else f"--model.{option}"
        return (f"unknown {where} {name!r}; choose one of: {', '.join(_component_names(kind))}")
    # the innermost class_path named before the rejected option is its component
    option = re.search(r"class_path '([\w.]+)':\s*Option '(\w+)' is not accepted", message)
    if option:
        cls, key = option.group(1).rsplit(".", 1)[-1], option.group(2)
        key_of = re.findall(r'Parser key "(\w+)"', message)
        component = f"model.{key_of[-1]}" if len(key_of) > 1 else "model"
        return (f"{cls} has no option {key!r}; python train.py --{component}.help {cls} lists "
                "its options")
    return None


def build_cli(args: list[str]) -> SSGANCLI:
    """Parse ``args`` exactly as ``train.py`` does and instantiate model, data and trainer."""
    try:
        return _build_cli(args)
    except SSGANError:
        raise
    except argparse.ArgumentError as e:
        explained = explain_parse_error(str(getattr(e, "message", e)))
        if explained is None:
            raise
        raise SSGANError(explained) from None
    except Exception as e:
        # a component's own check (an SSGANError) raised while jsonargparse instantiated it
        # comes wrapped in jsonargparse's errors: show it alone
        cause = e
        while cause is not None and not isinstance(cause, SSGANError):
            cause = cause.__cause__ or cause.__context__
        if cause is None:
            raise
        raise cause from None


def _build_cli(args: list[str]) -> SSGANCLI:
    with _argv_hidden():
        return SSGANCLI(ClassifierModule, SSLDataModule, subclass_mode_model=True, run=False,
                        args=args,
                        trainer_defaults={**TRAINER_DEFAULTS, "callbacks": [RNGState()]},
                        save_config_kwargs={"overwrite": True},
                        seed_everything_default=0, auto_configure_optimizers=False,
                        parser_kwargs={"description": "Train a semi-supervised GAN classifier. Default "
                                       f"budget: {DEFAULT_TRAIN_BATCHES} training batches "
                                       "(when no --trainer.max_steps, max_epochs or max_time is "
                                       "given).",
                                       "exit_on_error": False})


def run_training(args: list[str]) -> tuple[dict, Path]:
    """Programmatic ``train.py``: returns ``(metrics, run_dir)``. Used by sweeps and tests."""
    cli = build_cli(list(args))
    metrics = fit_and_test(cli)
    run_dir = Path(cli.trainer.log_dir)
    # the trainer, model and data module (with its dataset copy: 219 MiB for Fashion-MNIST)
    # reference each other; free them now rather than whenever the cyclic collector runs, so
    # that a sweep's runs do not pile up (measured: +250 MiB RSS per Fashion-MNIST run without)
    del cli
    gc.collect()
    return metrics, run_dir


def main(argv: Optional[list[str]] = None) -> int:
    return run_entry_point(lambda args: fit_and_test(build_cli(args)), argv)
