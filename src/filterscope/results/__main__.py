"""``python -m filterscope.results [--check] [RESULTS.md]``: render RESULTS.md's tables from
``docs/results/``; with ``--check``, change nothing and exit 1 where the file differs from what
the data render or where a rendered section's prose quotes a number none of its tables holds."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from filterscope.results import fashion_mnist, labels, mnist, transformers, vgg_mechanism
from filterscope.results import sections as cifar
from filterscope.results.markdown import render, sections, unbacked_numbers

SECTIONS = (
    cifar.SECTIONS
    | fashion_mnist.SECTIONS
    | mnist.SECTIONS
    | labels.SECTIONS
    | vgg_mechanism.SECTIONS
    | transformers.SECTIONS
)
"""Every rendered section by heading; the other sections' tables are still written by hand."""


def rendered(text: str, data: Path) -> str:
    """``text`` with every marked table rendered from the data folder ``data``."""
    return render(
        text, {name: t for tables in SECTIONS.values() for name, t in tables(data).items()}
    )


def problems(text: str) -> list[str]:
    """Per rendered section, the numbers of its prose that its tables do not hold."""
    found = sections(text)
    missing = [h for h in SECTIONS if h not in found]
    out = [f"no section '## {h}'" for h in missing]
    for heading in (h for h in SECTIONS if h in found):
        if numbers := unbacked_numbers(found[heading]):
            out.append(f"'{heading}': prose numbers its tables do not hold: {', '.join(numbers)}")
    return out


def main(argv: list[str] | None = None) -> int:
    """Render (or ``--check``) RESULTS.md; the exit status."""
    parser = argparse.ArgumentParser(prog="python -m filterscope.results", description=__doc__)
    parser.add_argument("results", nargs="?", type=Path, default=Path("RESULTS.md"))
    parser.add_argument("--data", type=Path, default=Path("docs/results"))
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    text = args.results.read_text()
    new = rendered(text, args.data)
    issues = problems(new)
    if args.check and new != text:
        issues.insert(
            0, f"{args.results} differs from what {args.data} renders: run `make results`"
        )
    elif not args.check and new != text:
        args.results.write_text(new)
        print(f"rendered {args.results} from {args.data}")
    for issue in issues:
        print(issue, file=sys.stderr)
    return 1 if issues else 0


if __name__ == "__main__":
    sys.exit(main())
