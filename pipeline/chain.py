"""The whole chain for one config as one MLflow run: `python pipeline/chain.py [-m] [overrides]`."""

from filterscope.cli import hydra_entry
from filterscope.stages import chain

if __name__ == "__main__":
    hydra_entry(chain.run, __file__, one_run=True)
