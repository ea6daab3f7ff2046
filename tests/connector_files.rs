//! The csv and excel connectors on real files written by the tests: GB18030
//! and UTF-8 exports with every quirk the departments produce, ledgers with
//! title rows, merged two-row headers, date cells, subtotal and blank rows,
//! and the shipped sample district read through the shipped connectors.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rust_xlsxwriter::{ExcelDateTime, Format, Workbook, Worksheet};
use serde_json::{json, Value};
use yici::config::{document, Connector};
use yici::connector::excel::ExcelSource;
use yici::connector::files::fingerprint;
use yici::connector::{open_source, Batch, ConnectorError, PullMode, PullRequest, RawRecord};

// ---------------------------------------------------------------- helpers

/// A connector from the TOML an operator would write; `${DIR}` is `dir`.
fn connector(toml: &str, dir: &Path) -> Connector {
    let env: HashMap<String, String> =
        HashMap::from([("DIR".to_string(), dir.display().to_string())]);
    let doc = document::parse(Path::new("connectors/test.toml"), toml).expect("parses");
    Connector::resolve("test", doc, dir, &env).expect("valid connector")
}

fn csv_connector(dir: &Path, path: &str, options: &str) -> Connector {
    connector(
        &format!(
            "department = \"health\"\nkind = \"csv\"\n[csv]\npath = \"${{DIR}}/{path}\"\n{options}\n"
        ),
        dir,
    )
}

fn excel_connector(dir: &Path, path: &str, options: &str) -> Connector {
    connector(
        &format!(
            "department = \"civil_affairs\"\nkind = \"excel\"\n[excel]\npath = \"${{DIR}}/{path}\"\n{options}\n"
        ),
        dir,
    )
}

fn fresh() -> PullRequest {
    PullRequest::default()
}

/// Every batch of a pull, with its mode.
async fn pull(
    c: &Connector,
    request: PullRequest,
) -> Result<(PullMode, Vec<Batch>), ConnectorError> {
    let mut source = open_source(c, request).await?;
    let mode = source.mode();
    let mut batches = Vec::new();
    while let Some(batch) = source.next_batch().await? {
        batches.push(batch);
    }
    Ok((mode, batches))
}

async fn records(c: &Connector) -> Vec<RawRecord> {
    let (_, batches) = pull(c, fresh()).await.expect("pull");
    for b in &batches {
        assert!(
            b.problems.is_empty(),
            "unexpected problems: {:?}",
            b.problems
        );
    }
    batches.into_iter().flat_map(|b| b.records).collect()
}

async fn pull_error(c: &Connector) -> ConnectorError {
    match pull(c, fresh()).await {
        Ok((_, batches)) => panic!("expected an error, got {} batches", batches.len()),
        Err(e) => e,
    }
}

fn gb18030(text: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = encoding_rs::GB18030.encode(text);
    assert!(!unmappable);
    bytes.into_owned()
}

fn write(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&path, bytes).unwrap();
    path
}

fn field<'a>(r: &'a RawRecord, name: &str) -> &'a Value {
    r.fields
        .get(name)
        .unwrap_or_else(|| panic!("no field {name:?} in {:?}", r.fields))
}

// ---------------------------------------------------------------- csv

const HEALTH: &str = "姓名,性别,出生日期,住址\r\n张三,1,19800101,浙江省宁波市海曙区望春路64号\r\n欧阳翠花,2,1975-06-12,\"宁波市海曙区\r\n柳汀街435号\"\r\n李四,男,,  \r\n";

