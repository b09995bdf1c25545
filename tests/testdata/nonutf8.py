#!/usr/bin/env python3
"""Reads scan output files with Polars and PyArrow and prints their rows.

usage: nonutf8.py FILE...

Prints one JSON object {"file": ..., "reader": ..., "rows": [{column: value}]}
per line for every file and reader. A reader that refuses a file (for
example "invalid utf-8") makes the script print the error and exit 1.
"""
import json
import os
import sys

import polars as pl
import pyarrow.csv as pacsv
import pyarrow.ipc as paipc
import pyarrow.json as pajson
import pyarrow.parquet as pq


def polars_read(path):
    ext = os.path.splitext(path)[1]
    if ext == ".parquet":
        return pl.read_parquet(path)
    if ext == ".arrow":
        return pl.read_ipc(path)
    if ext == ".csv":
        return pl.read_csv(path)
    if ext == ".ndjson":
        return pl.read_ndjson(path)
    raise ValueError(f"unknown extension {ext}")


def pyarrow_read(path):
    ext = os.path.splitext(path)[1]
    if ext == ".parquet":
        return pq.read_table(path)
    if ext == ".arrow":
        with paipc.open_file(path) as f:
            return f.read_all()
    if ext == ".csv":
        # redstage writes a null as an empty unquoted field, "" as an empty string
        conv = pacsv.ConvertOptions(strings_can_be_null=True, quoted_strings_can_be_null=False)
        return pacsv.read_csv(path, convert_options=conv)
    if ext == ".ndjson":
        return pajson.read_json(path)
    raise ValueError(f"unknown extension {ext}")


def main():
    failed = False
    for path in sys.argv[1:]:
        for reader, read in (("polars", lambda p: polars_read(p).to_dicts()),
                             ("pyarrow", lambda p: pyarrow_read(p).to_pylist())):
            try:
                rows = read(path)
            except Exception as e:  # report every refusal, then fail
                print(f"ERROR {reader} {os.path.basename(path)}: {type(e).__name__}: {e}")
                failed = True
                continue
            print(json.dumps({"file": os.path.basename(path), "reader": reader, "rows": rows}, default=str))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
