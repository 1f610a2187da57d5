"""The GPU path, measured: full-width VGG-16 trained as the train stage does (bf16 mixed
precision, channels-last), with and without ``torch.compile``, on the CIFAR-10 subset and on
50,000 synthetic images; the 13 probes' pass; the projected time of the paper profile (150
epochs on 50,000 images, 30 probe epochs, extraction); and the float32 field identity on the GPU.

On a GPU machine: ``bash bench/gpu_check.sh`` (BENCHMARKS.md, "The GPU path"). ``--quick`` runs
every step at tiny sizes on whatever device there is (the smoke run a CPU can do).
"""

from __future__ import annotations

import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python bench/gpu_check.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402

from bench.common import (  # noqa: E402
    Timing,
    config,
    data_overrides,
    parse_args,
    prepared,
    synthetic,
)
from bench.probe_pass import fit_probes  # noqa: E402
from bench.train_throughput import BATCH, ours  # noqa: E402
from filterscope.analysis import filter_fields  # noqa: E402
from filterscope.models import build_model  # noqa: E402
from filterscope.probing.extractor import FieldExtractor  # noqa: E402
from filterscope.probing.heads import ProbeHeads  # noqa: E402
from filterscope.training.trainer import resolve_precision  # noqa: E402

# The paper profile (conf/experiment/paper.yaml) on the full CIFAR-10.
PAPER_TRAIN_IMAGES, PAPER_TEST_IMAGES, PAPER_EPOCHS, PAPER_PROBE_EPOCHS = 50_000, 10_000, 150, 30
LAYERS = list(range(1, 14))


def train_config(prepared_dir: Path, root: Path, steps: int, compiled: bool, width: float) -> Any:
    """One epoch of ``steps`` batches of the paper's VGG-16 (``width``), as the train stage
    trains it on this machine: ``precision: auto`` (bf16 mixed on a GPU), channels-last."""
    return config(
        root,
        *data_overrides("cifar10_subset", prepared_dir, steps * BATCH),
        f"model.width={width}",
        "train.epochs=1",
        f"train.batch_size={BATCH}",
        f"train.compile={str(compiled).lower()}",
        "train.channels_last=true",
        "probe.epochs=1",
        f"probe.batch_size={BATCH}",
    )