#[tokio::test]
async fn csv_gb18030_with_chinese_headers() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "jmjkda.csv", gb18030(HEALTH));
    for encoding in ["gb18030", "gbk", "auto"] {
        let c = csv_connector(
            dir.path(),
            "jmjkda.csv",
            &format!("encoding = \"{encoding}\""),
        );
        let rows = records(&c).await;
        assert_eq!(rows.len(), 3, "{encoding}");
        assert_eq!(field(&rows[0], "姓名"), &json!("张三"));
        assert_eq!(
            field(&rows[0], "住址"),
            &json!("浙江省宁波市海曙区望春路64号")
        );
        assert_eq!(
            field(&rows[1], "住址"),
            &json!("宁波市海曙区\r\n柳汀街435号")
        );
        // Empty → null; whitespace is kept for the normalizers.
        assert_eq!(field(&rows[2], "出生日期"), &Value::Null);
        assert_eq!(field(&rows[2], "住址"), &json!("  "));
        let lines: Vec<_> = rows.iter().map(|r| r.origin.row.unwrap()).collect();
        assert_eq!(lines, [2, 3, 5], "line numbers count embedded line breaks");
        assert_eq!(rows[0].origin.file.as_deref(), Some(file.as_path()));
    }
}

#[tokio::test]
async fn csv_utf8_with_bom() {
    let dir = tempfile::tempdir().unwrap();
    let text = "\u{feff}XM,XB\n王芳,2\n";
    write(dir.path(), "a.csv", text);
    for encoding in ["utf8", "auto"] {
        let c = csv_connector(dir.path(), "a.csv", &format!("encoding = \"{encoding}\""));
        let rows = records(&c).await;
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].fields.keys().collect::<Vec<_>>(), ["XB", "XM"]);
        assert_eq!(field(&rows[0], "XM"), &json!("王芳"));
    }
}

#[tokio::test]
async fn csv_folder_is_one_source() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "exports/b.csv", "XM\n乙\n丙\n");
    write(dir.path(), "exports/a.csv", gb18030("XM\n甲\n"));
    write(dir.path(), "exports/notes.xlsx", "not a csv");
    let c = csv_connector(dir.path(), "exports", "");
    let rows = records(&c).await;
    let names: Vec<_> = rows.iter().map(|r| field(r, "XM").clone()).collect();
    assert_eq!(names, [json!("甲"), json!("乙"), json!("丙")]);
    let files: Vec<_> = rows
        .iter()
        .map(|r| {
            r.origin
                .file
                .as_ref()
                .unwrap()
                .file_name()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(files, ["a.csv", "b.csv", "b.csv"]);
}

#[tokio::test]
async fn csv_ragged_rows() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "r.csv",
        "XM,XB,LXDH\n短,1\n长,1,138,多余\n空尾,2,139,,\n正常,1,137\n",
    );
    let c = csv_connector(dir.path(), "r.csv", "");
    let (_, batches) = pull(&c, fresh()).await.unwrap();
    assert_eq!(batches.len(), 1);
    let b = &batches[0];
    let names: Vec<_> = b.records.iter().map(|r| field(r, "XM").clone()).collect();
    assert_eq!(names, [json!("短"), json!("空尾"), json!("正常")]);
    assert_eq!(field(&b.records[0], "LXDH"), &Value::Null);
    assert_eq!(
        b.records[1].fields.len(),
        3,
        "empty trailing cells are ignored"
    );
    assert_eq!(b.problems.len(), 1);
    let p = &b.problems[0];
    assert_eq!(p.origin.row, Some(3));
    assert!(
        p.reason
            .starts_with("line 3: 4 cells but the header has 3 columns"),
        "{}",
        p.reason
    );
    assert_eq!(p.fields["column 4"], json!("多余"));
    assert_eq!(p.fields["XM"], json!("长"));
}

#[tokio::test]
async fn csv_quotes_newlines_crlf_and_delimiter() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "q.csv",
        "XM;BZ;DZ\r\n\"SMITH; JOHN\";\"他说\"\"你好\"\"\";\"一行\r\n两行\"\r\n张三;;x\r\n",
    );
    let c = csv_connector(dir.path(), "q.csv", "delimiter = \";\"");
    let rows = records(&c).await;
    assert_eq!(rows.len(), 2);
    assert_eq!(field(&rows[0], "XM"), &json!("SMITH; JOHN"));
    assert_eq!(field(&rows[0], "BZ"), &json!("他说\"你好\""));
    assert_eq!(field(&rows[0], "DZ"), &json!("一行\r\n两行"));
    assert_eq!(field(&rows[1], "BZ"), &Value::Null);
    assert_eq!(rows[1].origin.row, Some(4));
}

