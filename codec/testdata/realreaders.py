#!/usr/bin/env python3
"""Reads the files redstage wrote with Polars and PyArrow and compares every
value with the expected values (JSON written by TestRealReaders).

usage: realreaders.py expected.json DIR

Prints "ok <reader> <file> <rows>" per successful check and a description of
every mismatch; exits 1 on any mismatch or reader error.
"""
import json
import math
import os
import sys

import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.ipc as paipc
import pyarrow.json as pajson
import pyarrow.parquet as pq

ARROW_TYPES = {
    "utf8": pa.string(),
    "int64": pa.int64(),
    "float64": pa.float64(),
    "bool": pa.bool_(),
    "date": pa.date32(),
    "datetime": pa.timestamp("us", tz="UTC"),
}
POLARS_TYPES = {
    "utf8": pl.String,
    "int64": pl.Int64,
    "float64": pl.Float64,
    "bool": pl.Boolean,
    "date": pl.Date,
    "datetime": pl.Datetime("us", "UTC"),
}


def arrow_schema(cols):
    return pa.schema([(c["name"], ARROW_TYPES[c["type"]]) for c in cols])


def polars_schema(cols):
    return {c["name"]: POLARS_TYPES[c["type"]] for c in cols}


def normalize_arrow(table, cols):
    """Column values as Python values comparable with the expected JSON."""
    out = {}
    for c in cols:
        arr = table.column(c["name"])
        t = c["type"]
        if t == "date":
            arr = arr.cast(pa.int32())
        elif t == "datetime":
            if not pa.types.is_timestamp(arr.type) or arr.type.unit != "us":
                raise TypeError(f"column {c['name']}: type {arr.type}, want timestamp[us]")
            arr = arr.cast(pa.int64())
        out[c["name"]] = arr.to_pylist()
    return out


def normalize_polars(df, cols):
    out = {}
    for c in cols:
        s = df.get_column(c["name"])
        t = c["type"]
        want = POLARS_TYPES[t]
        if s.dtype != want:
            raise TypeError(f"column {c['name']}: polars dtype {s.dtype}, want {want}")
        if t == "date":
            s = s.cast(pl.Int32)
        elif t == "datetime":
            s = s.dt.epoch("us")
        out[c["name"]] = s.to_list()
    return out


def same(t, want, got):
    if want is None or got is None:
        return want is None and got is None
    if t == "int64" or t == "datetime":
        return int(want) == got
    if t == "float64":
        w = float(want)
        if math.isnan(w):
            return isinstance(got, float) and math.isnan(got)
        return w == got and math.copysign(1, w) == math.copysign(1, got)
    return want == got


def zero_equal(t, want, got):
    return t == "float64" and want is not None and got is not None and float(want) == 0 and got == 0


def compare(label, expected, got, signed_zero=True):
    cols = expected["columns"]
    bad = 0
    for c in cols:
        vals = got[c["name"]]
        if len(vals) != expected["rows"]:
            print(f"FAIL {label}: column {c['name']} has {len(vals)} rows, want {expected['rows']}")
            return False
        shown = 0
        for i, (w, g) in enumerate(zip(c["values"], vals)):
            if not same(c["type"], w, g) and not (not signed_zero and zero_equal(c["type"], w, g)):
                bad += 1
                if shown < 5:
                    print(f"FAIL {label}: row {i} column {c['name']} ({c['type']}): want {w!r}, got {g!r}")
                    shown += 1
    return bad == 0


def readers(path, cols):
    name = os.path.basename(path)
    aschema = arrow_schema(cols)
    pschema = polars_schema(cols)
    if name.endswith(".parquet"):
        yield "polars", lambda: normalize_polars(pl.read_parquet(path), cols)
        yield "pyarrow", lambda: normalize_arrow(pq.read_table(path), cols)
    elif name.endswith(".arrow"):
        yield "polars", lambda: normalize_polars(pl.read_ipc(path), cols)
        yield "pyarrow", lambda: normalize_arrow(paipc.open_file(path).read_all(), cols)
    elif name.endswith(".arrows"):
        yield "polars", lambda: normalize_polars(pl.read_ipc_stream(path), cols)
        yield "pyarrow", lambda: normalize_arrow(paipc.open_stream(path).read_all(), cols)
    elif name.endswith(".csv") or name.endswith(".tsv"):
        sep = "\t" if name.endswith(".tsv") else ","
        # Polars: read every column as text, then convert with Polars' own
        # parsers; nulls are the empty unquoted fields.
        def read_polars():
            df = pl.read_csv(path, separator=sep, schema={c["name"]: pl.String for c in cols})
            exprs = []
            for c in cols:
                col = pl.col(c["name"])
                t = c["type"]
                if t == "utf8":
                    exprs.append(col)
                elif t == "datetime":
                    exprs.append(col.str.to_datetime(time_unit="us", time_zone="UTC"))
                elif t == "date":
                    exprs.append(col.str.to_date("%Y-%m-%d"))
                elif t == "bool":
                    exprs.append(col.replace_strict({"true": True, "false": False}, return_dtype=pl.Boolean))
                else:
                    exprs.append(col.cast(POLARS_TYPES[t]))
            return normalize_polars(df.select(exprs), cols)
        yield "polars", read_polars

        def read_pyarrow():
            t = pacsv.read_csv(
                path,
                parse_options=pacsv.ParseOptions(delimiter=sep, newlines_in_values=True),
                convert_options=pacsv.ConvertOptions(
                    column_types=aschema, null_values=[""], strings_can_be_null=True,
                    quoted_strings_can_be_null=False, true_values=["true"], false_values=["false"]),
            )
            return normalize_arrow(t, cols)
        yield "pyarrow", read_pyarrow
    elif name.endswith(".ndjson"):
        # JSON has no literal for nan/inf, so redstage writes them as the
        # strings "nan", "inf", "-inf" in otherwise numeric columns. Polars
        # reads such a column as String (stringifying the numbers) and casts
        # it; its stringification turns -0 into "0", so zero signs are not
        # compared for NDJSON floats. PyArrow's JSON reader rejects a column
        # that mixes numbers and strings, so it is not used for NDJSON.
        def read_polars():
            over = dict(pschema)
            floats = [c["name"] for c in cols if c["type"] == "float64"]
            for f in floats:
                over[f] = pl.String
            df = pl.read_ndjson(path, schema=over)
            df = df.with_columns([pl.col(f).cast(pl.Float64) for f in floats])
            return normalize_polars(df, cols)
        yield "polars", read_polars


def main():
    expected = json.load(open(sys.argv[1]))
    d = sys.argv[2]
    ok = True
    for name in sorted(os.listdir(d)):
        if name == "expected.json":
            continue
        for reader, read in readers(os.path.join(d, name), expected["columns"]):
            label = f"{reader} {name}"
            try:
                got = read()
            except Exception as e:  # a reader that cannot read the file is a failure
                print(f"FAIL {label}: {type(e).__name__}: {e}")
                ok = False
                continue
            if compare(label, expected, got, signed_zero=not name.endswith(".ndjson")):
                print(f"ok {label} {expected['rows']}")
            else:
                ok = False
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
