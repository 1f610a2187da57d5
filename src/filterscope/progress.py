"""What a stage tells the person watching it: plain lines on stderr (``[stage] ...``), as
readable in a log file (CI, SLURM, ``nohup``) as in a terminal."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence

from filterscope.distributed import launched_as_rank_zero


def bar_wanted(progress: bool) -> bool:
    """Lightning's progress bar: when ``runtime.progress`` asks for it and stderr is a terminal.
    In a log file a bar is a stream of carriage returns; the epoch lines say it plainly."""
    return progress and sys.stderr.isatty()


def say(stage: str, text: str) -> None:
    """One line ``[stage] text`` on stderr, from rank zero only."""
    if launched_as_rank_zero():
        print(f"[{stage}] {text}", file=sys.stderr, flush=True)


def epoch_line(row: Mapping[str, float], epochs: int, suffixes: Sequence[str]) -> str:
    """An epoch's history ``row`` in one line. One head: loss and accuracy of train and val;
    several (the probes of several layers): each head's accuracy, in ``suffixes`` order."""
    parts = [f"epoch {int(row['epoch'])}/{epochs}"]
    for split in ("train", "val"):
        if f"{split}_acc{suffixes[0]}" not in row:
            continue
        if len(suffixes) == 1:
            (s,) = suffixes
            parts.append(
                f"{split} loss {row[f'{split}_loss{s}']:.4f} acc {row[f'{split}_acc{s}']:.4f}"
            )
        else:
            accs = " ".join(f"{row[f'{split}_acc{s}']:.3f}" for s in suffixes)
            parts.append(f"{split} acc per head {accs}")
    parts.append(f"lr {row['lr']:.3g}")
    parts.append(f"{row['seconds']:.1f} s")
    return " | ".join(parts)
