"""DVC stage 'extract': `python pipeline/extract.py [hydra overrides]` (see dvc.yaml)."""

from filterscope.cli import hydra_entry

if __name__ == "__main__":
    hydra_entry("filterscope.stages.extract", __file__)
