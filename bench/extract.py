"""Extraction: our FieldExtractor pass vs a per-unit Python loop vs one plain inference pass.

All three go over the same test batches (the extract stage's batch size) with the same frozen
backbone and probe weights (random: the cost does not depend on them), in inference mode: the
default profile's VGG-16 (units: filters), or with ``--model vit`` the ViT of conf/model/vit.yaml
cut at its blocks (units: nodes) or, with ``--cuts heads``, at its attention heads. Ours runs
as the extract stage runs it (Lightning ``trainer.test``); its Lightning start-up is reported
apart. Each side's time runs from its first batch to its finished field matrices.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python bench/extract.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402

from bench.common import (  # noqa: E402
    ClockCallback,
    StepClock,
    Timing,
    alternate,
    config,
    data_overrides,
    parse_args,
    prepared,
    ratio,
    report,
)
from filterscope.models import CutModel, build_model  # noqa: E402
from filterscope.models.cuts import default_nodes  # noqa: E402
from filterscope.probing.extractor import FieldExtractor  # noqa: E402
from filterscope.stages.fitting import datamodule  # noqa: E402
from filterscope.training.datamodule import TensorDataModule  # noqa: E402
from filterscope.training.trainer import build_trainer  # noqa: E402

Weights = dict[int, torch.Tensor]
OURS, LOOP, INFERENCE = "ours (FieldExtractor)", "per-unit loop", "inference pass"


def extract_config(
    prepared_dir: Path, root: Path, images: int | None, model: str = "vgg", cuts: str = "blocks"
) -> Any:
    """The default profile (``model``: its VGG, or ``vit``) on the prepared CIFAR-10 subset, cut
    at ``cuts``, the first ``images`` test images (all when None)."""
    limit = "null" if images is None else str(images)
    data = data_overrides("cifar10_subset", prepared_dir)
    return config(root, *data, f"data.test_limit={limit}", f"model={model}", f"probe.cuts={cuts}")


def test_data(cfg: Any) -> TensorDataModule:
    """The test batches as the extract stage serves them."""
    loop = OmegaConf.merge(cfg.probe, {"batch_size": cfg.extract.batch_size, "augment": False})
    return datamodule(cfg, loop)


def backbone_and_probes(cfg: Any) -> tuple[CutModel, Weights]:
    """The profile's backbone at its cut points (eval mode, in the stage's memory format) and
    random probe weights ``(K, C_l, H_l, W_l)`` for every layer."""
    data = test_data(cfg)
    model = build_model(cfg.model, data.image_shape, data.num_classes)
    backbone = CutModel(model, default_nodes(model, cfg.probe.cuts)).eval()
    if cfg.train.channels_last:
        backbone.to(memory_format=torch.channels_last)
    gen = torch.Generator().manual_seed(int(cfg.seed))
    shapes = backbone.cut_shapes(data.image_shape)
    weights = {
        layer: torch.randn(data.num_classes, *shape, generator=gen) * 0.01
        for layer, shape in enumerate(shapes, start=1)
    }
    return backbone, weights


def ours(cfg: Any, backbone: CutModel, weights: Weights) -> tuple[Timing, Weights]:
    """The extract stage's pass: FieldExtractor under ``trainer.test``."""
    clock = StepClock(warmup=0)
    module = FieldExtractor(
        backbone, weights, dict.fromkeys(weights), channels_last=bool(cfg.train.channels_last)
    )
    trainer = build_trainer(
        cfg.probe,
        device_cfg=cfg.train,
        logger=False,
        callbacks=[ClockCallback(clock)],
        root_dir=Path(cfg.paths.root),
    )
    trainer.test(module, datamodule=test_data(cfg), verbose=False)
    fields = {layer: acc.field_matrices() for layer, acc in module.accumulators.items()}
    clock.step_end(0)
    return clock.timing(), fields


def _batches(cfg: Any) -> Iterable[tuple[torch.Tensor, torch.Tensor]]:
    data = test_data(cfg)
    data.setup("test")
    return data.test_dataloader()


def per_unit_loop(cfg: Any, backbone: CutModel, weights: Weights) -> tuple[Timing, Weights]:
    """Straightforward fields: for each unit ``f`` (filter, node or head),
    ``z_f = (W[:, f] * a[:, f]).sum(h, w)``, summed per label."""
    clock = StepClock(warmup=0)
    layers = sorted(weights)
    k = next(iter(weights.values())).shape[0]
    sums = {
        layer: torch.zeros(weights[layer].shape[1], k, k, dtype=torch.float64) for layer in layers
    }
    counts = torch.zeros(k, dtype=torch.float64)
    with torch.inference_mode():
        for x, y in _batches(cfg):
            clock.batch_start()
            counts += torch.bincount(y, minlength=k)
            for layer, a in zip(layers, backbone.cut_points(x, layers), strict=True):
                w = weights[layer]
                for f in range(w.shape[1]):
                    z = (w[:, f] * a[:, f, None]).sum(dim=(-2, -1))
                    sums[layer][f].index_add_(0, y, z.double())
            clock.step_end(len(y))
        fields = {layer: s / counts[None, :, None] for layer, s in sums.items()}
    clock.step_end(0)
    return clock.timing(), fields


def inference(cfg: Any, backbone: CutModel) -> Timing:
    """One plain forward pass of the backbone over the test batches."""
    clock = StepClock(warmup=0)
    with torch.inference_mode():
        for x, y in _batches(cfg):
            clock.batch_start()
            backbone(x)
            clock.step_end(len(y))
    return clock.timing()


def run_extraction(cfg: Any, repeats: int) -> tuple[dict[str, list[Timing]], list[Weights]]:
    """The three sides, alternated, ``repeats`` times each; also the field matrices of ours and
    of the loop from their last runs."""
    backbone, weights = backbone_and_probes(cfg)
    fields: dict[str, Weights] = {}

    def keep(name: str, run: tuple[Timing, Weights]) -> Timing:
        fields[name] = run[1]
        return run[0]

    results = alternate(
        {
            OURS: lambda: keep(OURS, ours(cfg, backbone, weights)),
            LOOP: lambda: keep(LOOP, per_unit_loop(cfg, backbone, weights)),
            INFERENCE: lambda: inference(cfg, backbone),
        },
        repeats,
    )
    return results, [fields[OURS], fields[LOOP]]


def max_difference(a: Weights, b: Weights) -> float:
    """Largest absolute difference between two sets of per-layer field matrices."""
    return max(float((a[layer] - b[layer]).abs().max()) for layer in a)


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", choices=("vgg", "vit"), default="vgg")
    parser.add_argument("--cuts", choices=("blocks", "heads"), default="blocks")


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], _options)
    test_images, repeats = (200, 1) if args.quick else (None, 5)
    with tempfile.TemporaryDirectory() as tmp:
        data = prepared("cifar10_subset")
        cfg = extract_config(data, Path(tmp), test_images, args.model, args.cuts)
        results, (ours_fields, loop_fields) = run_extraction(cfg, repeats)
    units = {"vgg": "filters", "vit": "nodes"}[args.model] if args.cuts == "blocks" else "heads"
    title = (
        f"extraction: {args.model} (model={args.model}), {units} at every cut point, CIFAR-10"
        f" subset test set, batch {cfg.extract.batch_size}"
    )
    report(title, results)
    difference = max_difference(ours_fields, loop_fields)
    print(f"   field matrices, ours vs loop: max |difference| {difference:.2e}")
    ratio(results, INFERENCE, OURS, 2.0, at_least=False)
    ratio(results, OURS, LOOP)


if __name__ == "__main__":
    main()