def train_rate(prepared_dir: Path, root: Path, steps: int, compiled: bool, width: float) -> Timing:
    """Steady training rate (the compile and the first steps are warm-up)."""
    return ours(train_config(prepared_dir, root, steps, compiled, width), max(2, steps // 10))


def probe_rate(prepared_dir: Path, root: Path, steps: int, width: float) -> Timing:
    """Steady rate of the 13 probes trained in one pass over the frozen backbone."""
    cfg = train_config(prepared_dir, root, steps, False, width)
    backbone = build_model(cfg.model, (3, 32, 32), 10)
    return fit_probes(cfg, backbone, LAYERS, max(2, steps // 10))


def field_identity(width: float, device: torch.device) -> dict[str, float]:
    """On ``device`` under a bf16 autocast: the largest error of the fields' sum against the
    float32 probe logits (relative to the logits' scale), and of the field matrices against
    those of a float32 pass (relative to their scale)."""
    torch.manual_seed(0)
    model_cfg = {"name": "vgg", "depth": 16, "width": width, "batch_norm": True, "kernel_size": 3}
    backbone = build_model(model_cfg, (3, 32, 32), 10).to(device).eval()
    shapes = backbone.cut_shapes((3, 32, 32))
    probe = OmegaConf.create({"bias": False})
    heads = ProbeHeads(backbone, LAYERS, [shapes[i - 1] for i in LAYERS], 10, probe).to(device)
    x = torch.rand(64, 3, 32, 32, device=device) * 2 - 1
    y = torch.arange(64, device=device) % 10
    weights = {layer: w.to(device) for layer, w in heads.weights().items()}
    with torch.no_grad():
        logits = heads(x)
        features = backbone.cut_points(x, LAYERS)
    identity = 0.0
    with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16):
        for layer, feats, want in zip(LAYERS, features, logits, strict=True):
            got = filter_fields(feats, weights[layer])
            identity = max(identity, float((got.sum(1) - want).abs().max() / want.abs().max()))

    def extract(autocast: bool) -> FieldExtractor:
        extractor = FieldExtractor(backbone, heads.weights(), heads.biases()).to(device)
        extractor.on_test_start()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
            extractor.test_step((x, y), 0)
        return extractor

    exact, mixed = extract(False), extract(True)
    matrices = 0.0
    for layer in LAYERS:
        want = exact.accumulators[layer].field_matrices()
        got = mixed.accumulators[layer].field_matrices()
        matrices = max(matrices, float((got - want).abs().max() / want.abs().max()))
    return {"fields_sum_vs_logits": identity, "matrices_bf16_vs_float32": matrices}


def projection(train: Timing, probes: Timing) -> dict[str, float]:
    """Seconds of the paper profile's training, probes and extraction at these rates (the
    extraction pass, forward only, taken at the probes' rate: an upper bound)."""
    return {
        "train": PAPER_EPOCHS * PAPER_TRAIN_IMAGES / train.rate,
        "probes": PAPER_PROBE_EPOCHS * PAPER_TRAIN_IMAGES / probes.rate,
        "extract": PAPER_TEST_IMAGES / probes.rate,
    }


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    gpu = torch.cuda.is_available()
    device = torch.device("cuda" if gpu else "cpu")
    width = 0.125 if args.quick else 1.0
    subset_steps, synthetic_images = (3, 600) if args.quick else (50, PAPER_TRAIN_IMAGES)
    name = torch.cuda.get_device_name() if gpu else platform.processor() or platform.machine()
    precision = resolve_precision("auto", "auto")
    print(f"# gpu check, {time.strftime('%Y-%m-%d')}: {name}, torch {torch.__version__}")
    print(f"# VGG-16 x{width}, batch {BATCH}, precision {precision}, channels-last")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        sources = {"CIFAR-10 subset": (prepared("cifar10_subset", root), subset_steps)}
        sources["synthetic"] = (
            synthetic(root / "synthetic", "cifar10", synthetic_images, 1000),
            synthetic_images // BATCH,
        )
        rates: dict[tuple[str, bool], Timing] = {}
        for label, (folder, steps) in sources.items():
            for compiled in (False, True):
                start = time.perf_counter()
                timing = train_rate(folder, root / f"{label}-{compiled}", steps, compiled, width)
                rates[label, compiled] = timing
                print(
                    f"train, {label}, {'compiled' if compiled else 'eager'}: {timing.rate:,.0f}"
                    f" images/s over {timing.images:,} images ({steps} steps,"
                    f" {time.perf_counter() - start:.1f} s with start-up and compile)",
                    flush=True,
                )
        folder, steps = sources["synthetic"]
        probes = probe_rate(folder, root / "probes", min(steps, 200), width)
        print(f"probes, all 13 layers in one pass: {probes.rate:,.0f} images/s", flush=True)
    best = max((rates["synthetic", c] for c in (False, True)), key=lambda t: t.rate)
    projected = projection(best, probes)
    total = sum(projected.values())
    parts = ", ".join(f"{k} {v / 60:.1f} min" for k, v in projected.items())
    print(f"paper profile projected (best train rate): {total / 60:.1f} min ({parts})")
    errors = field_identity(width, device)
    print(
        "float32 fields on this device under a bf16 autocast: sum of fields vs probe logits"
        f" {errors['fields_sum_vs_logits']:.2e}, field matrices vs a float32 pass"
        f" {errors['matrices_bf16_vs_float32']:.2e} (relative)"
    )
    if max(errors.values()) > 1e-5:
        raise SystemExit("the measurements are not float32 on this device")


if __name__ == "__main__":
    main()
