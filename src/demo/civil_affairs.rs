//! 民政 civil affairs: the beneficiary ledger as community workers keep it in
//! Excel — a merged title row, a two-row merged header, community blocks with
//! subtotal rows, stray blank rows, and dates and phones typed every which way.

use std::path::Path;

use chrono::{Datelike, NaiveDate};
use rust_xlsxwriter::{
    DocProperties, ExcelDateTime, Format, FormatAlign, FormatBorder, Workbook, Worksheet, XlsxError,
};

use super::people::{reference_date, Population};
use super::places::ethnicity_name;
use super::random::{chance, pick, stream, stream_rng, DemoRng};
use super::records::{records, DemoRecord, Details};
use super::{ensure_dir, DemoError, Department, Written};

/// File name under the sample directory.
pub(crate) const FILE: &str = "civil_affairs/ledger.xlsx";
/// Sheet name.
pub(crate) const SHEET: &str = "救助对象台帐";

/// Data columns (0-based): 序号, 档案编号, then the grouped columns.
pub(crate) const COLUMNS: [&str; 15] = [
    "序号",
    "档案编号",
    "姓名",
    "性别",
    "身份证号码",
    "出生日期",
    "民族",
    "联系电话",
    "户籍地址",
    "现住址",
    "救助类别",
    "残疾等级",
    "登记日期",
    "社区",
    "备注",
];
/// Header groups in row 2: (first column, last column, title).
const GROUPS: [(u16, u16, &str); 3] =
    [(2, 6, "基本信息"), (7, 9, "联系信息"), (10, 12, "救助信息")];
/// First data row (0-based; Excel row 4).
pub(crate) const FIRST_DATA_ROW: u32 = 3;

/// Share of birth dates stored as real date cells (the rest as text).
const BIRTH_AS_DATE: f64 = 0.6;
/// Share of mobiles stored as numbers (Excel drops the text format).
const PHONE_AS_NUMBER: f64 = 0.3;
/// Share of ethnicities typed without 族 (汉 instead of 汉族).
const ETHNICITY_SHORT: f64 = 0.1;
/// Chance of a stray blank row after a subtotal, and inside a block.
const BLANK_AFTER_BLOCK: f64 = 0.3;
const BLANK_IN_BLOCK: f64 = 0.004;

struct Formats {
    title: Format,
    header: Format,
    cell: Format,
    date: Format,
    date_slash: Format,
    text: Format,
    subtotal: Format,
}

impl Formats {
    fn new() -> Self {
        let border = |f: Format| f.set_border(FormatBorder::Thin);
        Formats {
            title: Format::new()
                .set_bold()
                .set_font_size(16)
                .set_align(FormatAlign::Center),
            header: border(
                Format::new()
                    .set_bold()
                    .set_align(FormatAlign::Center)
                    .set_align(FormatAlign::VerticalCenter)
                    .set_background_color(0xDDEBF7),
            ),
            cell: border(Format::new()),
            date: border(Format::new().set_num_format("yyyy-mm-dd")),
            date_slash: border(Format::new().set_num_format("yyyy/m/d")),
            text: border(Format::new().set_num_format("@")),
            subtotal: border(Format::new().set_bold()),
        }
    }
}

