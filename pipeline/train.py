"""DVC stage 'train': `python pipeline/train.py [hydra overrides]` (see dvc.yaml)."""

from filterscope.cli import hydra_entry

if __name__ == "__main__":
    hydra_entry("filterscope.stages.train", __file__)
