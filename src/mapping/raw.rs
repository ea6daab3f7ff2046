//! Raw JSON cell values as text. Connectors deliver strings, numbers
//! (integral floats already as integers), booleans and `null`; a mapping
//! works on text, so this is the one place that decides how a number reads
//! (`1`, never `1.0`) and what counts as empty.

use std::borrow::Cow;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime};
use serde_json::{Number, Value};

use crate::model::text::is_blank;

/// Placeholders that department systems type into a cell to mean "no
/// value". They are read as empty (except by `bool`, where 无 means false).
const PLACEHOLDERS: &[&str] = &[
    "null", "none", "nil", "n/a", "\\N", "-", "--", "—", "——", "/", "无", "暂无",
];

/// Whether `s` is blank or only blanks.
pub(crate) fn is_blank_text(s: &str) -> bool {
    s.chars().all(is_blank)
}

/// Whether `s` (blank-trimmed) is one of the [`PLACEHOLDERS`].
pub(crate) fn is_placeholder(s: &str) -> bool {
    let t = s.trim_matches(is_blank);
    t.len() <= 6 && PLACEHOLDERS.iter().any(|p| p.eq_ignore_ascii_case(t))
}

/// A number as an operator would type it: integers without `.0`, other
/// finite values in the shortest form that reads back equal.
pub(crate) fn number_text(n: &Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    match n.as_f64() {
        // Below 2^53 an integral f64 is an exact integer.
        Some(f) if f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e15 => {
            format!("{}", f as i64)
        }
        Some(f) => f.to_string(),
        None => n.to_string(),
    }
}

/// The text of a scalar cell; `None` for `null` and blank strings. Arrays
/// and objects are rendered as JSON (callers that want list elements use
/// [`elements`]).
pub(crate) fn cell_text(value: &Value) -> Option<Cow<'_, str>> {
    match value {
        Value::Null => None,
        Value::String(s) if is_blank_text(s) => None,
        Value::String(s) => Some(Cow::Borrowed(s.as_str())),
        Value::Number(n) => Some(Cow::Owned(number_text(n))),
        Value::Bool(true) => Some(Cow::Borrowed("true")),
        Value::Bool(false) => Some(Cow::Borrowed("false")),
        Value::Array(_) | Value::Object(_) => Some(Cow::Owned(value.to_string())),
    }
}

/// The non-empty elements of a JSON array cell (a REST API's `phones:
/// [...]`), as text.
pub(crate) fn elements(items: &[Value]) -> Vec<Cow<'_, str>> {
    items.iter().filter_map(cell_text).collect()
}

/// A source timestamp as `YYYY-MM-DD HH:MM:SS`. Times with an offset are
/// converted to China Standard Time (UTC+8), the one time zone every
/// department system of a district lives in; times without one are taken as
/// written. Unparseable text is returned blank-trimmed, unchanged.
pub(crate) fn normalize_timestamp(text: &str) -> String {
    let t = text.trim_matches(is_blank);
    if is_canonical_timestamp(t) {
        return t.to_owned();
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return in_china(dt);
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f%:z", "%Y-%m-%d %H:%M:%S%z"] {
        if let Ok(dt) = DateTime::parse_from_str(t, format) {
            return in_china(dt);
        }
    }
    const DATETIMES: &[&str] = &[
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y/%m/%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y/%m/%d %H:%M",
        "%Y%m%d%H%M%S",
        "%Y年%m月%d日 %H:%M:%S",
        "%Y年%m月%d日%H:%M:%S",
    ];
    for format in DATETIMES {
        if let Ok(dt) = NaiveDateTime::parse_from_str(t, format) {
            return dt.format("%Y-%m-%d %H:%M:%S").to_string();
        }
    }
    const DATES: &[&str] = &["%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y.%m.%d", "%Y年%m月%d日"];
    for format in DATES {
        if let Ok(d) = NaiveDate::parse_from_str(t, format) {
            return format!("{} 00:00:00", d.format("%Y-%m-%d"));
        }
    }
    t.to_owned()
}

