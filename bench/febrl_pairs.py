#!/usr/bin/env python3
"""List the pairs yici got wrong on FEBRL, with the fields that differ.

    yici --config bench/febrl-config/febrl4 export links --format csv > links.csv
    python3 bench/febrl_pairs.py links.csv bench/out/febrl/febrl4/truth.csv \\
        febrl4_a=bench/out/febrl/febrl4/records_a.csv febrl4_b=bench/out/febrl/febrl4/records_b.csv \\
        [--out pairs.csv] [--show 20] [--explain YICI --config DIR]

Joins ``source,source_key,master_id`` (yici's export) with the truth file
(``source,source_key,person_id``) over the records present in both, the same
universe ``yici eval`` scores, and lists every missed link (two records of
one person under different masters) and every false merge (two persons under
one master). ``--out`` writes them all as CSV (raw fields of both sides);
``--show N`` prints N of each with only the fields that differ, and with
``--explain`` each printed pair's ``yici explain`` levels and total.
Standard library only.
"""

from __future__ import annotations

import argparse
import collections
import csv
import itertools
import json
import subprocess
import sys

FIELDS = [
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


def read_csv(path: str) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def explain(binary: str, config: str, a: str, b: str) -> str:
    run = subprocess.run(
        [binary, "-q", "--json", "--config", config, "explain", a, b],
        capture_output=True,
        text=True,
        check=False,
    )
    if run.returncode != 0:
        return f"explain failed: {run.stderr.strip()}"
    e = json.loads(run.stdout)["explanation"]
    levels = ", ".join(
        f"{f['field']} {f['level']} {f['weight'] + f['tf_adjustment']:+.2f}"
        for f in e["fields"]
        if f["level"]
    )
    rule = f", hard rule {e['hard_rule']}" if e.get("hard_rule") else ""
    return f"{levels}; prior {e['prior']:+.2f}; total {e['total']:+.2f} → {e['decision']}{rule}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("links")
    ap.add_argument("truth")
    ap.add_argument("records", nargs="+", help="SOURCE=PATH of each record file")
    ap.add_argument("--out", help="write every wrong pair here (CSV)")
    ap.add_argument("--show", type=int, default=10, help="pairs of each kind to print")
    ap.add_argument("--explain", metavar="YICI", help="yici binary, to explain printed pairs")
    ap.add_argument("--config", help="configuration root for --explain")
    args = ap.parse_args(argv)

    records = {}
    for spec in args.records:
        source, path = spec.split("=", 1)
        for r in read_csv(path):
            records[f"{source}:{r['rec_id']}"] = r
    master = {f"{r['source']}:{r['source_key']}": r["master_id"] for r in read_csv(args.links)}
    person = {f"{r['source']}:{r['source_key']}": r["person_id"] for r in read_csv(args.truth)}
    keys = sorted(k for k in person if master.get(k))
    by_person, by_master = collections.defaultdict(list), collections.defaultdict(list)
    for k in keys:
        by_person[person[k]].append(k)
        by_master[master[k]].append(k)
    missed = [p for ks in by_person.values() for p in itertools.combinations(ks, 2) if master[p[0]] != master[p[1]]]
    false = [p for ks in by_master.values() for p in itertools.combinations(ks, 2) if person[p[0]] != person[p[1]]]
    true_pairs = sum(len(v) * (len(v) - 1) // 2 for v in by_person.values())
    print(f"records {len(keys)}, true pairs {true_pairs}, missed links {len(missed)}, false merges {len(false)}")

    if args.out:
        with open(args.out, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["kind", "a", "b"] + [f"{c}_{s}" for c in FIELDS for s in "ab"])
            for kind, pairs in (("missed", missed), ("false", false)):
                for a, b in pairs:
                    ra, rb = records.get(a, {}), records.get(b, {})
                    w.writerow([kind, a, b] + [v for c in FIELDS for v in (ra.get(c, ""), rb.get(c, ""))])

    for kind, pairs in (("missed link", missed), ("false merge", false)):
        for a, b in pairs[: args.show]:
            ra, rb = records.get(a, {}), records.get(b, {})
            print(f"\n{kind}: {a}  {b}")
            for c in FIELDS:
                if ra.get(c, "") != rb.get(c, ""):
                    print(f"    {c:14} {ra.get(c, '')!r:32} {rb.get(c, '')!r}")
            if args.explain and args.config:
                print("    yici: " + explain(args.explain, args.config, a, b))
    return 0


if __name__ == "__main__":
    sys.exit(main())
