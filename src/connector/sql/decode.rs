//! Column values → JSON, per backend.
//!
//! sqlx is built without its `chrono`/`bigdecimal`/`json` features, so
//! temporal, decimal and JSON columns are decoded here from the wire bytes
//! (PostgreSQL and MySQL both send prepared-statement results in their
//! binary formats). Every decoder checks lengths and never panics: a value
//! it cannot read becomes a message naming the column, and the row becomes
//! a `RowProblem`.
//!
//! Output conventions (those of `RawRecord`): integers → numbers; floats →
//! numbers, integral ones as integers; decimals → numbers when the
//! shortest `f64` rendering gives back the exact digits, otherwise the
//! decimal's text (so no digit is ever lost); text → strings; PostgreSQL
//! `bool` → `true`/`false`; MySQL `TINYINT(1)` → number 0/1 (MySQL lets it
//! hold -128..127, and legacy systems keep small codes in it); MySQL `BIT`
//! → unsigned number; date → `YYYY-MM-DD`; timestamp/datetime →
//! `YYYY-MM-DD HH:MM:SS`, plus `.ffffff` only when there are fractional
//! seconds (a cursor must keep full precision to round-trip);
//! `timestamptz` → the UTC wall time in the same format; MySQL zero dates
//! (`0000-00-00`) → null; time → `HH:MM:SS[.ffffff]`; uuid → hyphenated
//! text; JSON → the parsed JSON; binary → lower-case hex; NULL → null.

use chrono::{Duration, NaiveDate, NaiveDateTime};
use serde_json::{Map, Number, Value};
use sqlx::mysql::MySqlRow;
use sqlx::postgres::{PgRow, PgTypeKind};
use sqlx::sqlite::SqliteRow;
use sqlx::{Column, Decode, Row, TypeInfo, ValueRef};

/// How a column's values are decoded, decided once per page from its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Bool,
    Int,
    UInt,
    Float,
    Decimal,
    Text,
    Date,
    Time,
    Timestamp,
    TimestampTz,
    Uuid,
    Json,
    Bytes,
    /// MySQL `BIT(n)`: a big-endian unsigned number.
    Bits,
    /// SQLite: whatever storage class the value has.
    Dynamic,
    /// A type yici has no decoder for; text is tried, else a row problem.
    Other,
}

/// Decoding kind of a PostgreSQL column.
pub(crate) fn pg_kind(ty: &sqlx::postgres::PgTypeInfo) -> Kind {
    if matches!(ty.kind(), PgTypeKind::Enum(_)) {
        return Kind::Text;
    }
    match ty.name() {
        "BOOL" => Kind::Bool,
        "INT2" | "INT4" | "INT8" => Kind::Int,
        "OID" => Kind::UInt,
        "FLOAT4" | "FLOAT8" => Kind::Float,
        "NUMERIC" => Kind::Decimal,
        "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" | "CHAR" | "UNKNOWN" | "citext" | "CITEXT" => {
            Kind::Text
        }
        "DATE" => Kind::Date,
        "TIME" => Kind::Time,
        "TIMESTAMP" => Kind::Timestamp,
        "TIMESTAMPTZ" => Kind::TimestampTz,
        "UUID" => Kind::Uuid,
        "JSON" | "JSONB" => Kind::Json,
        "BYTEA" => Kind::Bytes,
        _ => Kind::Other,
    }
}

/// Decoding kind of a MySQL/MariaDB column.
pub(crate) fn mysql_kind(ty: &sqlx::mysql::MySqlTypeInfo) -> Kind {
    match ty.name() {
        "BOOLEAN" | "TINYINT" | "SMALLINT" | "MEDIUMINT" | "INT" | "BIGINT" | "YEAR" => Kind::Int,
        "TINYINT UNSIGNED" | "SMALLINT UNSIGNED" | "MEDIUMINT UNSIGNED" | "INT UNSIGNED"
        | "BIGINT UNSIGNED" => Kind::UInt,
        "FLOAT" | "DOUBLE" => Kind::Float,
        "DECIMAL" => Kind::Decimal,
        "CHAR" | "VARCHAR" | "TEXT" | "TINYTEXT" | "MEDIUMTEXT" | "LONGTEXT" | "ENUM" | "SET" => {
            Kind::Text
        }
        "JSON" => Kind::Json,
        "DATE" => Kind::Date,
        "DATETIME" | "TIMESTAMP" => Kind::Timestamp,
        "TIME" => Kind::Time,
        "BINARY" | "VARBINARY" | "BLOB" | "TINYBLOB" | "MEDIUMBLOB" | "LONGBLOB" | "GEOMETRY" => {
            Kind::Bytes
        }
        "BIT" => Kind::Bits,
        _ => Kind::Other,
    }
}

