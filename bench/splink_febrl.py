#!/usr/bin/env python3
"""Splink 5 + DuckDB on FEBRL3 (deduplication) and FEBRL4 (linking A to B).

    bench/.venv/bin/python bench/febrl.py bench/out/febrl        # the CSVs, once
    bench/.venv/bin/python bench/splink_febrl.py bench/out/febrl [--only febrl3|febrl4] [--json-dir DIR]

Reads the CSV files written by ``febrl.py`` and follows Splink's own FEBRL3
and FEBRL4 example notebooks (DuckDB backend): the same blocking rules,
comparisons (NameComparison on both names, DateOfBirthComparison, Damerau-
Levenshtein on soc_sec_id, exact street number and postcode with term-frequency
adjustments), the prior from deterministic rules, u by random sampling (fixed
seed; 1e7 pairs where the notebooks use 1e6 for speed), m by EM over two
blocking sessions. Then it predicts, clusters at match probability 0.95 by
connected components and scores the clusters against ``truth.csv`` pairwise
(see ``linkeval.py``), also across thresholds to find
Splink's best F1. Prints a markdown summary and the JSON of every number.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import duckdb
import pandas as pd

import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

sys.path.insert(0, str(Path(__file__).resolve().parent))
import linkeval  # noqa: E402

SEED = 2026
THRESHOLD = 0.95


def read_records(path: Path) -> pd.DataFrame:
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    for c in df.columns:
        df[c] = df[c].str.strip().replace("", None)
    return df


def comparisons_febrl3():
    # As in Splink's febrl3 example.
    return [
        cl.NameComparison("given_name"),
        cl.NameComparison("surname"),
        cl.DateOfBirthComparison(
            "date_of_birth", input_is_string=True, datetime_format="%Y%m%d", invalid_dates_as_null=True
        ),
        cl.DamerauLevenshteinAtThresholds("soc_sec_id", [2]),
        cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
        cl.ExactMatch("postcode").configure(term_frequency_adjustments=True),
    ]


def comparisons_febrl4():
    # As in the "detailed model" of Splink's febrl4 example.
    return [
        cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
        cl.NameComparison("surname").configure(term_frequency_adjustments=True),
        cl.DateOfBirthComparison(
            "date_of_birth", input_is_string=True, datetime_format="%Y%m%d", invalid_dates_as_null=True
        ),
        cl.DamerauLevenshteinAtThresholds("soc_sec_id", [1, 2]),
        cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
        cl.DamerauLevenshteinAtThresholds("postcode", [1, 2]).configure(term_frequency_adjustments=True),
    ]


BLOCKING_FEBRL3 = [
    block_on("soc_sec_id"),
    block_on("given_name"),
    block_on("surname"),
    block_on("date_of_birth"),
    block_on("postcode"),
]

BLOCKING_FEBRL4 = [
    block_on("given_name", "surname"),
    "l.given_name = r.surname and l.surname = r.given_name",
    block_on("date_of_birth"),
    block_on("soc_sec_id"),
    block_on("state", "address_1"),
    block_on("street_number", "address_1"),
    block_on("postcode"),
]


def run(name: str, root: Path) -> dict:
    timer = linkeval.Timer()
    con = duckdb.connect()
    db_api = DuckDBAPI(connection=con)
    with timer.phase("load"):
        if name == "febrl3":
            frames = {"febrl3": read_records(root / "febrl3" / "records.csv")}
        else:
            frames = {
                "febrl4_a": read_records(root / "febrl4" / "records_a.csv"),
                "febrl4_b": read_records(root / "febrl4" / "records_b.csv"),
            }
        truth = linkeval.read_truth(root / name / "truth.csv")
        sdfs = [db_api.register(df, dataset_display_name=src) for src, df in frames.items()]
    records = sum(len(df) for df in frames.values())

    with timer.phase("train"):
        if name == "febrl3":
            settings = SettingsCreator(
                unique_id_column_name="rec_id",
                link_type="dedupe_only",
                blocking_rules_to_generate_predictions=BLOCKING_FEBRL3,
                comparisons=comparisons_febrl3(),
            )
            linker = Linker(sdfs[0], settings, log_level=logging.WARNING)
            deterministic = [
                block_on("soc_sec_id"),
                block_on("given_name", "surname", "date_of_birth"),
                "l.given_name = r.surname and l.surname = r.given_name and l.date_of_birth = r.date_of_birth",
            ]
            with timer.phase("train.prior"):
                linker.training.estimate_probability_two_random_records_match(deterministic, recall=0.9)
            with timer.phase("train.u"):
                linker.training.estimate_u_using_random_sampling(max_pairs=1e7, seed=SEED)
            with timer.phase("train.em"):
                linker.training.estimate_parameters_using_expectation_maximisation(block_on("date_of_birth"))
                linker.training.estimate_parameters_using_expectation_maximisation(block_on("postcode"))
        else:
            settings = SettingsCreator(
                unique_id_column_name="rec_id",
                link_type="link_only",
                blocking_rules_to_generate_predictions=BLOCKING_FEBRL4,
                comparisons=comparisons_febrl4(),
            )
            linker = Linker(sdfs, settings, log_level=logging.WARNING)
            deterministic = [block_on("soc_sec_id"), block_on("given_name", "surname", "date_of_birth")]
            with timer.phase("train.prior"):
                linker.training.estimate_probability_two_random_records_match(deterministic, recall=0.8)
            with timer.phase("train.u"):
                linker.training.estimate_u_using_random_sampling(max_pairs=1e7, seed=SEED)
            with timer.phase("train.em"):
                linker.training.estimate_parameters_using_expectation_maximisation(
                    block_on("date_of_birth"), estimate_without_term_frequencies=True
                )
                linker.training.estimate_parameters_using_expectation_maximisation(
                    block_on("postcode"), estimate_without_term_frequencies=True
                )

    with timer.phase("predict_cluster"):
        predictions = linker.inference.predict(threshold_match_probability=0.01)
        clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
            predictions, threshold_match_probability=THRESHOLD
        )
        cdf = clusters.as_pandas_dataframe()
    total = timer.total()
    rss = linkeval.peak_rss_mb()

    # Scoring (not timed).
    if "source_dataset" in cdf.columns:
        cuid = cdf["source_dataset"] + ":" + cdf["rec_id"]
    else:
        cuid = name + ":" + cdf["rec_id"]
    cluster = pd.Series(cdf["cluster_id"].to_numpy(), index=cuid.to_numpy())
    at = linkeval.pairwise_scores(cluster, truth)

    p = predictions.as_pandas_dataframe()
    if "source_dataset_l" in p.columns:
        p["uid_l"] = p["source_dataset_l"] + ":" + p["rec_id_l"]
        p["uid_r"] = p["source_dataset_r"] + ":" + p["rec_id_r"]
    else:
        p["uid_l"] = name + ":" + p["rec_id_l"]
        p["uid_r"] = name + ":" + p["rec_id_r"]
    sw = linkeval.sweep(cluster.index.to_numpy(), p, truth, linkeval.DEFAULT_THRESHOLDS)
    best = max(sw, key=lambda r: r["f1"])
    return {
        "dataset": name,
        "env": linkeval.environment(),
        "records": records,
        "seconds": {**timer.phases, "total_wall": total},
        "peak_rss_mb": rss,
        "predicted_pairs_scored": len(p),
        "at_0.95": at,
        "best": best,
        "sweep": sw,
        "model": linker.misc.save_model_to_json(),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("febrl_dir", type=Path, help="the OUT_DIR given to febrl.py")
    ap.add_argument("--only", choices=["febrl3", "febrl4"])
    ap.add_argument("--json-dir", type=Path, help="write <dataset>.json here instead of printing the JSON")
    args = ap.parse_args(argv)
    for name in ["febrl3", "febrl4"]:
        if args.only and args.only != name:
            continue
        summary = run(name, args.febrl_dir)
        json_path = None
        if args.json_dir:
            args.json_dir.mkdir(parents=True, exist_ok=True)
            json_path = args.json_dir / f"splink_{name}.json"
        linkeval.print_summary(summary, json_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
