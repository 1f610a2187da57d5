"""DVC stage 'report': `python pipeline/report.py [hydra overrides]` (see dvc.yaml)."""

from filterscope.cli import hydra_entry
from filterscope.stages import report

if __name__ == "__main__":
    hydra_entry(report.run, __file__)
