"""Datasets: specs (``registry``), fetching and checking the original files (``fetch``),
conversion (``convert``), acquiring a dataset (``acquire``), the prepared folder (``prepared``),
splits and batches (``batches``).

Nothing is imported here, so a stage that reads prepared data depends on none of the download
code (see docs/pipeline.md, "What DVC tracks").
"""