/// `YYYY-MM-DD HH:MM:SS` with plausible fields: by far the most common form,
/// checked without the cost of a format parser.
fn is_canonical_timestamp(t: &str) -> bool {
    let b = t.as_bytes();
    if b.len() != 19 {
        return false;
    }
    let shape_ok = b.iter().enumerate().all(|(i, &c)| match i {
        4 | 7 => c == b'-',
        10 => c == b' ',
        13 | 16 => c == b':',
        _ => c.is_ascii_digit(),
    });
    let two = |i: usize| u32::from(b[i] - b'0') * 10 + u32::from(b[i + 1] - b'0');
    shape_ok
        && (1..=12).contains(&two(5))
        && (1..=31).contains(&two(8))
        && two(11) < 24
        && two(14) < 60
        && two(17) < 60
        && NaiveDate::from_ymd_opt(
            i32::try_from(two(0) * 100 + two(2)).unwrap_or(0),
            two(5),
            two(8),
        )
        .is_some()
}

/// A staged business timestamp (`YYYY-MM-DD HH:MM:SS`, China Standard
/// Time, as `normalize_timestamp` writes it) as an instant; `None` for
/// text that was kept because it could not be read.
pub fn business_time(text: &str) -> Option<DateTime<chrono::Utc>> {
    let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").ok()?;
    let cst = FixedOffset::east_opt(8 * 3600)?;
    naive
        .and_local_timezone(cst)
        .single()
        .map(|t| t.with_timezone(&chrono::Utc))
}

fn in_china(dt: DateTime<FixedOffset>) -> String {
    match FixedOffset::east_opt(8 * 3600) {
        Some(cst) => dt
            .with_timezone(&cst)
            .format("%Y-%m-%d %H:%M:%S")
            .to_string(),
        None => dt.naive_local().format("%Y-%m-%d %H:%M:%S").to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn business_times_are_read_as_china_time() {
        let t = business_time(&normalize_timestamp("2024-03-01")).unwrap();
        assert_eq!(t.to_rfc3339(), "2024-02-29T16:00:00+00:00");
        assert_eq!(business_time("去年"), None);
    }
    use serde_json::json;

    #[test]
    fn numbers_read_like_typed() {
        assert_eq!(cell_text(&json!(1)).as_deref(), Some("1"));
        assert_eq!(
            cell_text(&json!(13812345678u64)).as_deref(),
            Some("13812345678")
        );
        assert_eq!(cell_text(&json!(3.0)).as_deref(), Some("3"));
        assert_eq!(cell_text(&json!(2.5)).as_deref(), Some("2.5"));
        assert_eq!(cell_text(&json!(-7)).as_deref(), Some("-7"));
        assert_eq!(
            cell_text(&json!(u64::MAX)).as_deref(),
            Some("18446744073709551615")
        );
    }

    #[test]
    fn empties() {
        assert_eq!(cell_text(&Value::Null), None);
        assert_eq!(cell_text(&json!(" \u{3000} ")), None);
        assert_eq!(cell_text(&json!(true)).as_deref(), Some("true"));
        assert!(is_placeholder(" 无 "));
        assert!(is_placeholder("NULL"));
        assert!(!is_placeholder("无锡"));
        assert!(!is_placeholder("0"));
    }

    #[test]
    fn timestamps() {
        for (raw, want) in [
            ("2024-01-02 03:04:05", "2024-01-02 03:04:05"),
            ("2024-01-02T03:04:05.123", "2024-01-02 03:04:05"),
            ("2024-01-02T03:04:05Z", "2024-01-02 11:04:05"),
            ("2024-01-02T03:04:05+08:00", "2024-01-02 03:04:05"),
            ("2024/1/2 3:04:05", "2024-01-02 03:04:05"),
            ("20240102030405", "2024-01-02 03:04:05"),
            ("2024-01-02", "2024-01-02 00:00:00"),
            ("20240102", "2024-01-02 00:00:00"),
            ("2024年1月2日", "2024-01-02 00:00:00"),
            (" yesterday ", "yesterday"),
            ("2023-02-30 00:00:00", "2023-02-30 00:00:00"),
            ("2023-02-28 24:00:00", "2023-02-28 24:00:00"),
        ] {
            assert_eq!(normalize_timestamp(raw), want, "{raw}");
        }
    }
}
