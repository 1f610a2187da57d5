"""RESULTS.md from committed data: its tables rendered from the CSVs under ``docs/results/``,
and a check that every number of a section's prose is a cell of that section's tables.

``make results`` renders; ``make results CHECK=1`` (and the test suite) fails where RESULTS.md
differs from what the data renders or where its prose quotes a number its tables do not hold."""
