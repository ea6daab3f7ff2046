"""Shared helpers of the Splink reference scripts: pairwise scoring against a
``source,source_key,person_id`` truth file, a threshold sweep, timing and the
summary printout.

Pairwise scoring (the same definition ``yici eval`` uses): over the records
that are both in the clustering and in the truth, a *predicted pair* is two
records in one cluster, a *true pair* two records of one person; precision =
|predicted ∩ true| / |predicted|, recall = |predicted ∩ true| / |true|. All
counts come from the cluster × person contingency table, so no pair list is
ever materialized.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import time
from contextlib import contextmanager
from datetime import datetime, timezone

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components


def read_truth(path) -> pd.Series:
    """truth.csv → Series uid ('source:source_key') → person_id (str)."""
    t = pd.read_csv(path, dtype=str, keep_default_na=False)
    uid = t["source"] + ":" + t["source_key"]
    s = pd.Series(t["person_id"].to_numpy(), index=uid.to_numpy(), name="person_id")
    if s.index.has_duplicates:
        raise SystemExit(f"{path}: duplicate source,source_key rows")
    return s


def _pairs(counts: np.ndarray) -> int:
    c = counts.astype(np.int64)
    return int((c * (c - 1) // 2).sum())


def pairwise_scores(cluster: pd.Series, truth: pd.Series) -> dict:
    """cluster: uid → cluster id; truth: uid → person id. Scores the uids in both."""
    both = cluster.index.intersection(truth.index)
    df = pd.DataFrame({"c": cluster.loc[both].to_numpy(), "p": truth.loc[both].to_numpy()})
    pred = _pairs(df.groupby("c").size().to_numpy())
    true = _pairs(df.groupby("p").size().to_numpy())
    cells = df.groupby(["c", "p"]).size()
    tp = _pairs(cells.to_numpy())
    persons_per_cluster = cells.groupby(level="c").size()
    precision = tp / pred if pred else 1.0
    recall = tp / true if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "records_scored": int(len(both)),
        "records_not_in_truth": int(len(cluster) - len(both)),
        "truth_records_missing": int(len(truth) - len(both)),
        "true_pairs": true,
        "predicted_pairs": pred,
        "true_positive_pairs": tp,
        "false_positive_pairs": pred - tp,
        "missed_pairs": true - tp,
        "false_merge_clusters": int((persons_per_cluster > 1).sum()),
        "precision": precision,
        "recall": recall,
        "f1": f1,
    }


def components(uids: np.ndarray, left: np.ndarray, right: np.ndarray) -> pd.Series:
    """Connected components (what Splink's clustering computes) of the graph on
    ``uids`` with edges left[i]–right[i]; returns uid → component number."""
    pos = pd.Index(uids)
    li = pos.get_indexer(left)
    ri = pos.get_indexer(right)
    if (li < 0).any() or (ri < 0).any():
        raise ValueError("edge endpoint not among the records")
    n = len(pos)
    g = coo_matrix((np.ones(len(li), dtype=np.int8), (li, ri)), shape=(n, n))
    _, labels = connected_components(g, directed=False)
    return pd.Series(labels, index=pos)


def sweep(
    uids: np.ndarray,
    pairs: pd.DataFrame,
    truth: pd.Series,
    thresholds: list[float],
) -> list[dict]:
    """Clusters ``pairs`` (columns uid_l, uid_r, match_probability) at each
    threshold by connected components and scores each clustering."""
    out = []
    for t in thresholds:
        e = pairs[pairs["match_probability"] >= t]
        s = pairwise_scores(components(uids, e["uid_l"].to_numpy(), e["uid_r"].to_numpy()), truth)
        out.append({"threshold": t, **s})
    return out


DEFAULT_THRESHOLDS = [
    0.01, 0.05, 0.1, 0.2, 0.3,
    0.5, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.998, 0.999, 0.9995, 0.9999, 0.99999, 0.999999,
]


def peak_rss_mb() -> float:
    """Peak resident set size of this process (DuckDB runs in it), in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class Timer:
    """Named wall-clock phases: ``with timer.phase('train'): …``."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.phases: dict[str, float] = {}

    @contextmanager
    def phase(self, name: str):
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.phases[name] = self.phases.get(name, 0.0) + time.perf_counter() - t0

    def total(self) -> float:
        return time.perf_counter() - self.start


def environment() -> dict:
    import duckdb
    import splink

    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "splink": splink.__version__,
        "duckdb": duckdb.__version__,
        "pandas": pd.__version__,
    }


def fmt_scores(s: dict) -> str:
    return (
        f"P {s['precision']:.5f}  R {s['recall']:.5f}  F1 {s['f1']:.5f}  "
        f"(FP pairs {s['false_positive_pairs']:,}, missed pairs {s['missed_pairs']:,}, "
        f"false-merge clusters {s['false_merge_clusters']:,})"
    )


def print_summary(summary: dict, json_path=None) -> None:
    """Markdown-ish summary on stdout, and the full JSON (to a file if given, else stdout)."""
    print()
    print(f"## {summary['dataset']}: Splink {summary['env']['splink']} + DuckDB {summary['env']['duckdb']}")
    print()
    print(f"- records: {summary['records']:,}  (nproc {summary['env']['nproc']}, {summary['env']['date']})")
    t = summary["seconds"]
    print(
        "- seconds: "
        + ", ".join(f"{k} {v:.2f}" for k, v in t.items())
    )
    print(f"- peak RSS: {summary['peak_rss_mb']:.0f} MB")
    print(f"- predicted pairs scored: {summary.get('predicted_pairs_scored', 0):,}")
    at = summary["at_0.95"]
    print(f"- at match probability 0.95: {fmt_scores(at)}")
    best = summary["best"]
    print(f"- best threshold {best['threshold']}: {fmt_scores(best)}")
    print()
    print("| threshold | precision | recall | F1 | FP pairs | missed pairs |")
    print("|---:|---:|---:|---:|---:|---:|")
    for r in summary["sweep"]:
        print(
            f"| {r['threshold']} | {r['precision']:.5f} | {r['recall']:.5f} | {r['f1']:.5f} | "
            f"{r['false_positive_pairs']:,} | {r['missed_pairs']:,} |"
        )
    text = json.dumps(summary, indent=2, ensure_ascii=False, default=str)
    if json_path:
        with open(json_path, "w", encoding="utf-8") as f:
            f.write(text + "\n")
        print(f"\nJSON summary: {json_path}")
    else:
        print()
        print(text)