#[tokio::test]
async fn csv_header_row_skips_title_lines() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "t.csv",
        "居民健康档案导出\n导出时间,2026-11-01\nXM,XB\n张三,1\n",
    );
    let c = csv_connector(dir.path(), "t.csv", "header_row = 3");
    let rows = records(&c).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(field(&rows[0], "XB"), &json!("1"));
    assert_eq!(rows[0].origin.row, Some(4));
}

#[tokio::test]
async fn csv_wrong_declared_encoding_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let gb = write(
        dir.path(),
        "gb.csv",
        gb18030("XM,XB\n33020300300000002,张三\n"),
    );
    let c = csv_connector(dir.path(), "gb.csv", "encoding = \"utf8\"");
    let err = pull_error(&c).await;
    assert_eq!(err.class(), "data");
    assert_eq!(
        err.to_string(),
        format!(
            "{}: not valid UTF-8 at line 2 (byte 19); the file looks like GB18030: set encoding = \"gb18030\"",
            gb.display()
        )
    );

    let utf8 = write(dir.path(), "u.csv", "XM,XB\n33020300300000002,张三\n");
    let c = csv_connector(dir.path(), "u.csv", "encoding = \"gb18030\"");
    let err = pull_error(&c).await;
    assert_eq!(err.class(), "data");
    assert_eq!(
        err.to_string(),
        format!(
            "{}: not GB18030 text at line 2 (byte 19): the file is UTF-8; set encoding = \"utf-8\"",
            utf8.display()
        )
    );

    write(dir.path(), "bom.csv", "\u{feff}XM\n张三\n");
    let c = csv_connector(dir.path(), "bom.csv", "encoding = \"gbk\"");
    let err = pull_error(&c).await.to_string();
    assert!(
        err.contains("UTF-8 byte-order mark") && err.contains("set encoding = \"utf-8\""),
        "{err}"
    );
}

#[tokio::test]
async fn csv_bad_headers_are_config_errors() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "h.csv", "XM,,XB,XM,XB,,\n1,2,3,4,5\n");
    let c = csv_connector(dir.path(), "h.csv", "");
    let err = pull_error(&c).await;
    assert_eq!(err.class(), "config");
    let message = err.to_string();
    assert!(message.contains("header row (line 1)"), "{message}");
    assert!(message.contains("column(s) 2 have no name"), "{message}");
    assert!(
        message.contains("columns 1, 4 are all named \"XM\""),
        "{message}"
    );
    assert!(
        message.contains("columns 3, 5 are all named \"XB\""),
        "{message}"
    );

    write(dir.path(), "empty.csv", "");
    let c = csv_connector(dir.path(), "empty.csv", "");
    assert_eq!(pull_error(&c).await.class(), "data");
}

#[tokio::test]
async fn csv_unclosed_quote_is_quarantined_not_lost() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "u.csv",
        "XM,XB,DZ,LXDH\n张三,1,\"望春路64号,138\n李四,2,柳汀街,139\n王五,1,西门,137\n",
    );
    let c = csv_connector(dir.path(), "u.csv", "");
    let (_, batches) = pull(&c, fresh()).await.unwrap();
    let b = &batches[0];
    assert!(b.records.is_empty(), "{:?}", b.records);
    assert_eq!(b.problems.len(), 1);
    assert_eq!(b.problems[0].origin.row, Some(2));
    assert!(
        b.problems[0].reason.contains("closing quote"),
        "{}",
        b.problems[0].reason
    );
}