/// Writes the ledger; see the module docs for its layout.
pub(crate) fn write(dir: &Path, pop: &Population) -> Result<Written, DemoError> {
    let path = dir.join(FILE);
    if let Some(parent) = path.parent() {
        ensure_dir(parent)?;
    }
    let xlsx = |source: XlsxError| DemoError::Xlsx {
        path: path.clone(),
        source,
    };
    let mut rng = stream_rng(
        pop.seed,
        stream::PRESENTATION + Department::CivilAffairs as u64,
    );
    let mut written = Written::new(Department::CivilAffairs);
    let year = reference_date().year();

    let mut workbook = Workbook::new();
    // A fixed creation time keeps the file byte-identical for a seed.
    let created = ExcelDateTime::from_ymd(year as u16, 11, 1).map_err(xlsx)?;
    workbook.set_properties(
        &DocProperties::new()
            .set_title(format!("海曙区民政救助对象台帐（{year}年）"))
            .set_author("海曙区民政局")
            .set_creation_datetime(&created),
    );
    let f = Formats::new();
    let sheet = workbook.add_worksheet();
    sheet.set_name(SHEET).map_err(xlsx)?;
    write_header(sheet, &f, year).map_err(xlsx)?;

    let mut row = FIRST_DATA_ROW;
    let mut serial = 0u32;
    let mut block: Option<(&'static str, u32)> = None;
    for record in records(pop, Department::CivilAffairs) {
        let Details::CivilAffairs { community, .. } = &record.details else {
            continue;
        };
        match block {
            Some((c, n)) if c != *community => {
                row = subtotal(sheet, &f, row, c, n, &mut rng).map_err(xlsx)?;
                block = Some((community, 0));
            }
            None => block = Some((community, 0)),
            Some(_) => {}
        }
        if chance(&mut rng, BLANK_IN_BLOCK) {
            row += 1;
        }
        serial += 1;
        data_row(sheet, &f, row, serial, &record, &mut rng).map_err(xlsx)?;
        row += 1;
        if let Some((_, n)) = block.as_mut() {
            *n += 1;
        }
        written.record(&record);
    }
    if let Some((c, n)) = block {
        row = subtotal(sheet, &f, row, c, n, &mut rng).map_err(xlsx)?;
    }
    sheet
        .write_string_with_format(row, 0, format!("合计：{serial}人"), &f.subtotal)
        .map_err(xlsx)?;

    workbook.save(&path).map_err(xlsx)?;
    written.summary.files.push(path.clone());
    Ok(written)
}

fn write_header(sheet: &mut Worksheet, f: &Formats, year: i32) -> Result<(), XlsxError> {
    let last = (COLUMNS.len() - 1) as u16;
    sheet.merge_range(
        0,
        0,
        0,
        last,
        &format!("海曙区民政救助对象台帐（{year}年）"),
        &f.title,
    )?;
    sheet.set_row_height(0, 30)?;
    for (col, title) in COLUMNS.iter().enumerate() {
        let col = col as u16;
        if GROUPS.iter().any(|(a, b, _)| (*a..=*b).contains(&col)) {
            sheet.write_string_with_format(2, col, *title, &f.header)?;
        } else {
            sheet.merge_range(1, col, 2, col, title, &f.header)?;
        }
    }
    for (a, b, title) in GROUPS {
        sheet.merge_range(1, a, 1, b, title, &f.header)?;
    }
    let widths = [6, 11, 10, 5, 21, 12, 8, 14, 40, 40, 14, 9, 12, 12, 14];
    for (col, w) in widths.iter().enumerate() {
        sheet.set_column_width(col as u16, *w)?;
    }
    sheet.set_freeze_panes(FIRST_DATA_ROW, 0)?;
    Ok(())
}

/// Writes `小计：n人` for a community block; returns the next free row.
fn subtotal(
    sheet: &mut Worksheet,
    f: &Formats,
    row: u32,
    community: &str,
    n: u32,
    rng: &mut DemoRng,
) -> Result<u32, XlsxError> {
    sheet.write_string_with_format(row, 0, format!("小计：{n}人"), &f.subtotal)?;
    sheet.write_string_with_format(row, 13, community, &f.subtotal)?;
    Ok(if chance(rng, BLANK_AFTER_BLOCK) {
        row + 2
    } else {
        row + 1
    })
}

fn data_row(
    sheet: &mut Worksheet,
    f: &Formats,
    row: u32,
    serial: u32,
    r: &DemoRecord,
    rng: &mut DemoRng,
) -> Result<(), XlsxError> {
    let Details::CivilAffairs {
        category,
        disability_grade,
        community,
        remark,
    } = &r.details
    else {
        return Ok(());
    };
    sheet.write_number_with_format(row, 0, serial, &f.cell)?;
    sheet.write_string_with_format(row, 1, &r.source_key, &f.cell)?;
    sheet.write_string_with_format(row, 2, &r.name, &f.cell)?;
    sheet.write_string_with_format(row, 3, r.sex.label(), &f.cell)?;
    match &r.document_number {
        Some(id) => sheet.write_string_with_format(row, 4, id, &f.text)?,
        None => sheet.write_blank(row, 4, &f.text)?,
    };
    if chance(rng, BIRTH_AS_DATE) {
        let d = excel_date(r.birth_date)?;
        let fmt = if chance(rng, 0.7) {
            &f.date
        } else {
            &f.date_slash
        };
        sheet.write_date_with_format(row, 5, &d, fmt)?;
    } else {
        sheet.write_string_with_format(row, 5, text_date(r.birth_date, rng), &f.text)?;
    }
    let ethnicity = r.ethnicity.map(ethnicity_name).unwrap_or("");
    let ethnicity = if chance(rng, ETHNICITY_SHORT) {
        ethnicity.trim_end_matches('族')
    } else {
        ethnicity
    };
    sheet.write_string_with_format(row, 6, ethnicity, &f.cell)?;
    match &r.phone {
        Some(p) if !p.contains('-') && chance(rng, PHONE_AS_NUMBER) => {
            let n: f64 = p.parse().unwrap_or(0.0);
            sheet.write_number_with_format(row, 7, n, &f.cell)?
        }
        Some(p) => sheet.write_string_with_format(row, 7, p, &f.text)?,
        None => sheet.write_blank(row, 7, &f.cell)?,
    };
    sheet.write_string_with_format(
        row,
        8,
        r.registered_address.as_deref().unwrap_or(""),
        &f.cell,
    )?;
    sheet.write_string_with_format(row, 9, r.current_address.as_deref().unwrap_or(""), &f.cell)?;
    sheet.write_string_with_format(row, 10, category.label(), &f.cell)?;
    let grade = disability_grade.map_or("", |g| {
        ["一级", "二级", "三级", "四级"][usize::from(g.clamp(1, 4)) - 1]
    });
    sheet.write_string_with_format(row, 11, grade, &f.cell)?;
    sheet.write_date_with_format(row, 12, &excel_date(r.created_on)?, &f.date)?;
    sheet.write_string_with_format(row, 13, *community, &f.cell)?;
    sheet.write_string_with_format(row, 14, remark.unwrap_or(""), &f.cell)?;
    Ok(())
}

fn excel_date(d: NaiveDate) -> Result<ExcelDateTime, XlsxError> {
    ExcelDateTime::from_ymd(d.year() as u16, d.month() as u8, d.day() as u8)
}

/// A birth date typed as text in one of the forms clerks use.
fn text_date(d: NaiveDate, rng: &mut DemoRng) -> String {
    let (y, m, day) = (d.year(), d.month(), d.day());
    match *pick(rng, &[0u8, 0, 1, 2, 3, 4]) {
        0 => format!("{y:04}-{m:02}-{day:02}"),
        1 => format!("{y}/{m}/{day}"),
        2 => format!("{y:04}.{m:02}.{day:02}"),
        3 => format!("{y}年{m}月{day}日"),
        _ => format!("{y:04}{m:02}{day:02}"),
    }
}
