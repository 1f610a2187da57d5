"""DVC stage 'download': `python pipeline/download.py [hydra overrides]` (see dvc.yaml)."""

from filterscope.cli import hydra_entry
from filterscope.stages import download

if __name__ == "__main__":
    hydra_entry(download.run, __file__)
