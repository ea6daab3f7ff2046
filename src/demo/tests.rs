//! Tests of the written sample: determinism, counts, formats.

use std::collections::BTreeMap;
use std::path::Path;

use sha2::{Digest, Sha256};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Row};

use super::names::is_top_surname;
use super::*;
use crate::model::id_number::check_digit;

async fn sample(dir: &Path, persons: usize, seed: u64) -> DemoSummary {
    write_sample_district(dir, &DemoOptions { persons, seed })
        .await
        .expect("sample written")
}

/// SHA-256 of every file except the SQLite database, plus a dump of the database.
async fn fingerprint(summary: &DemoSummary) -> (BTreeMap<String, String>, Vec<String>) {
    let mut hashes = BTreeMap::new();
    let mut files: Vec<&PathBuf> = summary.sources.iter().flat_map(|s| &s.files).collect();
    files.push(&summary.truth);
    files.push(&summary.readme);
    for f in files {
        if f.extension().is_some_and(|e| e == "db") {
            continue;
        }
        let bytes = std::fs::read(f).unwrap();
        let rel = f.strip_prefix(&summary.dir).unwrap().display().to_string();
        hashes.insert(rel, format!("{:x}", Sha256::digest(&bytes)));
    }
    (hashes, dump_db(&summary.dir.join(governance::FILE)).await)
}

async fn dump_db(path: &Path) -> Vec<String> {
    let mut conn = SqliteConnectOptions::new()
        .filename(path)
        .connect()
        .await
        .unwrap();
    let rows = sqlx::query("SELECT * FROM rkxx ORDER BY rkid")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    rows.iter()
        .map(|row| {
            (0..row.len())
                .map(|i| match i {
                    0 | 14 => row.get::<i64, _>(i).to_string(),
                    _ => row
                        .get::<Option<String>, _>(i)
                        .unwrap_or_else(|| "NULL".into()),
                })
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect()
}

fn truth_rows(summary: &DemoSummary) -> Vec<(String, String, String)> {
    let text = std::fs::read_to_string(&summary.truth).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("source,source_key,person_id"));
    lines
        .map(|l| {
            let mut f = l.split(',');
            let row = (
                f.next().unwrap().to_string(),
                f.next().unwrap().to_string(),
                f.next().unwrap().to_string(),
            );
            assert!(f.next().is_none());
            row
        })
        .collect()
}

#[tokio::test]
async fn same_seed_same_files_other_seed_other_files() {
    let (a, b, c) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let sa = sample(a.path(), 1_500, 42).await;
    let sb = sample(b.path(), 1_500, 42).await;
    let sc = sample(c.path(), 1_500, 43).await;
    let (fa, fb, fc) = (
        fingerprint(&sa).await,
        fingerprint(&sb).await,
        fingerprint(&sc).await,
    );
    assert!(fa.0.len() >= 6, "{:?}", fa.0.keys());
    assert_eq!(fa.0, fb.0);
    assert_eq!(fa.1, fb.1);
    assert!(!fa.1.is_empty());
    for (file, hash) in &fa.0 {
        if file != "README.md" && !file.ends_with("schema.sql") {
            assert_ne!(
                Some(hash),
                fc.0.get(file),
                "{file} does not depend on the seed"
            );
        }
    }
    assert_ne!(fa.1, fc.1);
    // Regenerating into the same directory replaces everything identically.
    let again = sample(a.path(), 1_500, 42).await;
    assert_eq!(fingerprint(&again).await, fa);
}

#[tokio::test]
async fn files_are_in_their_native_formats_and_truth_matches() {
    let dir = tempfile::tempdir().unwrap();
    let s = sample(dir.path(), 2_000, 7).await;
    assert_eq!(s.persons, 2_000);

    // Truth: one row per record written, unique keys per source.
    let truth = truth_rows(&s);
    for src in &s.sources {
        let rows: Vec<_> = truth
            .iter()
            .filter(|r| r.0 == src.department.as_str())
            .collect();
        assert_eq!(rows.len(), src.records, "{:?}", src.department);
        let mut keys: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), src.records);
        assert!(src.records > 0);
    }
    assert_eq!(
        truth.len(),
        s.sources.iter().map(|x| x.records).sum::<usize>()
    );
    assert!(truth.iter().all(|r| r.2.len() == 8 && r.2.starts_with('P')));

    // Civil affairs: an xlsx (zip) file.
    let xlsx = std::fs::read(dir.path().join(civil_affairs::FILE)).unwrap();
    assert_eq!(&xlsx[..2], b"PK");

    // Health: GB18030 CSV with CRLF and the header line.
    let bytes = std::fs::read(dir.path().join(health::FILE)).unwrap();
    assert!(std::str::from_utf8(&bytes).is_err(), "should not be UTF-8");
    let (text, _, malformed) = encoding_rs::GB18030.decode(&bytes);
    assert!(!malformed);
    assert!(
        text.starts_with("GRDAH,XM,XB,CSRQ,ZJLX,ZJHM,MZ,LXDH,HJDZ,XZZ,MXBBZ,JTYS,JDRQ,GXSJ\r\n")
    );
    let lines: Vec<&str> = text.split_terminator("\r\n").collect();
    assert_eq!(
        lines.len() - 1,
        s.source(Department::Health).unwrap().records
    );
    assert!(!text.replace("\r\n", "").contains('\n'));

    // HR: pages parse and add up to the total.
    let hr = s.source(Department::Hr).unwrap();
    let mut listed = 0;
    for (i, page) in hr.files.iter().enumerate() {
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(page).unwrap()).unwrap();
        assert_eq!(v["code"], 0);
        assert_eq!(v["data"]["pageNum"], i + 1);
        assert_eq!(v["data"]["pages"], hr.files.len());
        assert_eq!(v["data"]["total"], hr.records);
        let list = v["data"]["list"].as_array().unwrap();
        assert!(list.len() <= hr::PAGE_SIZE);
        assert!(list
            .iter()
            .all(|r| r["aac001"].is_string() && r["aac003"].is_string()));
        listed += list.len();
    }
    assert_eq!(listed, hr.records);

    // Governance: the table holds every record; schema.sql is written.
    let dump = dump_db(&dir.path().join(governance::FILE)).await;
    assert_eq!(
        dump.len(),
        s.source(Department::Governance).unwrap().records
    );
    let schema = std::fs::read_to_string(dir.path().join(governance::SCHEMA_FILE)).unwrap();
    assert!(schema.contains("CREATE TABLE rkxx") && schema.contains("gxsj"));

    let readme = std::fs::read_to_string(&s.readme).unwrap();
    assert!(readme.contains("seed **7**") && readme.contains("id_typo"));
}