/// Decodes one row into `out` (cleared first). On a value that cannot be
/// read, the column is set to null and the reason returned; the rest of the
/// row is still read.
pub(crate) trait DecodeRow {
    fn kinds(&self) -> Vec<Kind>;
    fn decode_into(
        &self,
        kinds: &[Kind],
        names: &[String],
        out: &mut Map<String, Value>,
    ) -> Vec<String>;
}

impl DecodeRow for PgRow {
    fn kinds(&self) -> Vec<Kind> {
        self.columns()
            .iter()
            .map(|c| pg_kind(c.type_info()))
            .collect()
    }

    fn decode_into(
        &self,
        kinds: &[Kind],
        names: &[String],
        out: &mut Map<String, Value>,
    ) -> Vec<String> {
        let mut problems = Vec::new();
        for (i, (kind, name)) in kinds.iter().zip(names).enumerate() {
            let value = match self.try_get_raw(i) {
                Ok(raw) if raw.is_null() => Ok(Value::Null),
                Ok(raw) => {
                    if *kind == Kind::Other {
                        // Text-like custom types (domains, citext variants).
                        self.try_get::<String, _>(i)
                            .map(Value::String)
                            .map_err(|_| unreadable(self.columns()[i].type_info().name()))
                    } else {
                        <&[u8] as Decode<sqlx::Postgres>>::decode(raw)
                            .map_err(|e| e.to_string())
                            .and_then(|bytes| pg_value(*kind, bytes))
                    }
                }
                Err(e) => Err(e.to_string()),
            };
            push(out, name, value, &mut problems);
        }
        problems
    }
}

impl DecodeRow for MySqlRow {
    fn kinds(&self) -> Vec<Kind> {
        self.columns()
            .iter()
            .map(|c| mysql_kind(c.type_info()))
            .collect()
    }

    fn decode_into(
        &self,
        kinds: &[Kind],
        names: &[String],
        out: &mut Map<String, Value>,
    ) -> Vec<String> {
        let mut problems = Vec::new();
        for (i, (kind, name)) in kinds.iter().zip(names).enumerate() {
            let value = match self.try_get_raw(i) {
                Ok(raw) if raw.is_null() => Ok(Value::Null),
                Ok(raw) => {
                    let ty = self.columns()[i].type_info().name();
                    <&[u8] as Decode<sqlx::MySql>>::decode(raw)
                        .map_err(|e| e.to_string())
                        .and_then(|bytes| mysql_value(*kind, bytes, ty))
                }
                Err(e) => Err(e.to_string()),
            };
            push(out, name, value, &mut problems);
        }
        problems
    }
}

impl DecodeRow for SqliteRow {
    fn kinds(&self) -> Vec<Kind> {
        vec![Kind::Dynamic; self.columns().len()]
    }

    fn decode_into(
        &self,
        _kinds: &[Kind],
        names: &[String],
        out: &mut Map<String, Value>,
    ) -> Vec<String> {
        let mut problems = Vec::new();
        for (i, name) in names.iter().enumerate() {
            let value = sqlite_value(self, i);
            push(out, name, value, &mut problems);
        }
        problems
    }
}

fn push(
    out: &mut Map<String, Value>,
    name: &str,
    value: Result<Value, String>,
    problems: &mut Vec<String>,
) {
    match value {
        Ok(v) => {
            out.insert(name.to_owned(), v);
        }
        Err(reason) => {
            problems.push(format!("column `{name}`: {reason}"));
            out.insert(name.to_owned(), Value::Null);
        }
    }
}

fn unreadable(type_name: &str) -> String {
    format!("type {type_name} cannot be read; select it cast to text in the connector's `query`")
}

