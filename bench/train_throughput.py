"""Train throughput: our Lightning step over device batches vs a textbook PIL + DataLoader loop.

Both sides train the same model from the same seed on the same uint8 images, batch 100, SGD with
the profile's hyperparameters, for the same number of steps (one epoch, no validation). The rate
counts the steps after warm-up; the start-up (data loading, model, Lightning or DataLoader
workers, up to the first batch) is reported apart. A third side, the model's bare training step
repeated on one fixed batch (no data path, no loop machinery), is the ceiling of any loop; a
fourth, ours with no epoch metric updated or logged, shows what the torchmetrics metrics cost; a
fifth, ours with ``train.precision=bf16-mixed``, what bf16 autocast buys on this CPU.

``--sides`` and ``--cases`` run a part. A CPU without native bf16 is stood in for by holding
oneDNN to an older instruction set: ``ONEDNN_MAX_CPU_ISA=AVX512_CORE python
bench/train_throughput.py --threads 1 --sides ours bf16 --cases cifar10_subset``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python bench/train_throughput.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import lightning as L  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402
from PIL import Image  # noqa: E402
from torch.utils.data import DataLoader, Dataset  # noqa: E402
from torchvision import transforms  # noqa: E402

from bench.common import (  # noqa: E402
    ClockCallback,
    StepClock,
    Timing,
    Unmetered,
    alternate,
    config,
    data_overrides,
    parse_args,
    prepared,
    ratio,
    report,
)
from filterscope.data.prepared import read_split  # noqa: E402
from filterscope.data.registry import get_spec  # noqa: E402
from filterscope.models import build_model  # noqa: E402
from filterscope.stages.fitting import datamodule  # noqa: E402
from filterscope.training.classifier import Classifier  # noqa: E402
from filterscope.training.trainer import build_trainer  # noqa: E402

BATCH = 100


@dataclass(frozen=True)
class Case:
    """A model/dataset pair: its data config, extra overrides, step counts and rate target."""

    title: str
    data: str
    overrides: tuple[str, ...]
    steps: int
    quick_steps: int
    target: float | None


BASELINE, OURS, FLOOR = "baseline (PIL+DataLoader)", "ours", "model step only"
UNMETERED = "ours without epoch metrics"
BF16 = "ours in bf16-mixed"
SIDES = {"baseline": BASELINE, "ours": OURS, "unmetered": UNMETERED, "floor": FLOOR, "bf16": BF16}
CASES = (
    Case("VGG-16 x0.25 (default profile), CIFAR-10 subset", "cifar10_subset", (), 50, 6, 1.0),
    # No target: the model's own step bounds this case (BENCHMARKS.md, section 1); the study's
    # cost is measured by bench/sweep_wall.py instead.
    Case(
        "MNIST ConvNet (experiment=mnist_convnet), MNIST",
        "mnist",
        ("experiment=mnist_convnet",),
        300,
        12,
        None,
    ),
)


def case_config(case: Case, prepared_dir: Path, root: Path, steps: int) -> Any:
    """The case's config: one epoch of exactly ``steps`` batches of ``BATCH``, SGD."""
    return config(
        root,
        *case.overrides,
        *data_overrides(case.data, prepared_dir, steps * BATCH),
        "train.epochs=1",
        f"train.batch_size={BATCH}",
        "train.optimizer=sgd",
    )


class UnmeteredClassifier(Unmetered, Classifier):
    """The Classifier with no torchmetrics metric updated or logged."""


def stage_fit(
    cfg: Any,
    callbacks: list[L.Callback],
    module_cls: type[Classifier] = Classifier,
    validate: bool = True,
) -> tuple[Classifier, L.Trainer, Any]:
    """The train stage's fit: ``module_cls`` over TensorDataModule's device batches, with no
    logger and the given callbacks; returns the fitted module, its trainer and its data."""
    data = datamodule(cfg, cfg.train, "train")
    module = module_cls(
        build_model(cfg.model, data.image_shape, data.num_classes), cfg.train, data.num_classes
    )
    trainer = build_trainer(
        cfg.train,
        device_cfg=cfg.train,
        logger=False,
        callbacks=callbacks,
        root_dir=Path(cfg.paths.root),
        validate=validate,
    )
    trainer.fit(module, datamodule=data)
    return module, trainer, data


def ours(cfg: Any, warmup: int, module_cls: type[Classifier] = Classifier) -> Timing:
    """Classifier.fit over TensorDataModule's device batches, as the train stage runs it
    (``module_cls``: the Classifier or :class:`UnmeteredClassifier`)."""
    clock = StepClock(warmup)
    stage_fit(cfg, [ClockCallback(clock)], module_cls, validate=False)
    return clock.timing()


