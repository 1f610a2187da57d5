"""Backbones that expose their conv cut points by 1-based index."""

from filterscope.models.backbone import Backbone
from filterscope.models.registry import MODELS, build_model

__all__ = ["MODELS", "Backbone", "build_model"]
