"""DVC stage 'download': `python pipeline/download.py [hydra overrides]` (see dvc.yaml)."""

from filterscope.cli import hydra_entry

if __name__ == "__main__":
    hydra_entry("filterscope.stages.download", __file__)