/// SQLite values by storage class (the declared type is only advisory).
fn sqlite_value(row: &SqliteRow, i: usize) -> Result<Value, String> {
    let raw = row.try_get_raw(i).map_err(|e| e.to_string())?;
    if raw.is_null() {
        return Ok(Value::Null);
    }
    let class = raw.type_info().name().to_owned();
    match class.as_str() {
        "INTEGER" => row
            .try_get_unchecked::<i64, _>(i)
            .map(|v| Value::Number(v.into()))
            .map_err(|e| e.to_string()),
        "REAL" => row
            .try_get_unchecked::<f64, _>(i)
            .map(float)
            .map_err(|e| e.to_string()),
        "BLOB" => row
            .try_get_unchecked::<Vec<u8>, _>(i)
            .map(|b| Value::String(hex(&b)))
            .map_err(|e| e.to_string()),
        _ => row
            .try_get_unchecked::<String, _>(i)
            .map(Value::String)
            .map_err(|e| e.to_string()),
    }
}

/// A float as JSON: integral values as integers (a phone number in a float
/// column stays `13812345678`), non-finite ones as text.
pub(crate) fn float(v: f64) -> Value {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 9.007_199_254_740_992e15 {
        return Value::Number((v as i64).into());
    }
    Number::from_f64(v).map_or_else(|| Value::String(v.to_string()), Value::Number)
}

/// A decimal's text as JSON: a number when no digit is lost, else the text.
pub(crate) fn decimal(text: &str) -> Value {
    let trimmed = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        text
    };
    let trimmed = if trimmed == "-0" { "0" } else { trimmed };
    if let Ok(i) = trimmed.parse::<i64>() {
        return Value::Number(i.into());
    }
    if let Ok(f) = trimmed.parse::<f64>() {
        if f.is_finite() && f.to_string() == trimmed {
            if let Some(n) = Number::from_f64(f) {
                return Value::Number(n);
            }
        }
    }
    Value::String(text.to_owned())
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    s
}

fn text(bytes: &[u8]) -> Result<Value, String> {
    std::str::from_utf8(bytes)
        .map(|s| Value::String(s.to_owned()))
        .map_err(|_| "text is not valid UTF-8".to_owned())
}

fn json(bytes: &[u8]) -> Result<Value, String> {
    let s = std::str::from_utf8(bytes).map_err(|_| "JSON is not valid UTF-8".to_owned())?;
    Ok(serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.to_owned())))
}

fn wrong_length(kind: &str, len: usize) -> String {
    format!("unexpected {len}-byte {kind} value")
}

fn be_int(bytes: &[u8]) -> Result<i64, String> {
    Ok(match bytes.len() {
        1 => i64::from(bytes[0] as i8),
        2 => i64::from(i16::from_be_bytes([bytes[0], bytes[1]])),
        4 => i64::from(i32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])),
        8 => i64::from_be_bytes(bytes.try_into().map_err(|_| wrong_length("integer", 8))?),
        n => return Err(wrong_length("integer", n)),
    })
}

fn pg_epoch() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2000, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or_default()
}

/// `YYYY-MM-DD HH:MM:SS`, with `.ffffff` only when there are fractions.
/// Written by hand: strftime parsing its pattern per value shows in profiles.
pub(crate) fn format_timestamp(t: NaiveDateTime) -> String {
    use chrono::{Datelike, Timelike};
    let (y, mo, d) = (t.year(), t.month(), t.day());
    let (h, mi, s) = (t.hour(), t.minute(), t.second());
    let micros = t.nanosecond() / 1_000;
    if micros == 0 {
        format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}")
    } else {
        format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}.{micros:06}")
    }
}

fn format_date(d: NaiveDate) -> String {
    use chrono::Datelike;
    format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day())
}

fn format_micros_of_day(micros: i64) -> String {
    let (sign, micros) = if micros < 0 {
        ("-", -micros)
    } else {
        ("", micros)
    };
    let secs = micros / 1_000_000;
    let frac = micros % 1_000_000;
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if frac == 0 {
        format!("{sign}{h:02}:{m:02}:{s:02}")
    } else {
        format!("{sign}{h:02}:{m:02}:{s:02}.{frac:06}")
    }
}

