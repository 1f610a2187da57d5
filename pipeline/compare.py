"""Compare a sweep's runs: `python pipeline/compare.py [compare.sweep=<parent run id>]`."""

from filterscope.cli import hydra_entry
from filterscope.stages import compare

if __name__ == "__main__":
    hydra_entry(compare.run, __file__)
