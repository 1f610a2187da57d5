"""Any model through the real pipeline under `dvc repro`: a ResNet trained on an image tree the
test writes from the mirror's CIFAR-10 images (five of its labels), an EfficientNet imported
from a checkpoint the test saves, not trained, and the two transformers (timm's ViT,
filterscope's CCT) with the transformer recipe, their nodes, then their heads, as units."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from mlflow.tracking import MlflowClient
from PIL import Image

from filterscope.data.acquire import prepare_dataset
from filterscope.data.prepared import read_split
from filterscope.models import build_model
from tests.helpers.pipeline_copy import make_project, run

pytestmark = pytest.mark.integration

RESNET = {"name": "resnet18", "width": 0.125, "cifar_stem": True}
RESNET_NODES = [f"layer{s}.{b}" for s in range(1, 5) for b in range(2)]
EFFNET = {"name": "efficientnet_b0", "width": 0.25, "cifar_stem": True}
EFFNET_STAGES = [f"features.{i}" for i in range(1, 9)]
TRANSFORMERS = {
    "vit": {"name": "vit", "dim": 16, "depth": 2, "heads": 2, "patch": 7},
    "cct": {"name": "cct", "dim": 16, "depth": 2, "heads": 2, "convs": 2},
}
TOKENS = {"vit": 17, "cct": 49}  # 16 patches and the class token; 7 x 7 after two poolings
TEST_LIMIT = 200


LABELS = ["cat", "dog", "ship", "truck", "airplane"]


def _tiny(source: Path, model: dict, probe: dict, **data: object) -> dict:
    return {
        "data": {"source": str(source), "train_limit": 600, "test_limit": TEST_LIMIT, **data},
        "model": {k: v for k, v in model.items() if k != "name"},
        "train": {"epochs": 1},
        "runtime": {"progress": False},
        "probe": {"epochs": 1, **probe},
        "prune": {"epochs": 1, "methods": ["afcc"]},  # the pruning is checked elsewhere
    }


def _json(project: Path, name: str) -> dict:
    return json.loads((project / "metrics" / name).read_text())


def _runs(project: Path) -> dict:
    client = MlflowClient(f"sqlite:///{project / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("filterscope")
    runs = client.search_runs([experiment.experiment_id])
    return {r.data.tags["filterscope.stage"]: r for r in runs}


def _image_tree(mirror: Path, root: Path) -> Path:
    """``root/{train,test}/<class>/<n>.png`` from the first 800/300 CIFAR-10 subset images."""
    files = [("cifar-10-python-subset.tar.gz", "5368c7386bce7eb7594ca88804932787")]
    prepared = root.parent / "prepared"
    meta = prepare_dataset("cifar10", str(mirror / "cifar10-subset"), files, root.parent, prepared)
    for split, count in (("train", 800), ("test", 300)):
        images, labels = read_split(prepared, split)
        for n, (image, label) in enumerate(zip(images[:count], labels[:count], strict=True)):
            path = root / split / meta["classes"][label] / f"{n}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image.permute(1, 2, 0).numpy()).save(path)
    return root


@pytest.fixture(scope="module")
def resnet(tmp_path_factory: pytest.TempPathFactory, repo_root: Path, mirror_dir: Path) -> Path:
    tree = _image_tree(mirror_dir, tmp_path_factory.mktemp("tree") / "cifar_png")
    dest = tmp_path_factory.mktemp("resnet") / "project"
    values = _tiny(tree, RESNET, {}, name="cifar_png", classes=LABELS)
    make_project(repo_root, dest, {"data": "imagefolder", "model": "resnet18"}, values)
    run(["dvc", "repro"], dest)
    return dest


def test_the_image_tree_is_converted_with_its_label_subset(resnet: Path) -> None:
    meta = json.loads((resnet / "data/prepared/cifar_png/meta.json").read_text())
    assert meta["classes"] == LABELS and meta["image_shape"] == [3, 32, 32]
    assert meta["sources"] == {"imagefolder": str(resnet.parents[1] / "tree0" / "cifar_png")}
    # The pixels are the mirror's: a PNG round trip is lossless.
    images, labels = read_split(resnet / "data/prepared/cifar_png", "test")
    assert 0 < len(labels) < 300 and set(labels.tolist()) == set(range(5))


def test_every_residual_block_is_probed_and_named(resnet: Path) -> None:
    probe = _json(resnet, "probe.json")
    assert list(probe["nodes"].values()) == RESNET_NODES
    assert probe["variant"].startswith("exact")
    assert probe["features"]["layer_01"] == [8, 32, 32]  # cifar stem: no down-sampling
    assert probe["features"]["layer_08"] == [64, 4, 4]
    report = _json(resnet, "report.json")
    assert list(report["nodes"].values()) == RESNET_NODES
    table = (resnet / "results/report/report.md").read_text()
    assert "| layer | node |" in table and "| 8 | layer4.1 |" in table
    with np.load(resnet / "results/fields/layer_03.npz") as fields:
        assert str(fields["node"]) == "layer2.0"
        assert fields["matrices"].shape == (16, 5, 5)
        assert list(fields["classes"]) == LABELS


def test_the_fields_rebuild_the_probe_at_every_cut_point(resnet: Path) -> None:
    """The decomposition identity, measured on the test set: the probe rebuilt from the summed
    filter fields scores exactly what the trained probe scored."""
    probe = _json(resnet, "probe.json")["accuracy"]
    rebuilt = _json(resnet, "extract.json")["probe_accuracy_from_fields"]
    assert sorted(rebuilt) == sorted(probe) and len(probe) == 8
    assert rebuilt == pytest.approx(probe, abs=1e-9)


def test_a_pooled_probe_reruns_only_the_analysis(resnet: Path) -> None:
    params_path = resnet / "params.yaml"
    params = yaml.safe_load(params_path.read_text())
    params["probe"]["pool"] = 2
    params_path.write_text(yaml.safe_dump(params))
    status = run(["dvc", "status", "--json"], resnet).stdout
    assert set(json.loads(status)) == {"probe"}  # extract and report follow its output


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory, repo_root: Path, mirror_dir: Path) -> Path:
    dest = tmp_path_factory.mktemp("imported") / "project"
    torch.manual_seed(0)
    checkpoint = dest.parent / "effnet.pt"
    model = build_model(EFFNET, (1, 28, 28), 10)
    torch.save({"epoch": 7, "state_dict": model.state_dict()}, checkpoint)
    model_values = {**EFFNET, "checkpoint": str(checkpoint)}
    values = _tiny(mirror_dir / "fashion-mnist", model_values, {"cuts": "stages"})
    groups = {"data": "fashion_mnist", "model": "efficientnet_b0"}
    make_project(repo_root, dest, groups, values)
    run(["dvc", "repro"], dest)
    return dest


def test_a_checkpoint_is_analysed_without_training(imported: Path) -> None:
    checkpoint = imported.parent / "effnet.pt"
    train = _json(imported, "train.json")
    assert train["epochs"] == 0
    assert train["imported"]["sha256"] == hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    # Its test accuracy, computed here from the checkpoint and the prepared test split.
    model = build_model(EFFNET, (1, 28, 28), 10)
    model.load_state_dict(torch.load(checkpoint, weights_only=True)["state_dict"])
    test = torch.load(imported / "data/prepared/fashion_mnist/test.pt", weights_only=True)
    x = test["images"][:TEST_LIMIT].float() / 127.5 - 1
    with torch.no_grad():
        predicted = model.eval()(x).argmax(1)
    expected = (predicted == test["labels"][:TEST_LIMIT]).float().mean().item()
    assert train["test_acc"] == pytest.approx(expected, abs=1e-6)
    runs = _runs(imported)
    assert sorted(runs) == ["download", "extract", "probe", "prune", "report", "train"]
    tags, metrics = runs["train"].data.tags, runs["train"].data.metrics
    assert tags["filterscope.imported.checkpoint"] == str(checkpoint)
    assert metrics["test_acc"] == pytest.approx(expected, abs=1e-6)
    assert "train_loss" not in metrics  # nothing was trained


def test_the_imported_model_is_probed_at_every_stage(imported: Path) -> None:
    probe = _json(imported, "probe.json")
    assert list(probe["nodes"].values()) == EFFNET_STAGES
    rebuilt = _json(imported, "extract.json")["probe_accuracy_from_fields"]
    assert rebuilt == pytest.approx(probe["accuracy"], abs=1e-9)
    assert "features.8" in (imported / "results/report/report.html").read_text()


def test_a_changed_checkpoint_is_not_analysed_silently(imported: Path) -> None:
    """DVC does not see the checkpoint's content; the stages after train refuse a backbone
    imported from a file that has changed since."""
    checkpoint = imported.parent / "effnet.pt"
    torch.save(build_model(EFFNET, (1, 28, 28), 10).state_dict(), checkpoint)
    proc = run(["dvc", "repro", "--force", "--single-item", "probe"], imported, check=False)
    assert proc.returncode != 0
    assert "has changed since the train stage imported it" in proc.stdout + proc.stderr


@pytest.fixture(scope="module", params=sorted(TRANSFORMERS))
def vit(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    repo_root: Path,
    mirror_dir: Path,
) -> Path:
    """A real DVC project of a tiny ViT or CCT."""
    dest = tmp_path_factory.mktemp(request.param) / "project"
    values = _tiny(mirror_dir / "fashion-mnist", TRANSFORMERS[request.param], {})
    values["train"] |= {"optimizer": "adamw", "lr": 1e-3, "weight_decay": 0.05, "warmup": 0.1}
    make_project(repo_root, dest, {"data": "fashion_mnist", "model": request.param}, values)
    run(["dvc", "repro"], dest)
    return dest


def _tokens(project: Path) -> int:
    """The number of tokens of the project's transformer, by its ``model.name``."""
    return TOKENS[yaml.safe_load((project / "params.yaml").read_text())["model"]["name"]]


