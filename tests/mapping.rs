//! The mapping engine against the shipped mappings, targeted rows, arbitrary
//! input and the sample district's health archive.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use proptest::prelude::*;
use serde_json::{json, Map, Value};

use yici::config::mapping::{ExampleSpec, MappingFile};
use yici::config::{Config, Mapping};
use yici::demo::{DemoOptions, Department, Noise};
use yici::mapping::{compile_all, flat_view, Outcome, Standardized, Standardizer};
use yici::model::{IdDocument, Phone};

fn shipped() -> Config {
    Config::load(Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap_or_else(|e| panic!("{e}"))
}

fn mapping(text: &str) -> Mapping {
    let doc = yici::config::document::parse::<MappingFile>(Path::new("mappings/test.toml"), text)
        .unwrap_or_else(|e| panic!("{e}"));
    Mapping::resolve("test", doc).unwrap_or_else(|e| panic!("{e:?}"))
}

fn compile(text: &str) -> Standardizer {
    Standardizer::compile(&mapping(text)).unwrap_or_else(|e| panic!("{e:?}"))
}

fn row(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

fn staged(outcome: Outcome) -> Standardized {
    match outcome {
        Outcome::Staged(s) => s,
        Outcome::Quarantined { reasons, .. } => panic!("quarantined: {reasons:?}"),
    }
}

fn reasons(outcome: Outcome) -> (Option<String>, Vec<String>) {
    match outcome {
        Outcome::Quarantined {
            source_key,
            reasons,
        } => (source_key, reasons),
        Outcome::Staged(s) => panic!("staged: {s:?}"),
    }
}

fn problems(s: &Standardized) -> Vec<String> {
    s.problems.iter().map(ToString::to_string).collect()
}

/// A mapping shaped like the governance register, with one of everything.
const REGISTER: &str = r#"
key = "rkid"
updated_at = "gxsj"
[code_tables.resident_type]
"户籍" = "registered"
"流动" = "migrant"
[fields]
id_number = { from = "sfzh", doc_type_from = "zjlx" }
name = { from = "xm", transform = ["name"] }
former_names = { from = "cym" }
sex = { from = "xb", fallback = "id_number" }
birth_date = { from = "csrq", transform = ["date"], fallback = "id_number" }
ethnicity = { from = "mz" }
phones = { from = ["sj", "gh"] }
current_address = { from = ["jd", "xq", "mp"] }
household_id = { from = "hh", transform = ["trim"] }
relation_to_head = { from = "yhzgx" }
deceased = { from = "sfsw", transform = ["bool"] }
moved_out = { from = "zt", map = { "迁出" = "1", "在册" = "0" } }
[attributes]
resident_type = { from = "rylx", type = "code", transform = ["code_table(resident_type)"] }
grid = { from = "wgxx", type = "code", transform = ["regex(网格([0-9]+))"] }
grade = { from = "cjdj", type = "integer" }
subsidy = { from = "bz", type = "decimal" }
opened = { from = "jdrq", type = "date" }
"#;

#[test]
fn shipped_mappings_compile_and_their_examples_hold() {
    let config = shipped();
    assert_eq!(
        config.mappings.keys().collect::<Vec<_>>(),
        ["civil_affairs", "governance", "health", "hr"]
    );
    let compiled = compile_all(&config.mappings).unwrap_or_else(|e| panic!("{e:?}"));
    for (name, standardizer) in &compiled {
        let mapping = &config.mappings[name];
        assert!(!mapping.examples.is_empty(), "{name} has no examples");
        let failures = standardizer.run_examples(mapping);
        assert!(
            failures.is_empty(),
            "{name}:\n{}",
            failures
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

#[test]
fn a_full_row() {
    let s = compile(REGISTER);
    let out = staged(s.standardize(&row(json!({
        "rkid": 1, "gxsj": "2025/3/4 5:06:07",
        "sfzh": "11010519491231002x", "zjlx": "居民身份证",
        "xm": "ＬＩ　Ｎａ", "cym": "李娜娜、李 小娜", "xb": null, "csrq": "",
        "mz": "1", "sj": 13812345678u64, "gh": "0574-87654321",
        "jd": "鼓楼街道", "xq": "中山社区", "mp": "23幢502室",
        "hh": " H0001 ", "yhzgx": "妻子", "sfsw": 0, "zt": "迁出",
        "rylx": "流动", "wgxx": "第网格12号", "cjdj": "2", "bz": "1,234.50", "jdrq": "2020-05-06",
    }))));
    assert_eq!(out.source_key, "1");
    assert_eq!(
        out.source_updated_at.as_deref(),
        Some("2025-03-04 05:06:07")
    );
    assert_eq!(problems(&out), Vec::<String>::new());
    let flat = flat_view(&out.record);
    let expect = json!({
        "id_number": "11010519491231002X",
        "name": "LI Na",
        "former_names": ["李娜娜", "李小娜"],
        "sex": "2",
        "birth_date": "1949-12-31",
        "ethnicity": "01",
        "phones": ["13812345678", "0574-87654321"],
        "current_address": "鼓楼街道中山社区23幢502室",
        "household_id": "H0001",
        "relation_to_head": "12",
        "deceased": false,
        "moved_out": true,
        "resident_type": "migrant",
        "grid": "12",
        "grade": 2,
        "subsidy": 1234.5,
        "opened": "2020-05-06",
    });
    assert_eq!(Value::Object(flat.into_iter().collect()), expect);
}

#[test]
fn quarantine_reasons_are_precise() {
    let s = compile(REGISTER);
    let (key, r) = reasons(s.standardize(&row(json!({"rkid": "7", "sfzh": "11010519491231002X"}))));
    assert_eq!(key.as_deref(), Some("7"));
    assert_eq!(r, ["name: missing"]);

    let (_, r) =
        reasons(s.standardize(&row(json!({"rkid": "7", "xm": "张3", "sj": "13812345678"}))));
    assert_eq!(r, [r#"name: contains digits "张3""#]);

    // A name and nothing else; the bad date says why there is no birth date.
    let (_, r) = reasons(s.standardize(&row(
        json!({"rkid": "7", "xm": "张伟", "csrq": "2023-02-30", "sj": "12345"}),
    )));
    assert_eq!(
        r,
        [
            "nothing identifying: no identity number, birth date or phone",
            "birth_date: 2023-02-30 is not a date",
            r#"phones: "12345" is not a phone number"#,
        ]
    );

    let (key, r) = reasons(s.standardize(&row(
        json!({"rkid": " ", "xm": "张伟", "csrq": "1985-03-07"}),
    )));
    assert_eq!(key, None);
    assert_eq!(r, ["key: column rkid is empty"]);

    let (key, r) = reasons(s.standardize(&Map::new()));
    assert_eq!(key, None);
    assert_eq!(
        r,
        [
            "key: column rkid is empty",
            "name: missing",
            "nothing identifying: no identity number, birth date or phone"
        ]
    );

    // An invalid identity number still identifies (the matcher compares it
    // with one-typo tolerance), so the row is staged with the problem.
    let out = staged(s.standardize(&row(
        json!({"rkid": 1, "xm": "张伟", "sfzh": "110105194912310023"}),
    )));
    assert_eq!(
        problems(&out),
        ["id_number: bad check digit: expected X, found 3"]
    );
    assert!(matches!(
        out.record.id_document,
        Some(IdDocument::Invalid(_))
    ));
    assert_eq!(flat_view(&out.record)["id_number"], "110105194912310023");
    // No fallback from an invalid number.
    assert_eq!(out.record.birth_date, None);
}

#[test]
fn fifteen_digit_numbers_are_upgraded_and_dates_fall_back() {
    let s = compile(REGISTER);
    let out = staged(s.standardize(&row(
        json!({"rkid": 2, "xm": "王芳", "sfzh": "110105491231002"}),
    )));
    let id = out.record.valid_id().expect("valid");
    assert_eq!(id.as_str(), "11010519491231002X");
    assert!(id.was_upgraded_from_15());
    let flat = flat_view(&out.record);
    assert_eq!(flat["birth_date"], "1949-12-31");
    assert_eq!(flat["sex"], "2");
    assert!(out.problems.is_empty(), "{:?}", out.problems);
}

#[test]
fn disagreeing_values_are_kept_with_a_problem() {
    let s = compile(REGISTER);
    // 11010519850703… is born 1985-07-03; the source swapped day and month.
    let number = format!(
        "11010519850703001{}",
        yici::model::check_digit("11010519850703001").unwrap()
    );
    let out = staged(s.standardize(&row(json!({
        "rkid": 3, "xm": "赵强", "sfzh": number, "csrq": "1985-03-07", "xb": "女"
    }))));
    let flat = flat_view(&out.record);
    assert_eq!(flat["birth_date"], "1985-03-07");
    assert_eq!(flat["sex"], "2");
    assert_eq!(
        problems(&out),
        [
            "birth_date: 1985-03-07 disagrees with the identity number (1985-07-03)",
            "sex: 2 (女) disagrees with the identity number (1 男)",
        ]
    );
    // A month-only date that agrees is fine.
    let out = staged(s.standardize(&row(
        json!({"rkid": 3, "xm": "赵强", "sfzh": number, "csrq": "1985.07"}),
    )));
    assert!(out.problems.is_empty(), "{:?}", out.problems);
}

#[test]
fn composite_keys_and_timestamps() {
    let s = compile(
        "key = [\"sq\", \"xh\"]\nupdated_at = \"t\"\n[fields]\nname = { from = \"xm\" }\nphones = { from = \"dh\" }\n",
    );
    let out = staged(s.standardize(&row(
        json!({"sq": "中山社区", "xh": 12.0, "xm": "张伟", "dh": "13812345678", "t": "2025-01-02T03:04:05Z"}),
    )));
    assert_eq!(out.source_key, "中山社区|12");
    assert_eq!(
        out.source_updated_at.as_deref(),
        Some("2025-01-02 11:04:05")
    );
    let (key, r) = reasons(s.standardize(&row(
        json!({"sq": "中山社区", "xm": "张伟", "dh": "13812345678", "t": "soon"}),
    )));
    assert_eq!(key, None);
    assert_eq!(r, ["key: column xh is empty"]);
    let out = staged(s.standardize(&row(
        json!({"sq": "a", "xh": "b", "xm": "张伟", "dh": "13812345678", "t": " soon "}),
    )));
    assert_eq!(out.source_updated_at.as_deref(), Some("soon"));
}

#[test]
fn code_tables_and_unknown_codes() {
    let s = compile(REGISTER);
    let out = staged(s.standardize(&row(
        json!({"rkid": 1, "xm": "张伟", "csrq": "19850307", "rylx": "外籍"}),
    )));
    assert_eq!(
        problems(&out),
        [r#"attributes.resident_type: unknown code "外籍" in table resident_type"#]
    );
    assert!(!out.record.attributes.contains_key("resident_type"));
}

#[test]
fn regex_extraction() {
    let s = compile(
        "key = \"k\"\n[fields]\nname = { from = \"xm\", transform = [\"regex(姓名[:：](\\\\S+))\"] }\nphones = { from = \"bz\", transform = [\"regex(1[3-9][0-9]{9})\", \"phone\"] }\n",
    );
    let out = staged(s.standardize(&row(
        json!({"k": 1, "xm": "姓名：欧阳娜娜 女", "bz": "联系电话13812345678（本人）"}),
    )));
    let flat = flat_view(&out.record);
    assert_eq!(flat["name"], "欧阳娜娜");
    assert_eq!(flat["phones"], json!(["13812345678"]));
    let (_, r) =
        reasons(s.standardize(&row(json!({"k": 1, "xm": "欧阳娜娜", "bz": "13812345678"}))));
    assert_eq!(r, [r#"name: "欧阳娜娜" does not match /姓名[:：](\S+)/"#]);
}

#[test]
fn split_into_phones() {
    let s = compile(
        "key = \"k\"\n[fields]\nname = { from = \"xm\" }\nphones = { from = \"dh\", transform = [\"split(；)\", \"trim\", \"phone\"] }\n",
    );
    let out = staged(s.standardize(&row(json!({"k": 1, "xm": "张伟", "dh": "138 1234 5678；０５７４-８７６５４３２１；12345；13812345678"}))));
    assert_eq!(
        flat_view(&out.record)["phones"],
        json!(["13812345678", "0574-87654321", "12345"])
    );
    assert_eq!(problems(&out), [r#"phones: "12345" is not a phone number"#]);
    // An unrecognized phone does not make a row identifiable.
    let (_, r) = reasons(s.standardize(&row(json!({"k": 1, "xm": "张伟", "dh": "12345"}))));
    assert_eq!(
        r[0],
        "nothing identifying: no identity number, birth date or phone"
    );
}

#[test]
fn raw_json_numbers_nulls_and_placeholders() {
    let s = compile(REGISTER);
    let out = staged(s.standardize(&row(json!({
        "rkid": 1, "xm": "张伟", "sj": 13812345678u64, "gh": null, "sfzh": null,
        "mz": "无", "hh": "NULL", "csrq": null, "sfsw": "无", "cjdj": 3.0
    }))));
    assert_eq!(out.source_key, "1");
    let flat = flat_view(&out.record);
    assert_eq!(flat["phones"], json!(["13812345678"]));
    assert!(!flat.contains_key("ethnicity"));
    assert!(!flat.contains_key("household_id"));
    // 无 is an answer for a yes/no column.
    assert_eq!(flat["deceased"], false);
    assert_eq!(flat["grade"], 3);
    assert!(out.problems.is_empty(), "{:?}", out.problems);
    assert_eq!(out.record.phones, [Phone::Mobile("13812345678".into())]);
}

#[test]
fn excel_style_dates_and_full_width_input() {
    let s = compile(REGISTER);
    let out = staged(s.standardize(&row(json!({
        "rkid": "Ｒ０１", "xm": "　張　偉　", "csrq": "1985-03-07", "jdrq": "2020-05-06 00:00:00",
        "sj": "１３８１２３４５６７８", "xb": "男", "sfsw": "否"
    }))));
    let flat = flat_view(&out.record);
    assert_eq!(out.source_key, "Ｒ０１");
    assert_eq!(flat["name"], "張偉");
    assert_eq!(flat["birth_date"], "1985-03-07");
    assert_eq!(flat["opened"], "2020-05-06");
    assert_eq!(flat["phones"], json!(["13812345678"]));
    assert_eq!(flat["sex"], "1");
    // An Excel serial that leaked as a number.
    let out = staged(s.standardize(&row(json!({"rkid": 1, "xm": "张伟", "csrq": 31113}))));
    assert_eq!(flat_view(&out.record)["birth_date"], "1985-03-07");
}

#[test]
fn typed_values_that_do_not_parse_are_problems() {
    let s = compile(REGISTER);
    let out = staged(s.standardize(&row(json!({
        "rkid": 1, "xm": "张伟", "csrq": "1985-03-07", "xb": "x", "mz": "火星族",
        "yhzgx": "朋友", "sfsw": "死亡", "cjdj": "二级", "bz": "abc", "jdrq": "去年",
        "wgxx": "无网格信息"
    }))));
    assert_eq!(
        problems(&out),
        [
            r#"deceased: "死亡" is not a yes/no value"#,
            r#"ethnicity: unknown value "火星族""#,
            r#"relation_to_head: unknown value "朋友""#,
            r#"sex: unknown value "x""#,
            r#"attributes.grade: "二级" is not an integer"#,
            r#"attributes.grid: "无网格信息" does not match /网格([0-9]+)/"#,
            r#"attributes.opened: "去年" is not a date"#,
            r#"attributes.subsidy: "abc" is not a number"#,
        ]
    );
    let flat = flat_view(&out.record);
    for absent in [
        "sex",
        "ethnicity",
        "relation_to_head",
        "deceased",
        "grade",
        "grid",
    ] {
        assert!(!flat.contains_key(absent), "{absent}");
    }
}

#[test]
fn other_documents_keep_their_type() {
    let s = compile(REGISTER);
    let out = staged(s.standardize(&row(
        json!({"rkid": 1, "xm": "John SMITH", "zjlx": "护照", "sfzh": "e1234 5678"}),
    )));
    match &out.record.id_document {
        Some(IdDocument::Other { doc_type, number }) => {
            assert_eq!(*doc_type, yici::model::DocumentType::Passport);
            assert_eq!(number, "E12345678");
        }
        other => panic!("{other:?}"),
    }
    assert!(out.problems.is_empty());
}

#[test]
fn example_diffs_and_expected_quarantine() {
    let mut m = mapping(
        "key = \"k\"\n[fields]\nname = { from = \"xm\" }\nbirth_date = { from = \"cs\" }\n[[examples]]\nname = \"wrong\"\nraw = { k = 1, xm = \"张 伟\", cs = \"19850307\" }\nexpect = { name = \"张三\", birth_date = \"1985-03-07\", sex = \"1\" }\n",
    );
    let s = Standardizer::compile(&m).unwrap();
    let failures = s.run_examples(&m);
    assert_eq!(failures.len(), 1);
    assert_eq!(
        failures[0].to_string(),
        "example \"wrong\" does not hold:\n  name: expected \"张三\", got \"张伟\"\n  sex: expected \"1\", got nothing"
    );

    let table = |text: &str| -> toml::Table { toml::from_str(text).unwrap() };
    m.examples = vec![
        ExampleSpec {
            name: Some("no name".into()),
            raw: table("k = 2\ncs = \"1985-03-07\""),
            expect: table("quarantined = true\nproblems = [\"name: missing\"]"),
        },
        ExampleSpec {
            name: None,
            raw: table("k = 3\ncs = \"1985-03-07\""),
            expect: table("name = \"张伟\""),
        },
        ExampleSpec {
            name: Some("bad date".into()),
            raw: table("k = 4\nxm = \"张伟\"\ncs = 1985-03-07"),
            expect: table("birth_date = \"1985-03-07\"\nproblems = []"),
        },
    ];
    let failures = s.run_examples(&m);
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].example, "#2");
    assert_eq!(
        failures[0].to_string(),
        "example \"#2\" does not hold:\n  quarantined: name: missing"
    );
}

#[test]
fn compile_errors_name_file_and_key() {
    let m = mapping(
        "key = \"k\"\n[fields]\nname = { from = \"xm\", transform = [\"regex((\"] }\nphones = { from = \"dh\", transform = [\"date\"] }\n",
    );
    let errors: Vec<String> = Standardizer::compile(&m)
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors[0].starts_with("mappings/test.toml: key `fields.name.transform[0]`: invalid regex")
    );
    assert!(errors[1].starts_with(
        "mappings/test.toml: key `fields.phones.transform[0]`: `date` cannot normalize `phones`"
    ));
    let all = compile_all(&BTreeMap::from([("test".to_owned(), m)])).unwrap_err();
    assert_eq!(all.len(), 2);
}

/// Every shipped mapping plus [`REGISTER`], compiled once for the property test.
fn all_standardizers() -> &'static [Standardizer] {
    static ALL: std::sync::OnceLock<Vec<Standardizer>> = std::sync::OnceLock::new();
    ALL.get_or_init(|| {
        let mut all: Vec<Standardizer> = compile_all(&shipped().mappings)
            .unwrap()
            .into_values()
            .collect();
        all.push(compile(REGISTER));
        all
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// No input string in any column makes standardization panic, and every
    /// row either stages or says why not.
    #[test]
    fn standardize_never_panics(values in proptest::collection::vec(any::<String>(), 40), numbers in proptest::collection::vec(any::<i64>(), 4)) {
        for s in all_standardizers() {
            let mut columns: Vec<&str> = s.columns().into_iter().collect();
            columns.sort_unstable();
            let mut raw = Map::new();
            for (i, column) in columns.iter().enumerate() {
                let v = match i % 10 {
                    9 => json!(numbers[i % numbers.len()]),
                    _ => json!(values[i % values.len()]),
                };
                raw.insert((*column).to_owned(), v);
            }
            match s.standardize(&raw) {
                Outcome::Staged(st) => prop_assert!(st.record.name.is_some()),
                Outcome::Quarantined { reasons, .. } => prop_assert!(!reasons.is_empty()),
            }
        }
    }
}

/// The health archive of a fresh sample district, rows as the CSV
/// connector would deliver them (text; empty cells as `null`).
fn health_rows(persons: usize) -> (tempfile::TempDir, Vec<Map<String, Value>>) {
    let dir = tempfile::tempdir().unwrap();
    let opts = DemoOptions {
        persons,
        ..DemoOptions::default()
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime
        .block_on(yici::demo::write_sample_district(dir.path(), &opts))
        .unwrap();
    let bytes = std::fs::read(dir.path().join("health/jmjkda.csv")).unwrap();
    let (text, _, had_errors) = encoding_rs::GB18030.decode(&bytes);
    assert!(!had_errors);
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let rows = reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            headers
                .iter()
                .zip(r.iter())
                .map(|(h, v)| {
                    let v = if v.is_empty() { Value::Null } else { json!(v) };
                    (h.to_owned(), v)
                })
                .collect()
        })
        .collect();
    (dir, rows)
}

#[test]
fn the_sample_health_archive_standardizes() {
    let config = shipped();
    let health = Standardizer::compile(&config.mappings["health"]).unwrap();
    let (_dir, rows) = health_rows(500);
    assert!(rows.len() > 300, "{}", rows.len());

    // Ground truth: what the demo wrote into each record.
    let population = yici::demo::generate_population(&DemoOptions {
        persons: 500,
        ..DemoOptions::default()
    });
    let truth: HashMap<String, yici::demo::DemoRecord> =
        yici::demo::records(&population, Department::Health)
            .map(|r| (r.source_key.clone(), r))
            .collect();
    assert_eq!(truth.len(), rows.len());

    let mut quarantined = Vec::new();
    let mut staged_count = 0;
    let mut valid = 0;
    let mut should_be_valid = 0;
    let mut wrong = Vec::new();
    for raw in &rows {
        match health.standardize(raw) {
            Outcome::Staged(s) => {
                staged_count += 1;
                let is_valid = s.record.valid_id().is_some();
                valid += usize::from(is_valid);
                let t = &truth[&s.source_key];
                let clean_id_card = t.document_type == yici::demo::DocumentType::IdCard
                    && t.document_number.is_some()
                    && !t
                        .noise
                        .iter()
                        .any(|n| matches!(n, Noise::IdTypo | Noise::IdTransposition));
                if clean_id_card {
                    should_be_valid += 1;
                    if !is_valid {
                        wrong.push((s.source_key.clone(), s.problems.clone()));
                    }
                }
                if is_valid && !t.noise.contains(&Noise::BirthDayMonthSwap) {
                    let birth = s.record.birth_date.map(|d| d.to_string());
                    assert_eq!(
                        birth,
                        Some(t.birth_date.format("%Y-%m-%d").to_string()),
                        "{}",
                        s.source_key
                    );
                }
            }
            Outcome::Quarantined {
                source_key,
                reasons,
            } => quarantined.push((source_key, reasons)),
        }
    }
    let total = rows.len();
    println!(
        "{total} health rows: {staged_count} staged ({valid} with a valid identity number, {should_be_valid} expected), {} quarantined",
        quarantined.len()
    );
    assert!(
        (quarantined.len() as f64) < 0.02 * total as f64,
        "{} of {total} quarantined: {quarantined:?}",
        quarantined.len()
    );
    assert!(
        wrong.is_empty(),
        "clean identity numbers not valid: {wrong:?}"
    );
    assert!(should_be_valid > 0);
    // Health's rates (src/demo/noise.rs): ≈ 3 % missing, +1 % for migrants,
    // ≈ 1.3 % typos and transpositions, a few passports: ≈ 5 % not valid.
    assert!(
        valid as f64 >= 0.93 * staged_count as f64,
        "{valid} of {staged_count} staged records have a valid identity number"
    );
}
