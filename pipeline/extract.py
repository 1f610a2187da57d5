"""DVC stage 'extract': `python pipeline/extract.py [hydra overrides]` (see dvc.yaml)."""

from filterscope.cli import hydra_entry
from filterscope.stages import extract

if __name__ == "__main__":
    hydra_entry(extract.run, __file__)
