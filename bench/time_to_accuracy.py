"""Time to accuracy: the train stage against a plain PyTorch loop of the same network and recipe.

Both sides train the default profile (VGG-16 x0.25, its recipe from conf/: optimiser, schedule,
label smoothing, weight averaging, augmentation) on the same 4,577 training images of the
CIFAR-10 subset and score the same 508 validation images after every epoch, in the same run:
ours through Lightning over device batches (the train stage's code), the plain loop over PIL
images, a 2-worker DataLoader with RandomCrop/RandomHorizontalFlip, ``torch.optim`` and, where
the recipe averages weights, ``torch.optim.swa_utils.AveragedModel``. Printed per side: the epoch
and seconds at which validation accuracy first reaches each stated target, the validation
accuracy reached within a fixed time, and the final test accuracy (one pass, no test-time
augmentation). Seconds count training and validation, not start-up. A third side trains ours with
the profile's recipe before 2026-12-03 (cosine from 0.05, no label smoothing, no EMA).
"""

from __future__ import annotations

import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python bench/time_to_accuracy.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import lightning as L  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.optim.swa_utils import AveragedModel  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

from bench.common import config, machine, parse_args, prepared  # noqa: E402
from bench.train_throughput import PILImages, stage_fit, textbook_transform  # noqa: E402
from filterscope.data.batches import split_train_val  # noqa: E402
from filterscope.data.prepared import read_split  # noqa: E402
from filterscope.data.registry import get_spec  # noqa: E402
from filterscope.models import build_model  # noqa: E402
from filterscope.training.optim import build_optimizer, build_schedule  # noqa: E402
from filterscope.training.trainer import WarmupEma, weight_averaging  # noqa: E402

OURS, PLAIN = "ours (train stage)", "plain PyTorch loop"
BEFORE = "ours, the recipe before"
# The default profile's recipe until 2026-12-03: cosine from 0.05, no label smoothing, no EMA,
# shifts up to 4 px.
BEFORE_RECIPE = (
    "train.max_shift=4",
    "train.schedule=cosine",
    "train.lr=0.05",
    "train.label_smoothing=0",
    "train.ema=null",
)
TARGETS = (0.60, 0.65, 0.70)
BUDGET = 60.0  # seconds of training for "accuracy reached in a fixed time"


@dataclass
class Curve:
    """Validation accuracy after each epoch and the seconds of training up to then."""

    accuracy: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    test_acc: float = float("nan")

    def reached(self, target: float) -> tuple[int, float] | None:
        """The first epoch (1-based) whose validation accuracy is at least ``target``, and the
        seconds it took; None if no epoch did."""
        for epoch, (acc, sec) in enumerate(zip(self.accuracy, self.seconds, strict=True), 1):
            if acc >= target:
                return epoch, sec
        return None

    def within(self, budget: float) -> float:
        """The best validation accuracy of the epochs that ended within ``budget`` seconds."""
        done = [a for a, s in zip(self.accuracy, self.seconds, strict=True) if s <= budget]
        return max(done, default=float("nan"))


class _EpochClock(L.Callback):
    """Records validation accuracy and the training-plus-validation seconds of each epoch."""

    def __init__(self, curve: Curve) -> None:
        self.curve = curve
        self.elapsed = 0.0
        self.start = 0.0

    def on_train_epoch_start(self, *_: Any) -> None:
        self.start = time.perf_counter()

    def on_validation_epoch_end(self, trainer: L.Trainer, module: Any) -> None:
        if trainer.sanity_checking:
            return
        self.elapsed += time.perf_counter() - self.start
        self.curve.seconds.append(self.elapsed)
        self.curve.accuracy.append(float(module.metrics["val_acc"].compute()))


def profile_config(prepared_dir: Path, root: Path, epochs: int | None, *extra: str) -> Any:
    """The default profile on the prepared CIFAR-10 subset (``epochs`` to shorten it; ``extra``
    overrides)."""
    overrides = ["data=cifar10_subset", f"paths.prepared={prepared_dir}", "runtime.progress=false"]
    return config(root, *overrides, *([f"train.epochs={epochs}"] if epochs else []), *extra)


