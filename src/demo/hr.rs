//! 人社 human resources & social security: the insured-person list as the
//! provincial platform's REST API pages it (`code`/`message`/`data.list`,
//! 500 per page), with social-insurance field codes (aac001 …).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::Datelike;
use serde::Serialize;

use super::people::Population;
use super::records::{records, DemoRecord, Details};
use super::{ensure_dir, DemoError, Department, Written};

/// Directory of the pages under the sample directory.
pub(crate) const DIR: &str = "hr/pages";
/// Records per page, as the API returns them.
pub(crate) const PAGE_SIZE: usize = 500;

/// One insured person, with the national social-insurance field codes.
#[derive(Debug, Serialize)]
struct Insured {
    /// 个人编号 (the key)
    aac001: String,
    /// 公民身份号码
    aac002: Option<String>,
    /// 姓名
    aac003: String,
    /// 性别 1/2
    aac004: &'static str,
    /// 民族 (GB 3304 code)
    aac005: Option<String>,
    /// 出生日期 YYYYMMDD
    aac006: String,
    /// 联系电话
    aae005: Option<String>,
    /// 地址
    aae006: Option<String>,
    /// 人员参保状态 1 参保缴费, 2 暂停缴费, 3 终止参保
    aac008: &'static str,
    /// 户口性质 10 非农业, 20 农业
    aac009: &'static str,
    /// 单位编号 (null for flexible workers)
    aab001: Option<String>,
    /// 经办时间
    aae036: String,
}

#[derive(Serialize)]
struct Envelope<'a> {
    code: u32,
    message: &'static str,
    data: Page<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Page<'a> {
    total: usize,
    page_num: usize,
    page_size: usize,
    pages: usize,
    list: &'a [Insured],
}

/// Writes `page-0001.json` … (at least one page, empty when nobody is insured).
pub(crate) fn write(dir: &Path, pop: &Population) -> Result<Written, DemoError> {
    let pages_dir = dir.join(DIR);
    ensure_dir(&pages_dir)?;
    remove_old_pages(&pages_dir)?;
    let mut written = Written::new(Department::Hr);
    let mut recs = records(pop, Department::Hr);
    let total = recs.len();
    let pages = total.div_ceil(PAGE_SIZE);
    let mut list = Vec::with_capacity(PAGE_SIZE);
    for page_num in 1..=pages.max(1) {
        list.clear();
        for r in recs.by_ref().take(PAGE_SIZE) {
            list.push(insured(&r));
            written.record(&r);
        }
        let path = pages_dir.join(format!("page-{page_num:04}.json"));
        let envelope = Envelope {
            code: 0,
            message: "成功",
            data: Page {
                total,
                page_num,
                page_size: PAGE_SIZE,
                pages,
                list: &list,
            },
        };
        write_page(&path, &envelope)?;
        written.summary.files.push(path);
    }
    Ok(written)
}

fn write_page(path: &PathBuf, envelope: &Envelope<'_>) -> Result<(), DemoError> {
    let file = File::create(path).map_err(|e| DemoError::io(path, e))?;
    let mut out = BufWriter::new(file);
    serde_json::to_writer(&mut out, envelope).map_err(|source| DemoError::Json {
        path: path.clone(),
        source,
    })?;
    out.flush().map_err(|e| DemoError::io(path, e))
}

/// Removes `page-*.json` left by a previous, larger sample.
fn remove_old_pages(pages_dir: &Path) -> Result<(), DemoError> {
    let entries = std::fs::read_dir(pages_dir).map_err(|e| DemoError::io(pages_dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| DemoError::io(pages_dir, e))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("page-") && name.ends_with(".json") {
            let path = entry.path();
            std::fs::remove_file(&path).map_err(|e| DemoError::io(&path, e))?;
        }
    }
    Ok(())
}

fn insured(r: &DemoRecord) -> Insured {
    let (status, agricultural, employer) = match &r.details {
        Details::Hr {
            insurance_status,
            agricultural,
            employer,
        } => (insurance_status.code(), *agricultural, employer.clone()),
        _ => ("1", false, None),
    };
    let b = r.birth_date;
    Insured {
        aac001: r.source_key.clone(),
        aac002: r.document_number.clone(),
        aac003: r.name.clone(),
        aac004: r.sex.code(),
        aac005: r.ethnicity.map(|e| format!("{e:02}")),
        aac006: format!("{:04}{:02}{:02}", b.year(), b.month(), b.day()),
        aae005: r.phone.clone(),
        aae006: r.current_address.clone(),
        aac008: status,
        aac009: if agricultural { "20" } else { "10" },
        aab001: employer,
        aae036: r.updated_at.format("%Y-%m-%d %H:%M:%S").to_string(),
    }
}