fn pg_value(kind: Kind, bytes: &[u8]) -> Result<Value, String> {
    match kind {
        Kind::Bool => match bytes {
            [b] => Ok(Value::Bool(*b != 0)),
            _ => Err(wrong_length("bool", bytes.len())),
        },
        Kind::Int => be_int(bytes).map(|v| Value::Number(v.into())),
        Kind::UInt => match bytes {
            [a, b, c, d] => Ok(Value::Number(u32::from_be_bytes([*a, *b, *c, *d]).into())),
            _ => Err(wrong_length("oid", bytes.len())),
        },
        Kind::Float => match bytes.len() {
            4 => Ok(float(f64::from(f32::from_be_bytes(
                bytes.try_into().map_err(|_| wrong_length("float4", 4))?,
            )))),
            8 => Ok(float(f64::from_be_bytes(
                bytes.try_into().map_err(|_| wrong_length("float8", 8))?,
            ))),
            n => Err(wrong_length("float", n)),
        },
        Kind::Decimal => pg_numeric(bytes).map(|t| decimal(&t)),
        Kind::Text => text(bytes),
        Kind::Json => match bytes.split_first() {
            // jsonb: a version byte (1), then the text; json: just the text.
            Some((1, rest)) => json(rest),
            _ => json(bytes),
        },
        Kind::Date => {
            let days = be_int(bytes)?;
            match days {
                d if d == i64::from(i32::MAX) => Ok(Value::String("infinity".into())),
                d if d == i64::from(i32::MIN) => Ok(Value::String("-infinity".into())),
                d => pg_epoch()
                    .date()
                    .checked_add_signed(Duration::days(d))
                    .map(|d| Value::String(format_date(d)))
                    .ok_or_else(|| "date out of range".to_owned()),
            }
        }
        Kind::Timestamp | Kind::TimestampTz => {
            let micros = be_int(bytes)?;
            match micros {
                i64::MAX => Ok(Value::String("infinity".into())),
                i64::MIN => Ok(Value::String("-infinity".into())),
                m => pg_epoch()
                    .checked_add_signed(Duration::microseconds(m))
                    .map(|t| Value::String(format_timestamp(t)))
                    .ok_or_else(|| "timestamp out of range".to_owned()),
            }
        }
        Kind::Time => be_int(bytes).map(|m| Value::String(format_micros_of_day(m))),
        Kind::Uuid => {
            if bytes.len() != 16 {
                return Err(wrong_length("uuid", bytes.len()));
            }
            let h = hex(bytes);
            Ok(Value::String(format!(
                "{}-{}-{}-{}-{}",
                &h[0..8],
                &h[8..12],
                &h[12..16],
                &h[16..20],
                &h[20..32]
            )))
        }
        Kind::Bytes => Ok(Value::String(hex(bytes))),
        Kind::Bits | Kind::Dynamic | Kind::Other => text(bytes),
    }
}

