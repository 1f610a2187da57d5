"""Datasets: specs, fetching and checking the original files, conversion, splits, batches."""

from filterscope.data.batches import DeviceBatches, scale, shift_flip, split_train_val
from filterscope.data.convert import class_names, load_raw
from filterscope.data.fetch import fetch_files, md5sum
from filterscope.data.prepared import prepare_dataset, read_meta, read_split, write_prepared
from filterscope.data.registry import DATASETS, DatasetSpec, get_spec, resolve_files

__all__ = [
    "DATASETS",
    "DatasetSpec",
    "DeviceBatches",
    "class_names",
    "fetch_files",
    "get_spec",
    "load_raw",
    "md5sum",
    "prepare_dataset",
    "read_meta",
    "read_split",
    "resolve_files",
    "scale",
    "shift_flip",
    "split_train_val",
    "write_prepared",
]
