//! Staging throughput: how fast `Store::stage_batch` takes realistic records.
//!
//! ```text
//! cargo run --release --example stage_bench -- --rows 1000000 --store sqlite
//! cargo run --release --example stage_bench -- --rows 1000000 \
//!     --store postgres://postgres@127.0.0.1:5432/postgres
//! ```
//!
//! `--store sqlite` stages into a fresh file in a temp directory (WAL,
//! `synchronous=NORMAL`, as the daemon opens it). A `postgres://` URL names
//! a server to connect to as an admin: the benchmark creates a throwaway
//! database `yici_bench_<pid>` there and drops it afterwards.
//!
//! Three phases over the same keys, in batches of `--batch` (default 5,000):
//! all new, all unchanged, then 10% changed. Only the store calls are timed;
//! building the records (what the standardization threads do, including
//! serializing the JSON) is not. Payloads resemble a civil-affairs register:
//! raw ≈ 300 bytes and canonical ≈ 400 bytes of JSON with Chinese text.

use std::str::FromStr;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::json;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, Executor};
use yici::store::{content_hash, StageCounts, StageInput, Store};

const SOURCE: &str = "civil_affairs";

struct Args {
    rows: usize,
    batch: usize,
    store: String,
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        rows: 1_000_000,
        batch: 5_000,
        store: "sqlite".to_owned(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--rows" => args.rows = value()?.replace('_', "").parse()?,
            "--batch" => args.batch = value()?.replace('_', "").parse()?,
            "--store" => args.store = value()?,
            other => bail!("unknown argument {other} (use --rows N --batch N --store sqlite|URL)"),
        }
    }
    if args.batch == 0 {
        bail!("--batch must be positive");
    }
    Ok(args)
}

/// SplitMix64: a deterministic stream per record, so every phase rebuilds
/// exactly the same records.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn pick<'a>(items: &[&'a str], seed: u64) -> &'a str {
    let len = u64::try_from(items.len()).unwrap_or(1);
    items[usize::try_from(seed % len).unwrap_or(0)]
}

const SURNAMES: &[&str] = &["王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周"];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋",
];
const PINYIN_SURNAMES: &[&str] = &[
    "wang", "li", "zhang", "liu", "chen", "yang", "huang", "zhao", "wu", "zhou",
];
const STREETS: &[&str] = &[
    "东华门街道",
    "景山街道",
    "交道口街道",
    "安定门街道",
    "北新桥街道",
];
const LANES: &[&str] = &["多福巷", "南锣鼓巷", "帽儿胡同", "东四十条", "国子监街"];

/// One record as the standardization threads hand it to the store, with
/// `variant` > 0 changing its content (and so its hash).
fn record(i: usize, variant: u64) -> StageInput {
    let n = u64::try_from(i).unwrap_or(u64::MAX);
    let r = mix(n);
    let key = format!("CA{i:08}");
    let surname_at = r % 10;
    let name = format!("{}{}", pick(SURNAMES, surname_at), pick(GIVEN, r >> 8));
    let year = 1940 + (r >> 16) % 80;
    let month = 1 + (r >> 24) % 12;
    let day = 1 + (r >> 28) % 28;
    let birth = format!("{year}-{month:02}-{day:02}");
    let id_number = format!("110101{year}{month:02}{day:02}{:04}", (r >> 32) % 10_000);
    let phone = format!("1{}", 3_000_000_000 + (r >> 20) % 1_000_000_000 + variant);
    let sex = if r & (1 << 40) == 0 { "1" } else { "2" };
    let street = pick(STREETS, r >> 41);
    let lane = pick(LANES, r >> 44);
    let detail = format!(
        "{lane}{}号{}单元{}",
        1 + (r >> 47) % 99,
        1 + (r >> 50) % 6,
        101 + (r >> 53) % 600
    );

    let raw = json!({
        "编号": key,
        "姓名": name,
        "性别": if sex == "1" { "男" } else { "女" },
        "身份证号": id_number,
        "出生日期": birth,
        "民族": "汉族",
        "联系电话": phone,
        "户籍地址": format!("北京市东城区{street}{detail}"),
        "所属社区": format!("{lane}社区"),
        "更新时间": "2024-05-01 08:00:00",
    });
    let canonical = json!({
        "name": name,
        "name_pinyin": format!("{} {}", pick(PINYIN_SURNAMES, surname_at), "wei"),
        "sex": sex,
        "birth_date": birth,
        "id_number": id_number,
        "ethnicity": "01",
        "phone": phone,
        "address": {
            "province": "北京市",
            "city": "北京市",
            "district": "东城区",
            "street": street,
            "detail": detail,
            "community": format!("{lane}社区"),
        },
        "household": { "relationship": "01", "head_key": key },
        "attributes": { "grid_code": format!("110101{:03}", (r >> 56) % 1000) },
    });
    let canonical_text = canonical.to_string();
    StageInput {
        source_key: key,
        content_hash: content_hash(canonical_text.as_bytes()),
        raw: raw.to_string(),
        canonical: canonical_text,
        problems: "[]".to_owned(),
        source_updated_at: Some("2024-05-01 08:00:00".to_owned()),
        // The comparison view a pull stores alongside (typical size).
        match_key: Some(format!(
            r#"{{"id":{{"number":"33020319800102{i:04}","valid":true}},"name":{{"normalized":"张伟","folded":"张伟","pinyin":"zhangwei","surname":"张","letters":"张伟"}},"birth":{{"year":1980,"month":1,"day":2}},"sex":"male","phones":["13812345678"],"addresses":[{{"key":"鼓楼街道中山社区23幢502室","street":"鼓楼街道","community":"中山社区","house_number":"23幢502室"}}]}}"#
        )),
    }
}