def test_a_transformer_is_probed_at_every_block_one_unit_per_embedding_dimension(
    vit: Path,
) -> None:
    probe = _json(vit, "probe.json")
    assert list(probe["nodes"].values()) == ["blocks.0", "blocks.1"]
    assert probe["features"]["layer_01"] == [16, _tokens(vit), 1]  # 16 nodes over the tokens
    rebuilt = _json(vit, "extract.json")["probe_accuracy_from_fields"]
    assert rebuilt == pytest.approx(probe["accuracy"], abs=1e-9)  # the nodes' fields sum to it
    with np.load(vit / "results/fields/layer_02.npz") as fields:
        assert str(fields["node"]) == "blocks.1" and fields["matrices"].shape == (16, 10, 10)
    report = _json(vit, "report.json")
    assert list(report["nodes"].values()) == ["blocks.0", "blocks.1"]
    runs = _runs(vit)
    assert sorted(runs) == ["download", "extract", "probe", "prune", "report", "train"]
    client = MlflowClient(f"sqlite:///{vit / 'mlflow.db'}")
    history = client.get_metric_history(runs["report"].info.run_id, "snr_threshold")
    assert sorted(m.step for m in history) == [1, 2]  # one step per block, as per CNN layer


def test_the_prune_stage_says_why_its_rules_do_not_apply_to_a_transformer(vit: Path) -> None:
    for page in ("prune.html", "prune.md"):
        text = (vit / "results/prune" / page).read_text()
        assert "a cut point does not feed one conv alone" in text
    assert list(_json(vit, "prune.json")) == ["unpruned_acc"]  # no arm was fine-tuned


def test_a_transformer_probed_at_its_heads_reruns_from_the_probe_one_unit_per_head(
    vit: Path,
) -> None:
    params_path = vit / "params.yaml"
    params = yaml.safe_load(params_path.read_text())
    params["probe"]["cuts"] = "heads"
    params_path.write_text(yaml.safe_dump(params))
    assert set(json.loads(run(["dvc", "status", "--json"], vit).stdout)) == {"probe"}
    run(["dvc", "repro"], vit)
    probe = _json(vit, "probe.json")
    assert list(probe["nodes"].values()) == ["blocks.0.attn.norm", "blocks.1.attn.norm"]
    assert probe["features"]["layer_02"] == [2, 8, _tokens(vit)]  # 2 heads of 8 values per token
    rebuilt = _json(vit, "extract.json")["probe_accuracy_from_fields"]
    assert rebuilt == pytest.approx(probe["accuracy"], abs=1e-9)  # the heads' fields sum to it
    with np.load(vit / "results/fields/layer_02.npz") as fields:
        assert fields["matrices"].shape == (2, 10, 10)  # one field matrix per head
    report = (vit / "results/report/report.md").read_text()
    assert "figures/layer_02_units.png" in report  # both heads' matrices side by side
