"""`make test-data`: the suite's datasets from the official hosts, stood in for here by file://
URLs to folders of the original files; the CIFAR-10 subset derived byte for byte."""

from __future__ import annotations

import shutil
from functools import partial
from pathlib import Path

import pytest

from filterscope.data import testdata
from filterscope.data.fetch import md5sum
from filterscope.data.registry import DATASETS
from filterscope.errors import DataError


@pytest.fixture
def hosts(tmp_path: Path, mirror_dir: Path) -> dict[str, str]:
    """Stand-ins for the three official hosts; the full CIFAR-10 archive's stand-in is the
    mirror's subset archive under the official name (a subset of a subset is itself)."""
    cifar = tmp_path / "hosts" / "cifar"
    cifar.mkdir(parents=True)
    shutil.copy(mirror_dir / "cifar10-subset" / testdata.SUBSET, cifar / "cifar-10-python.tar.gz")
    return {
        "mnist": (mirror_dir / "mnist").as_uri(),
        "fashion_mnist": (mirror_dir / "fashion-mnist").as_uri(),
        "cifar10": cifar.as_uri(),
    }


def test_the_data_step_lays_out_the_mirror_and_derives_the_subset_byte_for_byte(
    tmp_path: Path, hosts: dict[str, str]
) -> None:
    stand_in = md5sum(Path(hosts["cifar10"].removeprefix("file://")) / "cifar-10-python.tar.gz")
    dest = testdata.fetch_test_data(tmp_path / "cache", hosts, cifar_md5=stand_in)
    for name, folder in testdata.FOLDERS.items():
        files = DATASETS[name].files
        assert [md5sum(dest / folder / f) for f, _ in files] == [md5 for _, md5 in files]
    assert md5sum(dest / "cifar10-subset" / testdata.SUBSET) == testdata.SUBSET_MD5
    assert sorted(p.name for p in dest.iterdir()) == ["cifar10-subset", "fashion-mnist", "mnist"]


def test_a_subset_that_is_not_the_mirrors_is_refused_and_removed(
    tmp_path: Path, hosts: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    stand_in = md5sum(Path(hosts["cifar10"].removeprefix("file://")) / "cifar-10-python.tar.gz")
    monkeypatch.setattr(testdata, "derive_subset", partial(testdata.derive_subset, per_batch=1000))
    with pytest.raises(DataError, match="not 5368c7386bce7eb7594ca88804932787"):
        testdata.fetch_test_data(tmp_path / "cache", hosts, cifar_md5=stand_in)
    assert not (tmp_path / "cache" / "cifar10-subset" / testdata.SUBSET).exists()


def test_the_official_md5_refuses_a_stand_in(tmp_path: Path, hosts: dict[str, str]) -> None:
    with pytest.raises(DataError, match="md5"):
        testdata.fetch_test_data(tmp_path / "cache", hosts)
