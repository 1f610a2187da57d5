"""Compare a sweep's runs: `python pipeline/compare.py [compare.sweep=<parent run id>]`."""

from filterscope.cli import hydra_entry

if __name__ == "__main__":
    hydra_entry("filterscope.stages.compare", __file__)
