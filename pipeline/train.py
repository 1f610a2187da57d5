"""DVC stage 'train': `python pipeline/train.py [hydra overrides]` (see dvc.yaml)."""

from filterscope.cli import hydra_entry
from filterscope.stages import train

if __name__ == "__main__":
    hydra_entry(train.run, __file__)
