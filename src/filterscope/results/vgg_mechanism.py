"""RESULTS.md's "The mechanism across hyper-parameters: the default VGG-16 profile on
Fashion-MNIST": the learning-rate sweep of ``make mechanism-vgg``'s whole chains (then ``make
compare``), its compare output copied to ``docs/results/vgg_mechanism/lr/``; the tables of the
MNIST ConvNet's mechanism section (:func:`filterscope.results.mnist.mechanism`), at the first
and the last of the 13 layers."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from filterscope.results.mnist import Sweep, mechanism, pairs, training
from filterscope.results.sections import Tables

SWEEPS = {"lr": "train.lr"}
"""The section's sweeps by data folder, with the parameter each one sweeps."""
COMPARED = {"lr": ("0.01", "0.2")}
"""Per sweep, the two settings whose mechanisms the section tests against each other."""
LAYERS = (1, 13)


def at_layer(sweep: Sweep, layer: int) -> Sweep:
    """``sweep`` with its per-layer numbers at ``layer`` alone."""
    return replace(
        sweep,
        layers=sweep.layers[sweep.layers["layer"] == layer],
        mechanism=sweep.mechanism[sweep.mechanism["layer"] == layer],
    )


def vgg_mechanism(root: Path) -> dict[str, str]:
    """Per sweep: each setting's training and the tests of its test accuracy between every two
    settings, and its mechanism at :data:`LAYERS` with the test of :data:`COMPARED`'s two."""
    tables = {}
    for name, param in SWEEPS.items():
        folder = root / "vgg_mechanism" / name
        sweep = Sweep.read(folder, param)
        tables[f"vgg_mechanism/{name}/training"] = training(sweep)
        tables[f"vgg_mechanism/{name}/pairs"] = pairs(folder, param)
        for layer in LAYERS:
            shown = mechanism(at_layer(sweep, layer), COMPARED[name])
            tables[f"vgg_mechanism/{name}/layer{layer}"] = shown
    return tables


SECTIONS: dict[str, Tables] = {
    "The mechanism across hyper-parameters: the default VGG-16 profile on Fashion-MNIST": (
        vgg_mechanism
    ),
}
"""The rendered VGG-16 mechanism section by heading."""