#[tokio::test]
async fn csv_fingerprint_decides_what_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "f.csv", "XM\n甲\n");
    let c = csv_connector(dir.path(), "f.csv", "");
    let (mode, batches) = pull(&c, fresh()).await.unwrap();
    assert_eq!(mode, PullMode::Snapshot);
    let cursor = batches
        .last()
        .unwrap()
        .cursor
        .clone()
        .expect("cursor on the last batch");
    assert_eq!(cursor, fingerprint(std::slice::from_ref(&file)).unwrap());

    let same = PullRequest {
        cursor: Some(cursor.clone()),
        full: false,
    };
    let (mode, batches) = pull(&c, same.clone()).await.unwrap();
    assert_eq!(mode, PullMode::Unchanged);
    assert!(batches.is_empty());

    let (mode, batches) = pull(
        &c,
        PullRequest {
            full: true,
            ..same.clone()
        },
    )
    .await
    .unwrap();
    assert_eq!(mode, PullMode::Snapshot);
    assert_eq!(batches[0].records.len(), 1);
    assert_eq!(batches[0].cursor.as_ref(), Some(&cursor));

    write(dir.path(), "f.csv", "XM\n甲\n乙\n");
    let (mode, batches) = pull(&c, same).await.unwrap();
    assert_eq!(mode, PullMode::Snapshot);
    assert_eq!(batches[0].records.len(), 2);
    assert_ne!(batches[0].cursor.as_ref(), Some(&cursor));
}

#[tokio::test]
async fn csv_large_files_come_in_batches_with_the_cursor_last() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("ID,XM\r\n");
    for i in 0..12_345 {
        text.push_str(&format!("{i},姓名{i}\r\n"));
    }
    let file = write(dir.path(), "big.csv", gb18030(&text));
    let c = csv_connector(dir.path(), "big.csv", "");
    let (_, batches) = pull(&c, fresh()).await.unwrap();
    let sizes: Vec<_> = batches.iter().map(|b| b.records.len()).collect();
    assert_eq!(sizes, [5_000, 5_000, 2_345]);
    let cursors: Vec<_> = batches.iter().map(|b| b.cursor.is_some()).collect();
    assert_eq!(cursors, [false, false, true]);
    assert_eq!(
        batches[2].cursor.as_deref(),
        Some(fingerprint(&[file]).unwrap().as_str())
    );
    let last = batches[2].records.last().unwrap();
    assert_eq!(field(last, "XM"), &json!("姓名12344"));
    assert_eq!(last.origin.row, Some(12_346));
}

#[tokio::test]
async fn csv_dropping_the_source_midway_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let text: String = std::iter::once("ID\n".to_string())
        .chain((0..20_000).map(|i| format!("{i}\n")))
        .collect();
    write(dir.path(), "big.csv", text);
    let c = csv_connector(dir.path(), "big.csv", "");
    let mut source = open_source(&c, fresh()).await.unwrap();
    let first = source.next_batch().await.unwrap().unwrap();
    assert_eq!(first.records.len(), 5_000);
    assert!(
        first.cursor.is_none(),
        "a pull killed here must read again next time"
    );
    drop(source);
}

// ---------------------------------------------------------------- excel

/// Writes a ledger like a community's: a merged title row, a two-row merged
/// header, community blocks with subtotal rows, blank rows, date cells, text
/// dates and phones typed as numbers. Returns the sheet's data as written.
fn write_ledger(path: &Path, community: &str, people: &[(&str, &str)]) {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("救助对象台帐").unwrap();
    fill_ledger(sheet, community, people);
    let other = book.add_worksheet();
    other.set_name("说明").unwrap();
    other.write_string(0, 0, "填表说明").unwrap();
    book.save(path).unwrap();
}

