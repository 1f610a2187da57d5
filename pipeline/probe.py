"""DVC stage 'probe': `python pipeline/probe.py [hydra overrides]` (see dvc.yaml)."""

from filterscope.cli import hydra_entry
from filterscope.stages import probe

if __name__ == "__main__":
    hydra_entry(probe.run, __file__)
