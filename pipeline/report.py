"""DVC stage 'report': `python pipeline/report.py [hydra overrides]` (see dvc.yaml)."""

from filterscope.cli import hydra_entry

if __name__ == "__main__":
    hydra_entry("filterscope.stages.report", __file__)
