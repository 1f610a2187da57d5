"""DVC stage 'prune': `python pipeline/prune.py [hydra overrides]` (see dvc.yaml)."""

from filterscope.cli import hydra_entry
from filterscope.stages import prune

if __name__ == "__main__":
    hydra_entry(prune.run, __file__)
