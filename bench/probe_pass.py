"""Probe stage: every VGG-16 layer's probe trained in one pass vs one probe trained at a time.

Both sides train bias-free probes on the frozen default-profile backbone (random weights: the
cost does not depend on them) with the probe stage's own classes (TensorDataModule, ProbeHeads,
build_trainer), the same epochs and the same batches. "one at a time" is 13 fits of a
single-layer ProbeHeads; its steady time is the sum of theirs. A third side trains every probe
in one pass with no epoch metric updated or logged: what 26 torchmetrics metrics per step cost.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python bench/probe_pass.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

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
from filterscope.models import Backbone, build_model  # noqa: E402
from filterscope.probing.heads import ProbeHeads  # noqa: E402
from filterscope.stages.fitting import datamodule  # noqa: E402
from filterscope.training.trainer import build_trainer  # noqa: E402

BATCH = 100
ALL = "all layers, one pass"
SINGLE = "one layer at a time"
UNMETERED = "all layers, no epoch metrics"


def probe_config(prepared_dir: Path, root: Path, steps: int) -> Any:
    """The default profile's probe loop for one epoch of ``steps`` batches of ``BATCH``."""
    return config(
        root,
        *data_overrides("cifar10_subset", prepared_dir, steps * BATCH),
        "probe.epochs=1",
        f"probe.batch_size={BATCH}",
    )


def backbone_for(cfg: Any) -> Backbone:
    """The profile's backbone, freshly initialised (as the probe stage loads it: NCHW weights)."""
    data = datamodule(cfg, cfg.probe)
    return build_model(cfg.model, data.image_shape, data.num_classes)


class UnmeteredProbes(Unmetered, ProbeHeads):
    """The probes with no torchmetrics metric updated or logged."""


def fit_probes(
    cfg: Any,
    backbone: Backbone,
    layers: Sequence[int],
    warmup: int,
    module_cls: type[ProbeHeads] = ProbeHeads,
) -> Timing:
    """Train the probes of ``layers`` together, as the probe stage does (``module_cls``: the
    probes or :class:`UnmeteredProbes`)."""
    clock = StepClock(warmup)
    data = datamodule(cfg, cfg.probe)
    shapes = backbone.cut_shapes(data.image_shape)
    module = module_cls(
        backbone, layers, [shapes[layer - 1] for layer in layers], data.num_classes, cfg.probe
    )
    trainer = build_trainer(
        cfg.probe,
        device_cfg=cfg.train,
        logger=False,
        callbacks=[ClockCallback(clock)],
        root_dir=Path(cfg.paths.root),
        validate=False,
    )
    trainer.fit(module, datamodule=data)
    return clock.timing()


def one_at_a_time(cfg: Any, backbone: Backbone, layers: Sequence[int], warmup: int) -> Timing:
    """One fit per layer; together they train every probe once on the same images."""
    parts = [fit_probes(cfg, backbone, [layer], warmup) for layer in layers]
    return Timing.total(parts, parts[0].images)


def run_probes(
    cfg: Any, layers: Sequence[int], warmup: int, repeats: int
) -> dict[str, list[Timing]]:
    """The sides, alternated, ``repeats`` times each."""
    backbone = backbone_for(cfg)
    return alternate(
        {
            ALL: lambda: fit_probes(cfg, backbone, layers, warmup),
            SINGLE: lambda: one_at_a_time(cfg, backbone, layers, warmup),
            UNMETERED: lambda: fit_probes(cfg, backbone, layers, warmup, UnmeteredProbes),
        },
        repeats,
    )


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    steps, warmup, repeats = (4, 1, 1) if args.quick else (20, 2, 3)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = probe_config(prepared("cifar10_subset"), Path(tmp), steps)
        layers = list(range(1, backbone_for(cfg).num_layers + 1))
        results = run_probes(cfg, layers, warmup, repeats)
    title = (
        f"probe stage: {len(layers)} VGG-16 x0.25 probes, CIFAR-10 subset, {steps} steps of"
        f" {BATCH} per fit, {warmup} warm-up"
    )
    report(title, results)
    ratio(results, ALL, SINGLE, 6.0)
    ratio(results, ALL, SINGLE, 6.0, wall=True)
    ratio(results, UNMETERED, ALL)


if __name__ == "__main__":
    main()
