"""Models and their cut points: filterscope's own families, torchvision's, or a user's module."""

from filterscope.models.backbone import Backbone
from filterscope.models.cuts import CutModel
from filterscope.models.registry import MODELS, build_model

__all__ = ["MODELS", "Backbone", "CutModel", "build_model"]