/// Stages `rows` records in batches, timing only the store; returns the
/// summed counts and the time spent in the store.
async fn phase(
    store: &Store,
    args: &Args,
    job: &str,
    variant: impl Fn(usize) -> u64,
) -> Result<(StageCounts, Duration)> {
    let run = store.begin_run(job).await?;
    let mut total = StageCounts::default();
    let mut spent = Duration::ZERO;
    let mut start = 0;
    while start < args.rows {
        let end = (start + args.batch).min(args.rows);
        let batch: Vec<StageInput> = (start..end).map(|i| record(i, variant(i))).collect();
        let cursor = format!("{end}");
        let t = Instant::now();
        let got = store
            .stage_batch(SOURCE, run, &batch, Some(&cursor))
            .await?;
        spent += t.elapsed();
        total.new += got.new;
        total.changed += got.changed;
        total.unchanged += got.unchanged;
        start = end;
    }
    Ok((total, spent))
}

fn report(name: &str, rows: usize, counts: StageCounts, spent: Duration) {
    let secs = spent.as_secs_f64();
    #[allow(clippy::cast_precision_loss)] // a rate for people to read
    let rate = rows as f64 / secs.max(1e-9);
    println!(
        "{name:<12} {rows:>9} rows  {secs:>7.2} s  {rate:>10.0} rows/s  \
         (new {}, changed {}, unchanged {})",
        counts.new, counts.changed, counts.unchanged
    );
}

async fn run(store: &Store, args: &Args) -> Result<()> {
    let sample = record(0, 0);
    println!(
        "backend {}, {} rows in batches of {}, raw ≈ {} B, canonical ≈ {} B, {} cores",
        store.backend_name(),
        args.rows,
        args.batch,
        sample.raw.len(),
        sample.canonical.len(),
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    );
    let expect = u64::try_from(args.rows)?;

    let (counts, spent) = phase(store, args, "bench-new", |_| 0).await?;
    report("new", args.rows, counts, spent);
    if counts.new != expect {
        bail!("expected {expect} new, got {counts:?}");
    }

    let (counts, spent) = phase(store, args, "bench-same", |_| 0).await?;
    report("unchanged", args.rows, counts, spent);
    if counts.unchanged != expect {
        bail!("expected {expect} unchanged, got {counts:?}");
    }

    let (counts, spent) = phase(store, args, "bench-10pct", |i| u64::from(i % 10 == 0)).await?;
    report("10% changed", args.rows, counts, spent);
    if counts.changed != expect.div_ceil(10) {
        bail!("expected {} changed, got {counts:?}", expect.div_ceil(10));
    }
    Ok(())
}

/// `url` with its database replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let authority = base.find("://").map_or(0, |i| i + 3);
    let base = base[authority..]
        .find('/')
        .map_or(base, |slash| &base[..authority + slash]);
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = parse_args()?;
    if args.store == "sqlite" {
        let dir = tempfile::tempdir()?;
        let url = format!("sqlite://{}", dir.path().join("bench.db").display());
        let store = Store::open(&url).await?;
        let outcome = run(&store, &args).await;
        store.close().await;
        return outcome;
    }
    if !args.store.starts_with("postgres") {
        bail!("--store is `sqlite` or a postgres:// URL");
    }
    let name = format!("yici_bench_{}", std::process::id());
    let mut admin = PgConnectOptions::from_str(&args.store)?.connect().await?;
    admin
        .execute(format!("CREATE DATABASE \"{name}\"").as_str())
        .await?;
    let outcome = async {
        let store = Store::open(&with_database(&args.store, &name)).await?;
        let outcome = run(&store, &args).await;
        store.close().await;
        outcome
    }
    .await;
    admin
        .execute(format!("DROP DATABASE \"{name}\" WITH (FORCE)").as_str())
        .await?;
    admin.close().await?;
    outcome
}