/// PostgreSQL binary `numeric` → its decimal text (`-12.50`, `NaN`).
pub(crate) fn pg_numeric(bytes: &[u8]) -> Result<String, String> {
    let word = |i: usize| -> Result<u16, String> {
        bytes
            .get(i..i + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
            .ok_or_else(|| "truncated numeric value".to_owned())
    };
    let ndigits = usize::from(word(0)?);
    let weight = i64::from(word(2)? as i16);
    let sign = word(4)?;
    let dscale = usize::from(word(6)?);
    match sign {
        0x0000 | 0x4000 => {}
        0xC000 => return Ok("NaN".into()),
        0xD000 => return Ok("Infinity".into()),
        0xF000 => return Ok("-Infinity".into()),
        _ => return Err("invalid numeric sign".into()),
    }
    let mut digits = Vec::with_capacity(ndigits);
    for i in 0..ndigits {
        let d = word(8 + 2 * i)?;
        if d > 9999 {
            return Err("invalid numeric digit".into());
        }
        digits.push(d);
    }
    if dscale > 1000 || weight.abs() > 10_000 {
        return Err("numeric out of range".into());
    }
    let group = |i: i64| -> u16 {
        usize::try_from(i)
            .ok()
            .and_then(|i| digits.get(i).copied())
            .unwrap_or(0)
    };
    let mut out = String::new();
    if sign == 0x4000 {
        out.push('-');
    }
    if weight < 0 {
        out.push('0');
    } else {
        for g in 0..=weight {
            if g == 0 {
                out.push_str(&group(0).to_string());
            } else {
                out.push_str(&format!("{:04}", group(g)));
            }
        }
    }
    if dscale > 0 {
        out.push('.');
        let mut frac = String::new();
        let mut g = weight + 1;
        while frac.len() < dscale {
            frac.push_str(&format!("{:04}", group(g)));
            g += 1;
        }
        frac.truncate(dscale);
        out.push_str(&frac);
    }
    Ok(out)
}

fn le_uint(bytes: &[u8]) -> Result<u64, String> {
    if bytes.is_empty() || bytes.len() > 8 {
        return Err(wrong_length("integer", bytes.len()));
    }
    let mut buf = [0u8; 8];
    buf[..bytes.len()].copy_from_slice(bytes);
    Ok(u64::from_le_bytes(buf))
}

fn le_int(bytes: &[u8]) -> Result<i64, String> {
    let unsigned = le_uint(bytes)?;
    let shift = 64 - 8 * bytes.len() as u32;
    // Sign-extend from the value's own width.
    Ok(((unsigned << shift) as i64) >> shift)
}

/// MySQL binary-protocol date/datetime: a length byte, then y(2) m d
/// [h mi s [micros(4)]]. Length 0 is the zero date.
fn mysql_datetime(bytes: &[u8], with_time: bool) -> Result<Value, String> {
    let Some((&len, rest)) = bytes.split_first() else {
        return Err("empty date value".into());
    };
    if len == 0 {
        return Ok(Value::Null);
    }
    if rest.len() < 4 || rest.len() < usize::from(len) {
        return Err(wrong_length("date", rest.len()));
    }
    let year = u16::from_le_bytes([rest[0], rest[1]]);
    let (month, day) = (rest[2], rest[3]);
    if year == 0 || month == 0 || day == 0 {
        // MySQL's zero-in-date values have no calendar meaning.
        return Ok(Value::Null);
    }
    let date = NaiveDate::from_ymd_opt(i32::from(year), u32::from(month), u32::from(day))
        .ok_or_else(|| format!("invalid date {year}-{month}-{day}"))?;
    if !with_time {
        return Ok(Value::String(format_date(date)));
    }
    let (h, mi, s) = if len >= 7 {
        (rest[4], rest[5], rest[6])
    } else {
        (0, 0, 0)
    };
    let micros = if len >= 11 {
        u32::from_le_bytes([rest[7], rest[8], rest[9], rest[10]])
    } else {
        0
    };
    let t = date
        .and_hms_micro_opt(u32::from(h), u32::from(mi), u32::from(s), micros)
        .ok_or_else(|| format!("invalid time {h}:{mi}:{s}.{micros}"))?;
    Ok(Value::String(format_timestamp(t)))
}

/// MySQL binary-protocol time: length, negative(1), days(4), h, mi, s, [micros(4)].
fn mysql_time(bytes: &[u8]) -> Result<Value, String> {
    let Some((&len, rest)) = bytes.split_first() else {
        return Err("empty time value".into());
    };
    if len == 0 {
        return Ok(Value::String("00:00:00".into()));
    }
    if rest.len() < 8 {
        return Err(wrong_length("time", rest.len()));
    }
    let negative = rest[0] != 0;
    let days = i64::from(u32::from_le_bytes([rest[1], rest[2], rest[3], rest[4]]));
    let (h, mi, s) = (i64::from(rest[5]), i64::from(rest[6]), i64::from(rest[7]));
    let micros = if rest.len() >= 12 {
        i64::from(u32::from_le_bytes([rest[8], rest[9], rest[10], rest[11]]))
    } else {
        0
    };
    let total = ((days * 24 + h) * 3600 + mi * 60 + s) * 1_000_000 + micros;
    Ok(Value::String(format_micros_of_day(if negative {
        -total
    } else {
        total
    })))
}

fn mysql_value(kind: Kind, bytes: &[u8], type_name: &str) -> Result<Value, String> {
    match kind {
        Kind::Int => le_int(bytes).map(|v| Value::Number(v.into())),
        Kind::UInt => le_uint(bytes).map(|v| Value::Number(v.into())),
        Kind::Bits => {
            if bytes.len() > 8 {
                return Ok(Value::String(hex(bytes)));
            }
            Ok(Value::Number(
                bytes
                    .iter()
                    .fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
                    .into(),
            ))
        }
        Kind::Float => match bytes.len() {
            4 => Ok(float(f64::from(f32::from_le_bytes(
                bytes.try_into().map_err(|_| wrong_length("float", 4))?,
            )))),
            8 => Ok(float(f64::from_le_bytes(
                bytes.try_into().map_err(|_| wrong_length("double", 8))?,
            ))),
            n => Err(wrong_length("float", n)),
        },
        Kind::Decimal => std::str::from_utf8(bytes)
            .map(decimal)
            .map_err(|_| "decimal is not ASCII".to_owned()),
        Kind::Text => text(bytes),
        Kind::Json => json(bytes),
        Kind::Date => mysql_datetime(bytes, false),
        Kind::Timestamp | Kind::TimestampTz => mysql_datetime(bytes, true),
        Kind::Time => mysql_time(bytes),
        Kind::Bytes => Ok(Value::String(hex(bytes))),
        Kind::Other | Kind::Bool | Kind::Uuid | Kind::Dynamic => {
            text(bytes).map_err(|_| unreadable(type_name))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric(ndigits: u16, weight: i16, sign: u16, dscale: u16, digits: &[u16]) -> Vec<u8> {
        let mut b = Vec::new();
        for w in [ndigits, weight as u16, sign, dscale] {
            b.extend_from_slice(&w.to_be_bytes());
        }
        for d in digits {
            b.extend_from_slice(&d.to_be_bytes());
        }
        b
    }

    #[test]
    fn numerics_render_exactly() {
        assert_eq!(
            pg_numeric(&numeric(2, 0, 0, 2, &[12, 5000])).unwrap(),
            "12.50"
        );
        assert_eq!(
            pg_numeric(&numeric(2, 1, 0x4000, 0, &[1, 2])).unwrap(),
            "-10002"
        );
        assert_eq!(pg_numeric(&numeric(1, -1, 0, 5, &[12])).unwrap(), "0.00120");
        assert_eq!(
            pg_numeric(&numeric(1, -2, 0, 6, &[500])).unwrap(),
            "0.000005"
        );
        assert_eq!(pg_numeric(&numeric(1, -1, 0, 6, &[5])).unwrap(), "0.000500");
        assert_eq!(pg_numeric(&numeric(0, 0, 0, 0, &[])).unwrap(), "0");
        assert_eq!(pg_numeric(&numeric(1, 2, 0, 0, &[7])).unwrap(), "700000000");
        assert_eq!(pg_numeric(&numeric(0, 0, 0xC000, 0, &[])).unwrap(), "NaN");
        assert!(pg_numeric(&[0, 3, 0]).is_err());
        assert!(pg_numeric(&numeric(3, 0, 0, 0, &[1])).is_err());
    }

    #[test]
    fn decimals_keep_every_digit() {
        assert_eq!(decimal("12.50"), serde_json::json!(12.5));
        assert_eq!(decimal("100.00"), serde_json::json!(100));
        assert_eq!(decimal("-0.00"), serde_json::json!(0));
        assert_eq!(
            decimal("12345678901234567890.123"),
            serde_json::json!("12345678901234567890.123")
        );
        assert_eq!(decimal("0.1"), serde_json::json!(0.1));
    }

    #[test]
    fn floats_integral_as_integers() {
        assert_eq!(
            float(13_812_345_678.0),
            serde_json::json!(13_812_345_678_i64)
        );
        assert_eq!(float(1.5), serde_json::json!(1.5));
        assert_eq!(float(f64::NAN), serde_json::json!("NaN"));
    }

    #[test]
    fn mysql_wire_values() {
        assert_eq!(le_int(&[0xff]).unwrap(), -1);
        assert_eq!(le_int(&[0x00, 0x80]).unwrap(), -32768);
        assert_eq!(le_uint(&[0xff, 0xff]).unwrap(), 65535);
        assert!(le_int(&[]).is_err());
        let dt = [11, 0xe8, 0x07, 3, 9, 13, 5, 7, 0x40, 0xe2, 0x01, 0x00];
        assert_eq!(
            mysql_datetime(&dt, true).unwrap(),
            serde_json::json!("2024-03-09 13:05:07.123456")
        );
        assert_eq!(
            mysql_datetime(&[4, 0xe8, 0x07, 3, 9], true).unwrap(),
            serde_json::json!("2024-03-09 00:00:00")
        );
        assert_eq!(mysql_datetime(&[0], true).unwrap(), Value::Null);
        assert!(mysql_datetime(&[7, 1], true).is_err());
        assert_eq!(
            mysql_time(&[8, 1, 1, 0, 0, 0, 2, 3, 4]).unwrap(),
            serde_json::json!("-26:03:04")
        );
    }

    #[test]
    fn pg_temporal_values() {
        let day = 8_839_i32; // 2024-03-14
        assert_eq!(
            pg_value(Kind::Date, &day.to_be_bytes()).unwrap(),
            serde_json::json!("2024-03-14")
        );
        let micros: i64 = 763_650_000_000_000 + 500;
        assert_eq!(
            pg_value(Kind::Timestamp, &micros.to_be_bytes()).unwrap(),
            serde_json::json!("2024-03-13 13:00:00.000500")
        );
        assert!(pg_value(Kind::Timestamp, &[1, 2, 3]).is_err());
    }
}
