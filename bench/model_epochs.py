"""Training cost per epoch of each architecture, next to the textbook PyTorch epoch of VGG-16 x0.25.

Our train loop (the train stage's Classifier over device batches) runs each model for the same
steps of batch 100 on the CIFAR-10 subset (32x32x3) and on MNIST (28x28x1, the size of
Fashion-MNIST); the reference is the plain PIL + DataLoader loop training the default VGG-16 x0.25
on the same images, in the same run. Prints images/s, the seconds an epoch of the dataset's
training split takes (4,577 subset images; 54,000 for MNIST or Fashion-MNIST) and the ratio to
the reference epoch.
"""

from __future__ import annotations

import sys
import tempfile
from functools import partial
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/model_epochs.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import alternate, machine, median, parse_args, prepared  # noqa: E402
from bench.train_throughput import BATCH, Case, baseline, case_config, ours  # noqa: E402

MODELS = {
    "VGG-16 x0.25 (default)": (),
    "ResNet-18 x0.25, CIFAR stem": ("model=resnet18",),
    "ResNet-18 x0.25, ImageNet stem": ("model=resnet18", "model.cifar_stem=false"),
    "EfficientNet-B0 x0.25": ("model=efficientnet_b0",),
    "EfficientNet-B0 x0.25, CIFAR stem": ("model=efficientnet_b0", "model.cifar_stem=true"),
    "MobileNetV3-Small x0.25": ("model=mobilenet_v3_small",),
}
DATASETS = {"cifar10_subset": 4577, "mnist": 54000}  # training images of an epoch
REFERENCE = "textbook PyTorch, VGG-16 x0.25"


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    steps, warmup, repeats = (4, 1, 1) if args.quick else (20, 3, 2)
    print(machine())
    for data, epoch_images in DATASETS.items():
        with tempfile.TemporaryDirectory() as tmp:
            cfgs = {
                name: case_config(
                    Case("", data, o, steps, steps, 1.0), prepared(data), Path(tmp), steps
                )
                for name, o in {REFERENCE: (), **MODELS}.items()
            }
            sides = {REFERENCE: partial(baseline, cfgs[REFERENCE], warmup)}
            sides |= {name: partial(ours, cfgs[name], warmup) for name in MODELS}
            results = alternate(sides, repeats)
        reference = epoch_images / median(results[REFERENCE], "rate")
        print(f"\n{data}: {steps} steps of {BATCH} per run, {warmup} warm-up, {repeats} runs")
        print(f"{'model':36} {'images/s':>9} {'s/epoch':>8} {'x reference':>12}")
        for name, runs in results.items():
            rate = median(runs, "rate")
            seconds = epoch_images / rate
            print(f"{name:36} {rate:9.0f} {seconds:8.1f} {seconds / reference:12.2f}")


if __name__ == "__main__":
    main()
