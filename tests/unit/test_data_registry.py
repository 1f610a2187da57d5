"""Dataset specs, name lookup and the ``data.files`` override."""

from __future__ import annotations

import pytest

from filterscope.data.registry import DATASETS, get_spec, resolve_files
from filterscope.errors import ConfigError, DataError, FilterscopeError

SUBSET = {"name": "cifar-10-python-subset.tar.gz", "md5": "5368c7386bce7eb7594ca88804932787"}


def test_specs_cover_the_four_datasets() -> None:
    assert set(DATASETS) == {"mnist", "fashion_mnist", "cifar10", "cifar100"}
    for name, spec in DATASETS.items():
        assert spec.name == name
        assert spec.official_url.startswith(("http://", "https://"))
        assert spec.official_url.endswith("/")
        assert all(len(md5) == 32 for _, md5 in spec.files)
        assert len(set(spec.classes)) == len(spec.classes)
    assert len(DATASETS["cifar100"].classes) == 100
    assert DATASETS["cifar10"].classes[0] == "airplane"
    assert DATASETS["fashion_mnist"].classes[-1] == "Ankle boot"
    assert DATASETS["mnist"].image_shape == (1, 28, 28)
    assert DATASETS["cifar100"].image_shape == (3, 32, 32)


def test_hflip_only_for_cifar() -> None:
    assert {name for name, spec in DATASETS.items() if spec.hflip} == {"cifar10", "cifar100"}


def test_official_checksums() -> None:
    assert dict(DATASETS["cifar10"].files) == {
        "cifar-10-python.tar.gz": "c58f30108f718f92721af3b95e74349a"
    }
    assert dict(DATASETS["mnist"].files)["train-images-idx3-ubyte.gz"] == (
        "f68b3c2dcbeaaa9fbdd348bbdeb94873"
    )


def test_unknown_dataset_names_the_choices() -> None:
    with pytest.raises(ConfigError, match="unknown dataset 'svhn'; choose one of: mnist") as exc:
        get_spec("svhn")
    assert "\n" not in str(exc.value)


def test_error_hierarchy_and_one_line_messages() -> None:
    assert issubclass(DataError, FilterscopeError)
    assert issubclass(ConfigError, FilterscopeError)
    assert str(DataError("first line\n  second line\n")) == "first line second line"


def test_resolve_files_defaults_and_override() -> None:
    spec = get_spec("cifar10")
    assert resolve_files(spec, None) == spec.files
    assert resolve_files(spec, []) == spec.files
    expected = (("cifar-10-python-subset.tar.gz", "5368c7386bce7eb7594ca88804932787"),)
    assert resolve_files(spec, [SUBSET]) == expected
    assert resolve_files(spec, [(SUBSET["name"], SUBSET["md5"].upper())]) == expected


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"name": "x.tar.gz"}, r"data.files\[0\] must have exactly the keys"),
        ({"name": "../x.tar.gz", "md5": "0" * 32}, r"data.files\[0\].name must be a plain"),
        ({"name": "x.tar.gz", "md5": "abc"}, r"data.files\[0\].md5 must be 32 hex digits"),
        ("x.tar.gz", r"data.files\[0\] must be a \{name, md5\} mapping"),
    ],
)
def test_resolve_files_rejects_bad_entries(entry: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve_files(get_spec("cifar10"), [entry])  # type: ignore[list-item]
