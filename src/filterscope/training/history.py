"""Per-epoch history: train/val loss and accuracy, learning rate and seconds per epoch."""

from __future__ import annotations

import time
from typing import Any

import lightning as L

from filterscope.progress import epoch_line, say


class EpochHistory(L.Callback):
    """Collects one row per epoch in :attr:`rows` and sends it to the trainer's logger, metric
    names prefixed with ``prefix``.

    The validation metrics join a row only in an epoch that validated. With ``echo`` (a stage
    name), each row is printed as one line (:func:`epoch_line`)."""

    def __init__(self, prefix: str = "", echo: str | None = None) -> None:
        self.prefix = prefix
        self.echo = echo
        self.rows: list[dict[str, float]] = []
        self.restored = 0  # rows that came from a checkpoint
        self._start = 0.0
        self._val: dict[str, float] = {}

    def state_dict(self) -> dict[str, Any]:
        """Saved in checkpoints, so a resumed fit keeps the epochs before the interruption."""
        return {"rows": [dict(row) for row in self.rows]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.rows = [dict(row) for row in state_dict["rows"]]
        self.restored = len(self.rows)

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: Any) -> None:
        self._start = time.perf_counter()
        self._val = {}

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: Any) -> None:
        if not trainer.sanity_checking:
            self._val = pl_module.epoch_metrics("val")

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: Any) -> None:
        # Lightning runs the epoch's validation before this hook.
        row: dict[str, float] = {"epoch": trainer.current_epoch + 1}
        row.update(pl_module.epoch_metrics("train"))
        row.update(self._val)
        row["lr"] = trainer.optimizers[0].param_groups[0]["lr"]
        row["seconds"] = time.perf_counter() - self._start
        self.rows.append(row)
        if self.echo:
            say(self.echo, epoch_line(row, trainer.max_epochs, pl_module.suffixes))
        if trainer.logger is not None:
            metrics = {f"{self.prefix}{k}": v for k, v in row.items() if k != "epoch"}
            trainer.logger.log_metrics(metrics, step=int(row["epoch"]))