fn fill_ledger(sheet: &mut Worksheet, community: &str, people: &[(&str, &str)]) {
    let title = Format::new().set_bold();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let stamp = Format::new().set_num_format("yyyy-mm-dd hh:mm:ss");
    sheet
        .merge_range(0, 0, 0, 6, &format!("{community}救助对象台帐"), &title)
        .unwrap();
    sheet.merge_range(1, 0, 2, 0, "序号", &title).unwrap();
    sheet.merge_range(1, 1, 1, 3, "基本信息", &title).unwrap();
    sheet.merge_range(1, 4, 1, 5, "联系信息", &title).unwrap();
    sheet.merge_range(1, 6, 2, 6, "登记时间", &title).unwrap();
    for (col, name) in [
        (1, "姓名"),
        (2, "出生日期"),
        (3, "身份证号码"),
        (4, "联系电话"),
        (5, "现住址"),
    ] {
        sheet.write_string(2, col, name).unwrap();
    }
    let mut row = 3;
    for (i, (name, birth)) in people.iter().enumerate() {
        sheet.write_number(row, 0, (i + 1) as f64).unwrap();
        sheet.write_string(row, 1, *name).unwrap();
        if i % 2 == 0 {
            let (y, m, d) = (&birth[..4], &birth[5..7], &birth[8..10]);
            let dt =
                ExcelDateTime::from_ymd(y.parse().unwrap(), m.parse().unwrap(), d.parse().unwrap())
                    .unwrap();
            sheet.write_date_with_format(row, 2, &dt, &date).unwrap();
        } else {
            sheet.write_string(row, 2, birth.replace('-', "/")).unwrap();
        }
        sheet
            .write_string(row, 3, format!("33020319900101{:04}", i))
            .unwrap();
        sheet
            .write_number(row, 4, 13_812_345_670.0 + i as f64)
            .unwrap();
        sheet
            .write_string(row, 5, format!("{community}{}号", i + 1))
            .unwrap();
        let t = ExcelDateTime::from_ymd(2024, 3, 15)
            .unwrap()
            .and_hms(8, 30, 0)
            .unwrap();
        sheet
            .write_datetime_with_format(row, 6, &t, &stamp)
            .unwrap();
        row += 1;
        if i == 0 {
            row += 1; // a stray blank row
        }
    }
    sheet
        .write_string(row, 0, format!("小计：{}人", people.len()))
        .unwrap();
    sheet.write_string(row, 5, community).unwrap();
    sheet.write_blank(row + 1, 2, &date).unwrap(); // blank but formatted
    sheet
        .write_string(row + 2, 0, format!("合计：{}人", people.len()))
        .unwrap();
}

const PEOPLE: [(&str, &str); 3] = [
    ("张三", "1990-01-05"),
    ("欧阳翠花", "1975-06-12"),
    ("李四", "2001-12-31"),
];

const LEDGER_OPTIONS: &str = "sheet = \"救助对象台帐\"\nheader_row = 2\nheader_rows = 2\nskip_when_contains = [\"合计\", \"小计\"]";

fn assert_ledger(rows: &[RawRecord], community: &str) {
    assert_eq!(rows.len(), 3);
    let mut names: Vec<_> = rows[0].fields.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "基本信息/出生日期",
            "基本信息/姓名",
            "基本信息/身份证号码",
            "序号",
            "登记时间",
            "联系信息/现住址",
            "联系信息/联系电话",
        ]
    );
    let first = &rows[0];
    assert_eq!(field(first, "序号"), &json!(1));
    assert_eq!(field(first, "基本信息/姓名"), &json!("张三"));
    assert_eq!(field(first, "基本信息/出生日期"), &json!("1990-01-05"));
    assert_eq!(
        field(first, "基本信息/身份证号码"),
        &json!("330203199001010000")
    );
    assert_eq!(
        field(first, "联系信息/联系电话"),
        &json!(13_812_345_670_i64)
    );
    assert_eq!(
        field(first, "联系信息/现住址"),
        &json!(format!("{community}1号"))
    );
    assert_eq!(field(first, "登记时间"), &json!("2024-03-15 08:30:00"));
    assert_eq!(field(&rows[1], "基本信息/出生日期"), &json!("1975/06/12"));
    assert_eq!(field(&rows[2], "基本信息/出生日期"), &json!("2001-12-31"));
    let numbers: Vec<_> = rows.iter().map(|r| r.origin.row.unwrap()).collect();
    assert_eq!(
        numbers,
        [4, 6, 7],
        "Excel's row numbers, the blank row 5 skipped"
    );
}

