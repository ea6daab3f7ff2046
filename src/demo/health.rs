//! 卫健 health: the resident health-archive export (居民健康档案), a GB18030
//! CSV with pinyin-abbreviation headers and CRLF line endings, as the
//! Windows-based archive system exports it.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use chrono::{Datelike, NaiveDate};
use encoding_rs::GB18030;

use super::people::Population;
use super::random::{chance, stream, stream_rng};
use super::records::{records, DemoRecord, Details, DocumentType};
use super::{ensure_dir, DemoError, Department, Written};

/// File name under the sample directory.
pub(crate) const FILE: &str = "health/jmjkda.csv";

/// The header line, in column order.
pub(crate) const COLUMNS: [&str; 14] = [
    "GRDAH", "XM", "XB", "CSRQ", "ZJLX", "ZJHM", "MZ", "LXDH", "HJDZ", "XZZ", "MXBBZ", "JTYS",
    "JDRQ", "GXSJ",
];

/// Share of rows with 男/女 instead of the 1/2 code in `XB`.
const SEX_AS_TEXT: f64 = 0.05;
/// Share of birth dates written YYYY-MM-DD instead of YYYYMMDD.
const DASHED_BIRTH_DATE: f64 = 0.1;

/// Writes the CSV; see the module docs.
pub(crate) fn write(dir: &Path, pop: &Population) -> Result<Written, DemoError> {
    let path = dir.join(FILE);
    if let Some(parent) = path.parent() {
        ensure_dir(parent)?;
    }
    let io = |e| DemoError::io(&path, e);
    let mut out = BufWriter::with_capacity(1 << 16, File::create(&path).map_err(io)?);
    let mut rng = stream_rng(pop.seed, stream::PRESENTATION + Department::Health as u64);
    let mut written = Written::new(Department::Health);
    let mut line = String::with_capacity(512);

    line.push_str(&COLUMNS.join(","));
    line.push_str("\r\n");
    out.write_all(line.as_bytes()).map_err(io)?;
    for r in records(pop, Department::Health) {
        line.clear();
        let sex = if chance(&mut rng, SEX_AS_TEXT) {
            r.sex.label()
        } else {
            r.sex.code()
        };
        let birth = if chance(&mut rng, DASHED_BIRTH_DATE) {
            dashed(r.birth_date)
        } else {
            compact(r.birth_date)
        };
        let fields = row(&r, sex, &birth);
        for (i, field) in fields.iter().enumerate() {
            if i > 0 {
                line.push(',');
            }
            push_csv_field(&mut line, field);
        }
        line.push_str("\r\n");
        let (bytes, _, _) = GB18030.encode(&line);
        out.write_all(&bytes).map_err(io)?;
        written.record(&r);
    }
    out.flush().map_err(io)?;
    written.summary.files.push(path.clone());
    Ok(written)
}

/// The 14 fields of a record, in [`COLUMNS`] order.
fn row(r: &DemoRecord, sex: &str, birth: &str) -> [String; 14] {
    let (chronic, doctor) = match &r.details {
        Details::Health {
            chronic_disease,
            family_doctor,
        } => (*chronic_disease, *family_doctor),
        _ => (false, None),
    };
    let document_type = match r.document_type {
        DocumentType::IdCard => "01",
        DocumentType::Passport => "03",
    };
    [
        r.source_key.clone(),
        r.name.clone(),
        sex.to_string(),
        birth.to_string(),
        document_type.to_string(),
        r.document_number.clone().unwrap_or_default(),
        r.ethnicity.map(|e| format!("{e:02}")).unwrap_or_default(),
        r.phone.clone().unwrap_or_default(),
        r.registered_address.clone().unwrap_or_default(),
        r.current_address.clone().unwrap_or_default(),
        if chronic { "1" } else { "0" }.to_string(),
        doctor.unwrap_or("").to_string(),
        compact(r.created_on),
        r.updated_at.format("%Y-%m-%d %H:%M:%S").to_string(),
    ]
}

/// RFC 4180: quote fields with a comma, quote or line break; double quotes.
pub(crate) fn push_csv_field(line: &mut String, field: &str) {
    if field.contains([',', '"', '\r', '\n']) {
        line.push('"');
        line.push_str(&field.replace('"', "\"\""));
        line.push('"');
    } else {
        line.push_str(field);
    }
}

fn compact(d: NaiveDate) -> String {
    format!("{:04}{:02}{:02}", d.year(), d.month(), d.day())
}

fn dashed(d: NaiveDate) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        let mut s = String::new();
        push_csv_field(&mut s, "SMITH, JOHN");
        s.push(',');
        push_csv_field(&mut s, "a\"b");
        s.push(',');
        push_csv_field(&mut s, "张伟");
        assert_eq!(s, "\"SMITH, JOHN\",\"a\"\"b\",张伟");
    }
}
