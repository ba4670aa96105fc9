#!/usr/bin/env python3
"""Writes a copy of a migrate checkpoint marked as an older format version: the fixture that tests how tools meet a
checkpoint written by an older migrate (tests/unit/fixtures/checkpoint-format1.h5, read by tests/unit/test_report.sh).

  pip install h5py
  migrate run jobs/semantle-demo.yaml --set strategy=random --set iterations=2 --set output_dir=/tmp/v1 --overwrite
  python3 scripts/make_old_checkpoint.py /tmp/v1/checkpoint.h5 tests/unit/fixtures/checkpoint-format1.h5 --version 1

Only the root attribute format_version changes: version 1 files are refused by migrate since nothing covered their
config, which is what an old checkpoint found on a cluster's scratch looks like to this version.
"""
import argparse
import shutil

import h5py
import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("src")
ap.add_argument("dst")
ap.add_argument("--version", type=int, default=1)
a = ap.parse_args()
shutil.copyfile(a.src, a.dst)
with h5py.File(a.dst, "r+") as f:
    f.attrs["format_version"] = np.int64(a.version)
print("%s: format_version %d" % (a.dst, a.version))