#[tokio::test]
async fn excel_ledger_with_merged_headers_dates_and_subtotals() {
    let dir = tempfile::tempdir().unwrap();
    write_ledger(&dir.path().join("ledger.xlsx"), "宝兴社区", &PEOPLE);
    let c = excel_connector(dir.path(), "ledger.xlsx", LEDGER_OPTIONS);
    let rows = records(&c).await;
    assert_ledger(&rows, "宝兴社区");

    // The skipped rows the file stores are counted: the subtotal, the
    // formatted blank and the total (blank row 5 is not stored at all).
    let mut source = ExcelSource::open(&c, fresh()).unwrap();
    use yici::connector::Source as _;
    while source.next_batch().await.unwrap().is_some() {}
    assert_eq!(source.skipped_rows(), 3);
}

#[tokio::test]
async fn excel_header_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    write_ledger(&dir.path().join("ledger.xlsx"), "宝兴社区", &PEOPLE);
    // Detected row, rows as configured.
    let c = excel_connector(
        dir.path(),
        "ledger.xlsx",
        "header_rows = 2\nskip_when_contains = [\"合计\", \"小计\"]",
    );
    assert_ledger(&records(&c).await, "宝兴社区");
    // Detected row, and two header rows because 序号 is merged over two.
    let c = excel_connector(
        dir.path(),
        "ledger.xlsx",
        "skip_when_contains = [\"合计\", \"小计\"]",
    );
    assert_ledger(&records(&c).await, "宝兴社区");
}

#[tokio::test]
async fn excel_sheet_by_name_index_and_missing() {
    let dir = tempfile::tempdir().unwrap();
    write_ledger(&dir.path().join("ledger.xlsx"), "宝兴社区", &PEOPLE);
    let by_index = excel_connector(
        dir.path(),
        "ledger.xlsx",
        "sheet_index = 0\nheader_row = 2\nheader_rows = 2\nskip_when_contains = [\"合计\", \"小计\"]",
    );
    assert_ledger(&records(&by_index).await, "宝兴社区");
    let second = excel_connector(dir.path(), "ledger.xlsx", "sheet_index = 1\nheader_row = 1");
    let (_, batches) = pull(&second, fresh()).await.unwrap();
    assert_eq!(batches.iter().map(|b| b.records.len()).sum::<usize>(), 0);

    let missing = excel_connector(dir.path(), "ledger.xlsx", "sheet = \"低保台帐\"");
    let err = pull_error(&missing).await;
    assert_eq!(err.class(), "config");
    assert_eq!(
        err.to_string(),
        format!(
            "{}: no sheet named \"低保台帐\"; the workbook has \"救助对象台帐\", \"说明\"",
            dir.path().join("ledger.xlsx").display()
        )
    );
    let out_of_range = excel_connector(dir.path(), "ledger.xlsx", "sheet_index = 5");
    let err = pull_error(&out_of_range).await.to_string();
    assert!(
        err.contains("sheet_index = 5 but the workbook has 2 sheet(s)"),
        "{err}"
    );
}

#[tokio::test]
async fn excel_folder_of_community_ledgers() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("ledgers");
    std::fs::create_dir_all(&folder).unwrap();
    write_ledger(&folder.join("01宝兴社区.xlsx"), "宝兴社区", &PEOPLE);
    write_ledger(&folder.join("02信谊社区.xlsx"), "信谊社区", &PEOPLE);
    write(&folder, "~$01宝兴社区.xlsx", "office lock file");
    let c = excel_connector(dir.path(), "ledgers", LEDGER_OPTIONS);
    let (mode, batches) = pull(&c, fresh()).await.unwrap();
    assert_eq!(mode, PullMode::Snapshot);
    assert_eq!(batches.len(), 1);
    let rows = &batches[0].records;
    assert_ledger(&rows[..3], "宝兴社区");
    assert_ledger(&rows[3..], "信谊社区");
    let cursor = batches[0].cursor.clone().unwrap();
    let again = PullRequest {
        cursor: Some(cursor),
        full: false,
    };
    assert_eq!(pull(&c, again).await.unwrap().0, PullMode::Unchanged);
}