def ours(cfg: Any) -> Curve:
    """The train stage's fit (Classifier over TensorDataModule), validating every epoch."""
    curve = Curve()
    module, trainer, data = stage_fit(cfg, [_EpochClock(curve), *weight_averaging(cfg.train)])
    trainer.test(module, datamodule=data, verbose=False)
    curve.test_acc = module.tested["test_acc"]
    return curve


def _accuracy(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        x = images.float() / 127.5 - 1
        right = sum(
            int((model(x[i : i + 500]).argmax(1) == labels[i : i + 500]).sum())
            for i in range(0, len(labels), 500)
        )
    return right / len(labels)


def plain(cfg: Any) -> Curve:
    """The textbook loop on the same images, network and recipe."""
    curve = Curve()
    torch.manual_seed(int(cfg.seed))
    images, labels = read_split(Path(cfg.paths.prepared), "train")
    (train_x, train_y), (val_x, val_y) = split_train_val(
        images, labels, float(cfg.data.val_fraction), int(cfg.seed)
    )
    test_x, test_y = read_split(Path(cfg.paths.prepared), "test")
    spec = get_spec(cfg.data.name)
    transform = textbook_transform(cfg, spec.hflip, train_x.shape[1], train_x.shape[2])
    loader = DataLoader(
        PILImages(train_x, train_y, transform),
        batch_size=int(cfg.train.batch_size),
        shuffle=True,
        num_workers=2,
        persistent_workers=True,
    )
    model = build_model(cfg.model, train_x.shape[1:], len(spec.classes))
    optimizer = build_optimizer(model.parameters(), cfg.train)
    schedule = build_schedule(optimizer, cfg.train, int(cfg.train.epochs) * len(loader))
    ema = cfg.train.get("ema")
    averaged = None
    if ema is not None:
        averaged = AveragedModel(model, avg_fn=WarmupEma(float(ema)), use_buffers=True)
    smoothing = float(cfg.train.get("label_smoothing", 0.0))
    iter(loader)  # the workers start before the clock, as ours' data setup is not timed either
    elapsed = 0.0
    for _ in range(int(cfg.train.epochs)):
        start = time.perf_counter()
        model.train()
        for x, y in loader:
            optimizer.zero_grad()
            F.cross_entropy(model(x), y, label_smoothing=smoothing).backward()
            optimizer.step()
            if averaged is not None:
                averaged.update_parameters(model)
            if schedule["interval"] == "step":
                schedule["scheduler"].step()
        if schedule["interval"] == "epoch":
            schedule["scheduler"].step()
        scored = averaged.module if averaged is not None else model
        curve.accuracy.append(_accuracy(scored, val_x, val_y))
        elapsed += time.perf_counter() - start
        curve.seconds.append(elapsed)
    curve.test_acc = _accuracy(averaged.module if averaged is not None else model, test_x, test_y)
    return curve


def summary(name: str, curve: Curve, budget: float) -> str:
    reached = []
    for target in TARGETS:
        hit = curve.reached(target)
        reached.append(f"{target:.2f}: " + (f"epoch {hit[0]}, {hit[1]:.1f} s" if hit else "never"))
    return (
        f"   {name:<20} {'; '.join(reached)} | best val acc within {budget:.0f} s:"
        f" {curve.within(budget):.4f} | {len(curve.seconds)} epochs in {curve.seconds[-1]:.1f} s,"
        f" test acc {curve.test_acc:.4f}"
    )


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    budget = 5.0 if args.quick else BUDGET
    epochs = 2 if args.quick else None
    with tempfile.TemporaryDirectory() as tmp:
        data, root = prepared("cifar10_subset"), Path(tmp)
        cfg = profile_config(data, root, epochs)
        before = profile_config(data, root / "before", epochs, *BEFORE_RECIPE)
        curves = {OURS: ours(cfg), PLAIN: plain(cfg), BEFORE: ours(before)}
    print(f"\n== time to accuracy, {time.strftime('%Y-%m-%d')}: default profile, CIFAR-10 subset")
    print(f"   {machine()}")
    for name, curve in curves.items():
        print(summary(name, curve, budget))


if __name__ == "__main__":
    main()
