#!/usr/bin/env python3
"""Splink 5 + DuckDB on a yici sample district: the reference yici's resolver
is measured against (issue 4).

    bench/.venv/bin/python bench/splink_reference.py SAMPLE_DIR [--json FILE] [--threads N]

SAMPLE_DIR is a folder written by ``yici demo`` (four department systems in
their native formats plus ``truth.csv``). The script does what a competent
Splink user would do with it:

1. **Read** every source in its native format, with the record keys yici uses
   (``mappings/*.toml``): 民政 ``civil_affairs/ledger.xlsx`` (title row,
   merged two-row header → ``基本信息/姓名``…, subtotal and blank rows; key
   ``档案编号``), 卫健 ``health/jmjkda.csv`` (GB18030; key ``GRDAH``), 人社
   ``hr/pages/page-*.json`` (``data.list``; key ``aac001``), 综治
   ``governance/population.db`` (SQLite table ``rkxx``; key ``rkid``).
2. **Standardize** in pandas: identity numbers upper-cased, full-width folded,
   15 → 18 digits (with the check digit); names without blanks, full-width
   forms or ``·``-separators, traditional → simplified (OpenCC tables), plus
   toneless pinyin and the surname (compound surnames known); sex codes (1/2,
   男/女) with the identity number as fallback; birth dates from date cells and
   every text form (``1985-03-07``, ``1985/3/7``, ``1985.03.07``,
   ``1985年3月7日``, ``19850307``) with the identity number as fallback;
   phones digits only; addresses folded (prefix 浙江省宁波市海曙区 dropped,
   ``#`` → 号, ``3-1-302`` → 3幢1单元302室, Chinese numerals → digits, the
   ``…社区`` part dropped).
3. **Model** (one table, ``dedupe_only``, since every source has internal
   duplicates): blocking on identity number, its first 17 characters, phone,
   name + birth date, surname + birth date, pinyin + birth year; comparisons
   on identity number (exact / one character different / adjacent
   transposition), name with term-frequency adjustment (exact / same pinyin /
   Jaro-Winkler ≥ 0.9 / Damerau-Levenshtein ≤ 1), birth date (exact /
   day–month swapped / one character off / same year and month), sex, and
   phone + address as one comparison (same both / same phone / same address /
   address Jaro-Winkler ≥ 0.9), because a household shares both and two
   separate comparisons count that evidence twice (see basic_contact() and
   ``--separate-contact`` for the naive model). The prior comes from
   deterministic rules, u from random sampling (fixed seed), m from EM over
   two blocking sessions (identity number; name + birth date).
4. **Predict and cluster** at match probability 0.95 (connected components).
5. **Score** pairwise against ``truth.csv`` at 0.95 and across thresholds
   (best F1), count false merges and classify them (see ``linkeval.py``).

Timed phases: read, standardize, train (prior, u, EM), predict + cluster; the
scoring is not timed. Prints a markdown summary and the JSON of every number
(to --json FILE if given). Deterministic: fixed seeds, sorted inputs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import re
import sqlite3
import sys
import unicodedata
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

sys.path.insert(0, str(Path(__file__).resolve().parent))
import linkeval  # noqa: E402

SEED = 2026
THRESHOLD = 0.95
PREDICT_FLOOR = 0.01  # predictions kept for the threshold sweep

# ---------------------------------------------------------------------------
# Reading the four sources
# ---------------------------------------------------------------------------

CANON = [
    "source",
    "source_key",
    "id_raw",
    "doc_type",
    "name_raw",
    "sex_raw",
    "birth_raw",
    "phone_raw",
    "cur_addr_raw",
    "reg_addr_raw",
    "household",
]


def read_civil_affairs(sample: Path) -> pd.DataFrame:
    """The Excel ledger: row 1 a merged title, rows 2–3 a two-row header
    (groups 基本信息/联系信息/救助信息 over their columns, the others merged
    vertically), data from row 4 with 小计/合计 rows and stray blank rows."""
    from openpyxl import load_workbook

    wb = load_workbook(sample / "civil_affairs" / "ledger.xlsx", read_only=True, data_only=True)
    ws = wb["救助对象台帐"] if "救助对象台帐" in wb.sheetnames else wb.worksheets[0]
    rows = ws.iter_rows(values_only=True)
    next(rows)  # title
    top, sub = next(rows), next(rows)
    names, group = [], None
    for t, s in zip(top, sub):
        if t is not None:
            group = t
        names.append(f"{group}/{s}" if s is not None else str(t))
    col = {n: i for i, n in enumerate(names)}
    want = {
        "source_key": "档案编号",
        "id_raw": "基本信息/身份证号码",
        "name_raw": "基本信息/姓名",
        "sex_raw": "基本信息/性别",
        "birth_raw": "基本信息/出生日期",
        "phone_raw": "联系信息/联系电话",
        "reg_addr_raw": "联系信息/户籍地址",
        "cur_addr_raw": "联系信息/现住址",
    }
    idx = {k: col[v] for k, v in want.items()}
    data = {k: [] for k in want}
    for r in rows:
        key = r[idx["source_key"]] if len(r) > idx["source_key"] else None
        if key is None or str(key).strip() == "":
            continue  # blank, 小计 and 合计 rows carry no key
        if any(isinstance(v, str) and ("合计" in v or "小计" in v) for v in r[:2]):
            continue
        for k, i in idx.items():
            v = r[i] if i < len(r) else None
            if isinstance(v, (dt.datetime, dt.date)):
                v = v.strftime("%Y-%m-%d")
            elif isinstance(v, float):
                v = str(int(v)) if v.is_integer() else str(v)
            elif isinstance(v, int):
                v = str(v)
            data[k].append(v)
    wb.close()
    df = pd.DataFrame(data)
    df["source"] = "civil_affairs"
    return df


def read_health(sample: Path) -> pd.DataFrame:
    df = pd.read_csv(
        sample / "health" / "jmjkda.csv", encoding="gb18030", dtype=str, keep_default_na=False
    )
    out = pd.DataFrame(
        {
            "source": "health",
            "source_key": df["GRDAH"],
            "id_raw": df["ZJHM"],
            "doc_type": df["ZJLX"],
            "name_raw": df["XM"],
            "sex_raw": df["XB"],
            "birth_raw": df["CSRQ"],
            "phone_raw": df["LXDH"],
            "cur_addr_raw": df["XZZ"],
            "reg_addr_raw": df["HJDZ"],
        }
    )
    return out


def read_hr(sample: Path) -> pd.DataFrame:
    recs = []
    for page in sorted((sample / "hr" / "pages").glob("page-*.json")):
        with page.open(encoding="utf-8") as f:
            recs.extend(json.load(f)["data"]["list"])
    df = pd.DataFrame.from_records(recs)
    return pd.DataFrame(
        {
            "source": "hr",
            "source_key": df["aac001"].astype(str),
            "id_raw": df["aac002"],
            "name_raw": df["aac003"],
            "sex_raw": df["aac004"],
            "birth_raw": df["aac006"],
            "phone_raw": df["aae005"],
            "cur_addr_raw": df["aae006"],
        }
    )


def read_governance(sample: Path) -> pd.DataFrame:
    con = sqlite3.connect(f"file:{sample / 'governance' / 'population.db'}?mode=ro", uri=True)
    try:
        df = pd.read_sql_query(
            "SELECT rkid, xm, xb, sfzh, csrq, lxdh, hjdz, xzz, hh FROM rkxx ORDER BY rkid", con
        )
    finally:
        con.close()
    return pd.DataFrame(
        {
            "source": "governance",
            "source_key": df["rkid"].astype(str),
            "id_raw": df["sfzh"],
            "name_raw": df["xm"],
            "sex_raw": df["xb"],
            "birth_raw": df["csrq"],
            "phone_raw": df["lxdh"],
            "cur_addr_raw": df["xzz"],
            "reg_addr_raw": df["hjdz"],
            "household": df["hh"],
        }
    )


def read_sample(sample: Path) -> pd.DataFrame:
    parts = [read_civil_affairs(sample), read_health(sample), read_hr(sample), read_governance(sample)]
    df = pd.concat([p.reindex(columns=CANON) for p in parts], ignore_index=True)
    return df


# ---------------------------------------------------------------------------
# Standardization
# ---------------------------------------------------------------------------

_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
_ID_CHECK = "10X98765432"


def _check_char(first17: str) -> str:
    return _ID_CHECK[int(np.dot(_ID_WEIGHTS, [int(c) for c in first17])) % 11]


def _nfkc(s: pd.Series) -> pd.Series:
    """NFKC (full-width → ASCII) over unique values, None for blank."""
    s = s.astype("string")
    u = s.dropna().unique()
    m = {v: unicodedata.normalize("NFKC", v) for v in u}
    return s.map(m, na_action="ignore").astype("string")


def std_id(raw: pd.Series, doc_type: pd.Series) -> pd.Series:
    s = _nfkc(raw).str.replace(r"\s+", "", regex=True).str.upper()
    s = s.mask(s == "")
    is15 = s.str.fullmatch(r"\d{15}").fillna(False)
    if doc_type is not None:
        is15 &= doc_type.fillna("01").ne("03")
    if is15.any():
        s17 = s[is15].str[:6] + "19" + s[is15].str[6:]
        s.loc[is15] = s17 + s17.map(_check_char)
    return s


_SEPARATORS = r"[\s·\.・•‧･．]"
_COMPOUND_SURNAMES = set(
    "欧阳 司马 上官 诸葛 东方 皇甫 尉迟 公孙 慕容 长孙 宇文 司徒 夏侯 轩辕 令狐 端木 独孤 南宫 西门 百里 呼延 闻人 申屠".split()
)


def std_names(raw: pd.Series) -> pd.DataFrame:
    """name (simplified, no blanks/separators), name_py (toneless pinyin), surname."""
    from opencc import OpenCC
    from pypinyin import Style, lazy_pinyin

    t2s = OpenCC("t2s")
    s = raw.astype("string")
    uniq = s.dropna().unique()
    name_map, py_map, sur_map = {}, {}, {}
    for v in uniq:
        n = re.sub(_SEPARATORS, "", unicodedata.normalize("NFKC", v).replace("\u3000", ""))
        n = t2s.convert(n) if n else n
        if not n:
            name_map[v] = None
            continue
        name_map[v] = n
        py_map[v] = "".join(lazy_pinyin(n, style=Style.NORMAL))
        sur_map[v] = n[:2] if n[:2] in _COMPOUND_SURNAMES else n[:1]
    return pd.DataFrame(
        {
            "name": s.map(name_map, na_action="ignore"),
            "name_py": s.map(py_map, na_action="ignore"),
            "surname": s.map(sur_map, na_action="ignore"),
        }
    )


_DATE = re.compile(r"^\s*(\d{4})[-/.年]?(\d{1,2})[-/.月]?(\d{1,2})日?")


def std_birth(raw: pd.Series, id18: pd.Series) -> pd.Series:
    s = raw.astype("string")
    parts = s.str.extract(_DATE)
    text = parts[0] + "-" + parts[1].str.zfill(2) + "-" + parts[2].str.zfill(2)
    d = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
    from_id = pd.to_datetime(
        id18.where(id18.str.fullmatch(r"\d{17}[\dX]").fillna(False)).str[6:14],
        format="%Y%m%d",
        errors="coerce",
    )
    d = d.fillna(from_id)
    return d.dt.strftime("%Y-%m-%d").astype("string")


def std_sex(raw: pd.Series, id18: pd.Series) -> pd.Series:
    m = {"1": "1", "男": "1", "M": "1", "2": "2", "女": "2", "F": "2"}
    s = raw.astype("string").str.strip().map(m, na_action="ignore").astype("string")
    d17 = id18.where(id18.str.fullmatch(r"\d{17}[\dX]").fillna(False)).str[16]
    from_id = d17.map(lambda c: "1" if int(c) % 2 else "2", na_action="ignore").astype("string")
    return s.fillna(from_id)


def std_phone(raw: pd.Series) -> pd.Series:
    s = _nfkc(raw).str.replace(r"\D", "", regex=True)
    s = s.str.replace(r"^(?:0086|86)(1\d{10})$", r"\1", regex=True)
    return s.mask(s.str.len().fillna(0) < 7)


_CN_DIGIT = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_UNIT = {"十": 10, "百": 100, "千": 1000}


def _cn_number(t: str) -> str:
    total, cur = 0, 0
    for ch in t:
        if ch in _CN_DIGIT:
            cur = _CN_DIGIT[ch]
        else:
            total += (cur or 1) * _CN_UNIT[ch]
            cur = 0
    return str(total + cur)


_CN_NUM = re.compile(r"([零〇一二两三四五六七八九十百千]+)(?=号|幢|栋|单元|组|室|弄)")
_DASHED = re.compile(r"号(\d+)-(\d+)-(\d+)$")
_PREFIX = re.compile(r"^(?:浙江省)?(?:宁波市)?(?:海曙区)?")
_COMMUNITY = re.compile(r"(街道|镇|乡)[\u4e00-\u9fff]{1,6}?社区")


def _fold_address(a: str) -> str | None:
    a = unicodedata.normalize("NFKC", a)
    a = re.sub(r"\s+", "", a).replace("#", "号")
    a = _PREFIX.sub("", a)
    a = _CN_NUM.sub(lambda m: _cn_number(m.group(1)), a)
    a = _DASHED.sub(r"号\1幢\2单元\3室", a)
    a = _COMMUNITY.sub(r"\1", a)
    return a or None


def std_address(raw: pd.Series) -> pd.Series:
    s = raw.astype("string")
    m = {v: _fold_address(v) for v in s.dropna().unique()}
    return s.map(m, na_action="ignore").astype("string")


def standardize(raw: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(
        {
            "uid": raw["source"] + ":" + raw["source_key"].astype(str),
            "source": raw["source"],
        }
    )
    out["id_number"] = std_id(raw["id_raw"], raw["doc_type"])
    out["id17"] = out["id_number"].where(out["id_number"].str.len() == 18).str[:17]
    out = pd.concat([out, std_names(raw["name_raw"])], axis=1)
    out["sex"] = std_sex(raw["sex_raw"], out["id_number"])
    out["birth_date"] = std_birth(raw["birth_raw"], out["id_number"])
    out["birth_year"] = out["birth_date"].str[:4]
    out["phone"] = std_phone(raw["phone_raw"])
    addr = raw["cur_addr_raw"].where(raw["cur_addr_raw"].fillna("").str.strip() != "", raw["reg_addr_raw"])
    out["address"] = std_address(addr)
    out = out.replace({"": None})
    # Splink wants proper NULLs and one string type per column.
    return out.astype(object).where(out.notna(), None)


# ---------------------------------------------------------------------------
# The Splink model
# ---------------------------------------------------------------------------

BLOCKING = [
    block_on("id_number"),
    block_on("id17"),
    block_on("phone"),
    block_on("name", "birth_date"),
    block_on("surname", "birth_date"),
    block_on("name_py", "birth_year"),
]

# Hamming distance where the lengths agree (DuckDB's hamming() needs equal
# lengths). It stands in for Damerau-Levenshtein ≤ 1 on fixed-width codes:
# same meaning for a mistyped character, ~100× cheaper, and the transposition
# level below only runs DL on the few pairs with exactly two differences.
_HAMMING = "(CASE WHEN length({c}_l) = length({c}_r) THEN hamming({c}_l, {c}_r) ELSE 99 END)"

SWAPPED_DATE = (
    "substr(birth_date_l, 1, 4) = substr(birth_date_r, 1, 4) "
    "AND substr(birth_date_l, 6, 2) = substr(birth_date_r, 9, 2) "
    "AND substr(birth_date_l, 9, 2) = substr(birth_date_r, 6, 2)"
)


# The naive alternative: phone and address as two independent comparisons.
def basic_contact():
    return [
        cl.ExactMatch("phone").configure(term_frequency_adjustments=True),
        cl.JaroWinklerAtThresholds("address", [0.95, 0.85]),
    ]


def comparisons(separate_contact: bool = False):
    base = [
        cl.CustomComparison(
            output_column_name="id_number",
            comparison_levels=[
                cll.NullLevel("id_number"),
                cll.ExactMatchLevel("id_number"),
                cll.CustomLevel(f"{_HAMMING.format(c='id_number')} <= 1", label_for_charts="one character different"),
                cll.CustomLevel(
                    f"{_HAMMING.format(c='id_number')} = 2 AND damerau_levenshtein(id_number_l, id_number_r) = 1",
                    label_for_charts="adjacent transposition",
                ),
                cll.ElseLevel(),
            ],
        ),
        cl.CustomComparison(
            output_column_name="name",
            comparison_levels=[
                cll.NullLevel("name"),
                cll.ExactMatchLevel("name", term_frequency_adjustments=True),
                cll.ExactMatchLevel("name_py").configure(label_for_charts="same pinyin"),
                cll.JaroWinklerLevel("name", 0.9),
                cll.DamerauLevenshteinLevel("name", 1),
                cll.ElseLevel(),
            ],
        ),
        cl.CustomComparison(
            output_column_name="birth_date",
            comparison_levels=[
                cll.NullLevel("birth_date"),
                cll.ExactMatchLevel("birth_date"),
                cll.CustomLevel(SWAPPED_DATE, label_for_charts="day and month swapped"),
                cll.CustomLevel(f"{_HAMMING.format(c='birth_date')} <= 1", label_for_charts="one character different"),
                cll.CustomLevel(
                    "substr(birth_date_l, 1, 7) = substr(birth_date_r, 1, 7)",
                    label_for_charts="same year and month",
                ),
                cll.ElseLevel(),
            ],
        ),
        cl.ExactMatch("sex"),
    ]
    if separate_contact:
        return base + basic_contact()
    return base + [
        # Phone and address are one comparison, not two: a household shares
        # both, so as separate comparisons household members (twins above
        # all) would collect the evidence twice (Fellegi-Sunter assumes the
        # comparisons independent given match status).
        cl.CustomComparison(
            output_column_name="contact",
            comparison_levels=[
                cll.CustomLevel(
                    "(phone_l IS NULL OR phone_r IS NULL) AND (address_l IS NULL OR address_r IS NULL)",
                    label_for_charts="phone and address missing",
                ).configure(is_null_level=True),
                cll.CustomLevel(
                    "phone_l = phone_r AND address_l = address_r", label_for_charts="same phone and address"
                ),
                cll.ExactMatchLevel("phone").configure(label_for_charts="same phone"),
                cll.ExactMatchLevel("address").configure(label_for_charts="same address"),
                cll.JaroWinklerLevel("address", 0.9),
                cll.ElseLevel(),
            ],
        ),
    ]


def train_predict_cluster(
    std: pd.DataFrame, timer: linkeval.Timer, threads: int | None, max_pairs: float, separate_contact: bool
):
    con = duckdb.connect()
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    db_api = DuckDBAPI(connection=con)
    with timer.phase("train"):
        sdf = db_api.register(std, dataset_display_name="residents")
        settings = SettingsCreator(
            unique_id_column_name="uid",
            link_type="dedupe_only",
            blocking_rules_to_generate_predictions=BLOCKING,
            comparisons=comparisons(separate_contact),
            retain_matching_columns=False,
            retain_intermediate_calculation_columns=False,
        )
        linker = Linker(sdf, settings, log_level=logging.WARNING)
        with timer.phase("train.prior"):
            linker.training.estimate_probability_two_random_records_match(
                [block_on("id_number"), block_on("name", "birth_date", "phone")], recall=0.9
            )
        with timer.phase("train.u"):
            linker.training.estimate_u_using_random_sampling(max_pairs=max_pairs, seed=SEED)
        with timer.phase("train.em"):
            linker.training.estimate_parameters_using_expectation_maximisation(
                block_on("id_number"), estimate_without_term_frequencies=True
            )
            linker.training.estimate_parameters_using_expectation_maximisation(
                block_on("name", "birth_date"), estimate_without_term_frequencies=True
            )
    with timer.phase("predict_cluster"):
        predictions = linker.inference.predict(threshold_match_probability=PREDICT_FLOOR)
        clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
            predictions, threshold_match_probability=THRESHOLD
        )
        cdf = clusters.as_duckdbpyrelation().select("uid, cluster_id").df()
    pairs = predictions.as_duckdbpyrelation().select("uid_l, uid_r, match_probability").df()
    model = json.loads(json.dumps(linker.misc.save_model_to_json()))
    return cdf, pairs, model


# ---------------------------------------------------------------------------
# False-merge analysis
# ---------------------------------------------------------------------------


def false_merge_causes(
    cluster: pd.Series, truth: pd.Series, std: pd.DataFrame, household: pd.Series, pairs: pd.DataFrame
) -> dict:
    """What the false merges at 0.95 are. Per false-merge cluster (records of
    more than one true person): whether some link ≥ 0.95 across persons joins
    two records that both carry an identity number (``linked_despite_two_id_numbers``)
    or every such link touches a record without one (``chained_through_record_without_id``).
    Per pair of distinct persons merged: same 综治 household and birth date
    (``twins``), same household (``household_members``), else ``other``."""
    both = cluster.index.intersection(truth.index)
    df = pd.DataFrame({"c": cluster.loc[both].to_numpy(), "p": truth.loc[both].to_numpy()}, index=both)
    n_persons = df.groupby("c")["p"].nunique()
    bad = set(n_persons[n_persons > 1].index)
    sub = df[df["c"].isin(bad)].copy()
    info = std.set_index("uid").loc[sub.index, ["id_number", "birth_date"]]
    sub["has_id"] = info["id_number"].notna().to_numpy()
    sub["birth"] = info["birth_date"].to_numpy()

    # Cross-person links at the threshold inside the false-merge clusters.
    e = pairs[(pairs["match_probability"] >= THRESHOLD)]
    e = e[e["uid_l"].isin(sub.index) & e["uid_r"].isin(sub.index)]
    pl, pr = sub["p"].reindex(e["uid_l"]).to_numpy(), sub["p"].reindex(e["uid_r"]).to_numpy()
    e = e[pl != pr]
    two_ids = sub["has_id"].reindex(e["uid_l"]).to_numpy() & sub["has_id"].reindex(e["uid_r"]).to_numpy()
    clusters_two_ids = set(sub["c"].reindex(e["uid_l"][two_ids]).to_numpy())

    gov = pd.DataFrame({"p": truth.reindex(household.index).to_numpy(), "hh": household.to_numpy()}).dropna()
    person_hh = gov.groupby("p")["hh"].first()
    person_birth = sub.groupby("p")["birth"].agg(lambda x: x.mode().iloc[0] if x.notna().any() else None)
    kinds = {"twins": 0, "household_members": 0, "other": 0}
    examples = []
    for c, g in sub.groupby("c"):
        persons = sorted(g["p"].unique())
        for i in range(len(persons)):
            for j in range(i + 1, len(persons)):
                a, b = persons[i], persons[j]
                ha, hb = person_hh.get(a), person_hh.get(b)
                if ha is not None and ha == hb:
                    k = "twins" if person_birth.get(a) == person_birth.get(b) else "household_members"
                else:
                    k = "other"
                kinds[k] += 1
        if len(examples) < 5:
            examples.append(sorted(g.index.tolist()))
    return {
        "false_merge_clusters": len(bad),
        "linked_despite_two_id_numbers": len(clusters_two_ids),
        "chained_through_record_without_id": len(bad) - len(clusters_two_ids),
        "cross_person_links": int(len(e)),
        "merged_person_pairs": kinds,
        "example_clusters": examples,
    }


# ---------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("sample_dir", type=Path)
    ap.add_argument("--json", type=Path, help="write the JSON summary here instead of stdout")
    ap.add_argument("--threads", type=int, help="DuckDB threads (default: all cores)")
    ap.add_argument("--max-pairs", type=float, default=1e7, help="pairs sampled for u (default 1e7)")
    ap.add_argument(
        "--separate-contact",
        action="store_true",
        help="the naive model: phone and address as two independent comparisons",
    )
    ap.add_argument("--save-std", type=Path, help="also write the standardized table (parquet)")
    args = ap.parse_args(argv)

    timer = linkeval.Timer()
    with timer.phase("read"):
        raw = read_sample(args.sample_dir)
    with timer.phase("standardize"):
        std = standardize(raw)
        # Records without a name cannot be matched; yici quarantines them
        # (the sample has ~0.06 %), so both sides score the same records.
        keep = std["name"].notna().to_numpy()
        dropped = int((~keep).sum())
        raw = raw[keep].reset_index(drop=True)
        std = std[keep].reset_index(drop=True)
    if std["uid"].duplicated().any():
        dup = std.loc[std["uid"].duplicated(), "uid"].head(5).tolist()
        raise SystemExit(f"duplicate record keys, e.g. {dup}")
    if args.save_std:
        std.to_parquet(args.save_std)
    cdf, pairs, model = train_predict_cluster(
        std, timer, args.threads, args.max_pairs, args.separate_contact
    )
    total = timer.total()
    rss = linkeval.peak_rss_mb()

    truth = linkeval.read_truth(args.sample_dir / "truth.csv")
    cluster = pd.Series(cdf["cluster_id"].to_numpy(), index=cdf["uid"].to_numpy())
    at = linkeval.pairwise_scores(cluster, truth)
    sw = linkeval.sweep(cluster.index.to_numpy(), pairs, truth, linkeval.DEFAULT_THRESHOLDS)
    best = max(sw, key=lambda r: r["f1"])
    # The sweep's own connected components must reproduce Splink's clustering.
    sweep_at = next(r for r in sw if r["threshold"] == THRESHOLD)
    if abs(sweep_at["f1"] - at["f1"]) > 1e-9:
        print(f"warning: sweep F1 at {THRESHOLD} {sweep_at['f1']} != Splink clustering F1 {at['f1']}", file=sys.stderr)
    household = pd.Series(raw["household"].to_numpy(), index=std["uid"].to_numpy()).dropna()
    causes = false_merge_causes(cluster, truth, std, household, pairs)
    per_source = std.groupby("source").size().to_dict()
    completeness = {c: float(std[c].notna().mean()) for c in ["id_number", "name", "sex", "birth_date", "phone", "address"]}

    summary = {
        "dataset": f"yici sample district {args.sample_dir}"
        + (" (phone and address separate)" if args.separate_contact else ""),
        "env": linkeval.environment(),
        "records": int(len(std)),
        "records_per_source": per_source,
        "dropped_without_name": dropped,
        "completeness": completeness,
        "seconds": {**timer.phases, "total_wall": total},
        "peak_rss_mb": rss,
        "predicted_pairs_scored": int(len(pairs)),
        "at_0.95": at,
        "best": best,
        "false_merges_at_0.95": causes,
        "sweep": sw,
        "model": model,
    }
    linkeval.print_summary(summary, args.json)
    print(f"- false merges at 0.95: {json.dumps({k: v for k, v in causes.items() if k != 'example_clusters'}, ensure_ascii=False)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
