"""The whole chain for one config as one MLflow run: `python pipeline/chain.py [-m] [overrides]`."""

from filterscope.cli import hydra_entry

if __name__ == "__main__":
    hydra_entry("filterscope.stages.chain", __file__, one_run=True)