class PILImages(Dataset):
    """uint8 (N, C, H, W) images served one PIL image at a time through ``transform``."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, transform: Any) -> None:
        arrays = images.permute(0, 2, 3, 1).numpy()
        self.arrays = arrays[..., 0] if arrays.shape[-1] == 1 else arrays
        self.labels = labels.tolist()
        self.transform = transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.transform(Image.fromarray(self.arrays[index])), self.labels[index]


def textbook_transform(cfg: Any, hflip: bool, channels: int, size: int) -> transforms.Compose:
    """RandomCrop with padding and RandomHorizontalFlip (where the config augments), ToTensor,
    and Normalize to [-1, 1]."""
    steps: list[Any] = []
    if cfg.train.augment:
        steps.append(transforms.RandomCrop(size, padding=int(cfg.train.max_shift)))
        if hflip:
            steps.append(transforms.RandomHorizontalFlip())
    half = (0.5,) * channels
    return transforms.Compose([*steps, transforms.ToTensor(), transforms.Normalize(half, half)])


def plain_sgd(model: torch.nn.Module, cfg: Any) -> torch.optim.SGD:
    """``torch.optim.SGD`` with the config's hyperparameters."""
    t = cfg.train
    return torch.optim.SGD(
        model.parameters(), lr=t.lr, momentum=t.momentum, nesterov=t.nesterov,
        weight_decay=t.weight_decay,
    )  # fmt: skip


def train_steps(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    clock: StepClock,
) -> Timing:
    """The textbook loop: forward, cross-entropy, backward, step, per batch."""
    for x, y in batches:
        clock.batch_start()
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
        clock.step_end(len(y))
    return clock.timing()


def baseline(cfg: Any, warmup: int) -> Timing:
    """A plain PyTorch loop over a PIL-image Dataset with ``DataLoader(num_workers=2)``."""
    clock = StepClock(warmup)
    torch.manual_seed(int(cfg.seed))
    images, labels = read_split(Path(cfg.paths.prepared), "train")
    images, labels = images[: cfg.data.train_limit], labels[: cfg.data.train_limit]
    spec = get_spec(cfg.data.name)
    _, channels, size, _ = images.shape
    loader = DataLoader(
        PILImages(images, labels, textbook_transform(cfg, spec.hflip, channels, size)),
        batch_size=int(cfg.train.batch_size),
        shuffle=True,
        num_workers=2,
    )
    model = build_model(cfg.model, images.shape[1:], len(spec.classes)).train()
    return train_steps(model, plain_sgd(model, cfg), loader, clock)


def model_only(cfg: Any, warmup: int) -> Timing:
    """Our model (memory format included) trained on one fixed batch for as many steps."""
    clock = StepClock(warmup)
    data = datamodule(cfg, cfg.train)
    data.setup("fit")
    batches = data.train_dataloader()
    batch = next(iter(batches))
    model = Classifier(
        build_model(cfg.model, data.image_shape, data.num_classes), cfg.train, data.num_classes
    )
    return train_steps(model, plain_sgd(model, cfg), [batch] * len(batches), clock)


def run_case(
    cfg: Any, warmup: int, repeats: int, sides: Iterable[str] = SIDES.values()
) -> dict[str, list[Timing]]:
    """The given sides (all five by default), alternated, ``repeats`` times each."""
    bf16 = OmegaConf.merge(cfg, {"train": {"precision": "bf16-mixed"}})
    every = {
        BASELINE: partial(baseline, cfg, warmup),
        OURS: partial(ours, cfg, warmup),
        UNMETERED: partial(ours, cfg, warmup, UnmeteredClassifier),
        FLOOR: partial(model_only, cfg, warmup),
        BF16: partial(ours, bf16, warmup),
    }
    return alternate({side: every[side] for side in sides}, repeats)


def part_options(parser: argparse.ArgumentParser) -> None:
    """``--sides`` and ``--cases``: the part of the benchmark to run (all of it by default)."""
    parser.add_argument("--sides", nargs="+", choices=list(SIDES), default=list(SIDES))
    cases = [case.data for case in CASES]
    parser.add_argument("--cases", nargs="+", choices=cases, default=cases)


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], part_options)
    repeats = 2 if args.quick else 5
    sides = [SIDES[name] for name in args.sides]
    for case in (case for case in CASES if case.data in args.cases):
        steps = case.quick_steps if args.quick else case.steps
        warmup = 2 if args.quick else max(5, steps // 20)
        with tempfile.TemporaryDirectory() as tmp:
            cfg = case_config(case, prepared(case.data), Path(tmp), steps)
            results = run_case(cfg, warmup, repeats, sides)
        title = f"train throughput: {case.title}: {steps} steps of {BATCH}, {warmup} warm-up"
        report(title, results)
        pairs = (
            (OURS, BASELINE, case.target),
            (FLOOR, BASELINE, None),
            (FLOOR, OURS, None),
            (UNMETERED, OURS, None),
            (BF16, OURS, None),
        )
        for a, b, target in pairs:
            if a in results and b in results:
                ratio(results, a, b, target)


if __name__ == "__main__":
    main()