#[tokio::test]
async fn excel_vertically_merged_data_cells_fill_down() {
    let dir = tempfile::tempdir().unwrap();
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    let plain = Format::new();
    for (col, name) in ["社区", "姓名", "备注"].iter().enumerate() {
        sheet.write_string(0, col as u16, *name).unwrap();
    }
    sheet.merge_range(1, 0, 3, 0, "宝兴社区", &plain).unwrap();
    for (i, name) in ["甲", "乙", "丙"].iter().enumerate() {
        sheet.write_string(1 + i as u32, 1, *name).unwrap();
    }
    sheet.write_string(4, 1, "丁").unwrap();
    sheet.write_string(4, 4, "无表头的值").unwrap();
    book.save(dir.path().join("m.xlsx")).unwrap();
    let c = excel_connector(dir.path(), "m.xlsx", "");
    let rows = records(&c).await;
    let communities: Vec<_> = rows.iter().map(|r| field(r, "社区").clone()).collect();
    assert_eq!(
        communities,
        [
            json!("宝兴社区"),
            json!("宝兴社区"),
            json!("宝兴社区"),
            Value::Null
        ]
    );
    assert_eq!(field(&rows[3], "column E"), &json!("无表头的值"));
    assert_eq!(field(&rows[3], "备注"), &Value::Null);
}

#[tokio::test]
async fn excel_unreadable_file_is_a_data_error() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "broken.xlsx", "this is not a zip file");
    let c = excel_connector(dir.path(), "broken.xlsx", "");
    let err = pull_error(&c).await;
    assert_eq!(err.class(), "data");
    assert!(err.to_string().contains("not a readable workbook"), "{err}");
}

// ---------------------------------------------------------------- sample

/// The shipped connectors read the whole sample district: every record the
/// generator wrote arrives, none quarantined, none silently dropped.
#[tokio::test]
async fn shipped_sample_is_read_in_full() {
    use yici::demo::{write_sample_district, DemoOptions, Department};
    let dir = tempfile::tempdir().unwrap();
    let sample = dir.path().join("sample");
    let summary = write_sample_district(
        &sample,
        &DemoOptions {
            persons: 1_500,
            ..DemoOptions::default()
        },
    )
    .await
    .unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let env: HashMap<String, String> =
        HashMap::from([("YICI_SAMPLE_DIR".to_string(), sample.display().to_string())]);
    for (name, department) in [
        ("civil_affairs", Department::CivilAffairs),
        ("health", Department::Health),
    ] {
        let file = repo.join("connectors").join(format!("{name}.toml"));
        let text = std::fs::read_to_string(&file).unwrap();
        let doc = document::parse(&file, &text).unwrap();
        let c = Connector::resolve(name, doc, dir.path(), &env).unwrap();
        let (mode, batches) = pull(&c, fresh()).await.unwrap();
        assert_eq!(mode, PullMode::Snapshot);
        let problems: Vec<_> = batches.iter().flat_map(|b| &b.problems).collect();
        assert!(problems.is_empty(), "{name}: {problems:?}");
        let read: usize = batches.iter().map(|b| b.records.len()).sum();
        let written = summary.source(department).unwrap().records;
        assert!(written > 0);
        assert_eq!(read, written, "{name}: records read vs written");
        let first = &batches[0].records[0];
        match department {
            Department::CivilAffairs => {
                assert!(
                    first.fields.contains_key("基本信息/姓名"),
                    "{:?}",
                    first.fields
                );
                assert!(first.fields.contains_key("序号"));
                assert_eq!(first.origin.row, Some(4));
            }
            _ => {
                assert!(first.fields.contains_key("XM"), "{:?}", first.fields);
                assert_eq!(first.origin.row, Some(2));
            }
        }
    }
}

// ---------------------------------------------------------------- throughput