#[tokio::test]
async fn errors_name_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, b"x").unwrap();
    let err = write_sample_district(
        &blocker.join("sample"),
        &DemoOptions {
            persons: 10,
            seed: 1,
        },
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("not-a-dir"), "{err}");
    let err = write_sample_district(
        dir.path(),
        &DemoOptions {
            persons: 0,
            seed: 1,
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(err, DemoError::InvalidOptions(_)));
}

#[test]
fn population_is_realistic() {
    let pop = generate_population(&DemoOptions {
        persons: 20_000,
        seed: 3,
    });
    // Every true identity number is valid.
    for p in &pop.persons {
        if let Some(id) = p.id_number() {
            assert_eq!(check_digit(&id[..17]), id.chars().nth(17), "{id}");
        }
    }
    // Surnames are concentrated like China's.
    let surnames: Vec<&str> = pop.persons.iter().filter_map(|p| p.surname()).collect();
    let top = surnames.iter().filter(|s| is_top_surname(s)).count() as f64 / surnames.len() as f64;
    assert!((0.80..=0.92).contains(&top), "top-100 share {top}");
    assert!(
        surnames.iter().any(|s| s.chars().count() == 2),
        "compound surnames"
    );
    // Popular full names recur among different people.
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for p in &pop.persons {
        *counts.entry(p.name.as_str()).or_default() += 1;
    }
    let most = counts.values().max().copied().unwrap_or(0);
    assert!(most >= 5, "most common name only {most}×");
}

#[test]
fn households_share_addresses_and_twins_exist() {
    for seed in [1, 2, 3] {
        let pop = generate_population(&DemoOptions {
            persons: 2_000,
            seed,
        });
        let stats = pop.stats();
        assert!(stats.twin_pairs > 0, "seed {seed}: no twins");
        for p in pop.persons.iter().filter(|p| p.twin.is_some()) {
            let t = &pop.persons[p.twin.unwrap().0 as usize - 1];
            assert_eq!(t.twin, Some(p.id));
            assert_eq!(t.household, p.household);
            assert_eq!(t.birth_date, p.birth_date);
            assert_ne!(t.name, p.name);
            assert_ne!(t.id_number(), p.id_number());
        }
    }
    // In the register, members of a household (written canonically) share
    // the address, and most households share a phone.
    let pop = generate_population(&DemoOptions {
        persons: 3_000,
        seed: 5,
    });
    let mut by_household: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in records(&pop, Department::Governance) {
        if r.noise
            .iter()
            .any(|n| matches!(n, Noise::AddressVariant | Noise::AddressOld))
        {
            continue;
        }
        if let Details::Governance {
            household_number, ..
        } = &r.details
        {
            by_household
                .entry(household_number.clone())
                .or_default()
                .push(r.current_address.unwrap());
        }
    }
    let multi: Vec<_> = by_household.values().filter(|v| v.len() > 1).collect();
    assert!(multi.len() > 100);
    assert!(multi.iter().all(|v| v.iter().all(|a| a == &v[0])));
}

#[test]
fn noise_is_applied_at_about_the_documented_rates() {
    let pop = generate_population(&DemoOptions {
        persons: 30_000,
        seed: 8,
    });
    let rate = |d: Department, n: Noise| {
        let recs: Vec<_> = records(&pop, d).collect();
        recs.iter().filter(|r| r.noise.contains(&n)).count() as f64 / recs.len() as f64
    };
    let civil_space = rate(Department::CivilAffairs, Noise::NameSpace);
    assert!((0.03..0.08).contains(&civil_space), "{civil_space}");
    let health_missing = rate(Department::Health, Noise::IdMissing);
    assert!((0.02..0.05).contains(&health_missing), "{health_missing}");
    let hr_typo = rate(Department::Hr, Noise::IdTypo);
    assert!(hr_typo < 0.01, "{hr_typo}");
}
