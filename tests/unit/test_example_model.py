"""The shipped example of a model of your own (conf/model/mynet.yaml, filterscope.examples.mynet)
composes, passes the config checks with the cut points the docs name, and decomposes into
per-filter fields like any model."""

from __future__ import annotations

import pytest
import torch
from hydra import compose, initialize_config_dir

from filterscope.analysis import filter_fields
from filterscope.config import validate
from filterscope.errors import ConfigError
from filterscope.models import CutModel, build_model
from filterscope.models.cuts import resolve_nodes
from tests.helpers.configs import CONF


def _composed(*overrides: str):
    with initialize_config_dir(str(CONF), version_base="1.3"):
        return compose("config", ["data=mnist", "model=mynet", *overrides])


def test_the_example_model_validates_with_the_documented_cut_points() -> None:
    cfg = _composed("probe.cuts=[conv1,block2]")
    validate(cfg)  # the dry build and its cut points included
    model = build_model(cfg.model, (1, 28, 28), 10)
    cut = CutModel(model, resolve_nodes(model, cfg.probe.cuts), None)
    assert cut.cut_shapes((1, 28, 28)) == [(16, 28, 28), (32, 7, 7)]


def test_a_wrong_cut_name_is_refused_with_the_nearest_names() -> None:
    model = build_model(_composed().model, (1, 28, 28), 10)
    with pytest.raises(ConfigError, match="block2"):
        resolve_nodes(model, ["blok2"])


def test_its_fields_sum_to_a_probes_logits() -> None:
    torch.manual_seed(0)
    model = build_model(_composed("model.width=4").model, (1, 28, 28), 10).eval()
    cut = CutModel(model, resolve_nodes(model, ["block2"]), None)
    (features,) = cut.cut_points(torch.rand(5, 1, 28, 28) * 2 - 1, [1])
    probe = torch.randn(10, features[0].numel())
    fields = filter_fields(features, probe.view(10, *features.shape[1:]))
    assert torch.allclose(fields.sum(1), features.flatten(1) @ probe.T, atol=1e-5)
