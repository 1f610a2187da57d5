"""docs/notebook.md, run block by block as a reader runs it: a CNN of the reader's own (a plain
``nn.Sequential``) trained on real MNIST from the mirror, torchvision DataLoaders, no pipeline."""

from __future__ import annotations

import re
import shutil
from collections import OrderedDict
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, Subset
from torchvision import datasets, transforms

pytestmark = pytest.mark.integration
PAGE = Path(__file__).resolve().parents[2] / "docs" / "notebook.md"


def _mnist(mirror_dir: Path, root: Path, train: bool, n: int) -> Subset:
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for gz in (mirror_dir / "mnist").glob("*.gz"):
        shutil.copy(gz, raw / gz.name)  # torchvision checks their md5 and extracts, offline
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])
    data = datasets.MNIST(root, train=train, download=True, transform=tf)
    return Subset(data, range(n))


def _readers_model(loader: DataLoader) -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential(
        OrderedDict(
            conv1=nn.Conv2d(1, 16, 3),
            relu1=nn.ReLU(),
            pool1=nn.MaxPool2d(2),
            conv2=nn.Conv2d(16, 32, 3),
            relu2=nn.ReLU(),
            pool2=nn.MaxPool2d(2),
            flatten=nn.Flatten(),
            fc=nn.Linear(32 * 5 * 5, 10),
        )
    )
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    for x, y in loader:
        loss = nn.functional.cross_entropy(model(x), y)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return model


def test_the_notebook_page_runs_on_a_model_and_loaders_of_the_readers_own(
    tmp_path: Path, mirror_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    torch.manual_seed(0)
    train = DataLoader(_mnist(mirror_dir, tmp_path, True, 6000), batch_size=100, shuffle=True)
    test = DataLoader(_mnist(mirror_dir, tmp_path, False, 1000), batch_size=250)
    blocks = re.findall(r"```python\n(.*?)```", PAGE.read_text(), flags=re.S)
    assert len(blocks) >= 5
    monkeypatch.chdir(tmp_path)
    page = {"model": _readers_model(train), "train_loader": train, "test_loader": test}
    for block in blocks:
        exec(compile(block, str(PAGE), "exec"), page)  # noqa: S102 - the page's own code

    summary = page["summary"]
    assert [s.layer for s in summary] == [1, 2]
    assert all(s.probe_accuracy > 0.9 and s.filters in (16, 32) for s in summary)
    assert all(0 < s.clusters_per_filter <= 10 and s.noise_per_filter >= 0 for s in summary)
    # the identity the page leans on: a layer's fields sum to its probe's logits
    x, _ = next(iter(test))
    probe, features = page["probes"][1], page["cut"].cut_points(x, [2])[0]
    z = page["filter_fields"](features, probe.weight.view(10, *features.shape[1:]))
    torch.testing.assert_close(z.sum(1), probe(features.flatten(1)), rtol=1e-4, atol=1e-4)
    assert (tmp_path / "field_matrix.png").stat().st_size > 10_000
