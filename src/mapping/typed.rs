//! The typed end of a transform chain: which model normalizer turns the
//! text into a canonical value, which normalizers fit which field, and the
//! few scalar parsers (`bool`, `integer`, `decimal`) the model has no type
//! for. Problem wording lives here so every field reports alike.

use crate::model::text::{compact, is_blank};
use crate::model::{DateError, NameProblem};

/// A typed normalizer named in a transform chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Typed {
    IdNumber,
    Name,
    Sex,
    Date,
    Phone,
    Phones,
    Ethnicity,
    Relationship,
    Address,
    Bool,
    Integer,
    Decimal,
}

impl Typed {
    pub(crate) fn from_name(name: &str) -> Option<Typed> {
        Some(match name {
            "id_number" => Typed::IdNumber,
            "name" => Typed::Name,
            "sex" => Typed::Sex,
            "date" => Typed::Date,
            "phone" => Typed::Phone,
            "phones" => Typed::Phones,
            "ethnicity" => Typed::Ethnicity,
            "relationship" => Typed::Relationship,
            "address" => Typed::Address,
            "bool" => Typed::Bool,
            "integer" => Typed::Integer,
            "decimal" => Typed::Decimal,
            _ => return None,
        })
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Typed::IdNumber => "id_number",
            Typed::Name => "name",
            Typed::Sex => "sex",
            Typed::Date => "date",
            Typed::Phone => "phone",
            Typed::Phones => "phones",
            Typed::Ethnicity => "ethnicity",
            Typed::Relationship => "relationship",
            Typed::Address => "address",
            Typed::Bool => "bool",
            Typed::Integer => "integer",
            Typed::Decimal => "decimal",
        }
    }
}

/// The typed normalizers a canonical field accepts; the first is its
/// natural one, applied when the chain names none. `household_id` is plain
/// text and accepts none.
pub(crate) fn accepted_by_field(field: &str) -> &'static [Typed] {
    match field {
        "id_number" => &[Typed::IdNumber],
        "name" | "former_names" => &[Typed::Name],
        "sex" => &[Typed::Sex],
        "birth_date" => &[Typed::Date],
        "ethnicity" => &[Typed::Ethnicity],
        "phones" => &[Typed::Phones, Typed::Phone],
        "registered_address" | "current_address" => &[Typed::Address],
        "relation_to_head" => &[Typed::Relationship],
        "deceased" | "moved_out" => &[Typed::Bool],
        _ => &[],
    }
}

/// Whether a bool is read from this text: generic yes/no words in Chinese
/// and English, codes 1/0, and check marks. Status words (死亡, 迁出) are
/// deliberately not accepted: their meaning depends on the column (an 人员
/// 状态 column holds both), so an operator maps them with an inline `map`.
pub(crate) fn parse_bool(raw: &str) -> Result<bool, String> {
    let s = compact(raw).to_lowercase();
    match s.as_str() {
        "1" | "true" | "t" | "y" | "yes" | "是" | "有" | "对" | "√" | "✓" | "✔" => {
            Ok(true)
        }
        "0" | "false" | "f" | "n" | "no" | "否" | "无" | "没有" | "不是" | "×" | "✗" | "✘" => {
            Ok(false)
        }
        _ => Err(format!("{raw:?} is not a yes/no value")),
    }
}

/// An integer, ignoring blanks and thousands separators (`1,234`); a
/// decimal with a zero fraction (`3.0`) is accepted, `3.5` is not.
pub(crate) fn parse_integer(raw: &str) -> Result<i64, String> {
    let s: String = compact(raw).chars().filter(|&c| c != ',').collect();
    if let Ok(i) = s.parse::<i64>() {
        return Ok(i);
    }
    let whole = s
        .strip_suffix(".0")
        .or_else(|| s.strip_suffix(".00"))
        .and_then(|w| w.parse::<i64>().ok());
    whole.ok_or_else(|| format!("{raw:?} is not an integer"))
}

/// A finite decimal number, ignoring blanks and thousands separators.
pub(crate) fn parse_decimal(raw: &str) -> Result<f64, String> {
    let s: String = compact(raw).chars().filter(|&c| c != ',').collect();
    match s.parse::<f64>() {
        Ok(f) if f.is_finite() && !s.contains(char::is_alphabetic) => Ok(f),
        _ => Err(format!("{raw:?} is not a number")),
    }
}

/// `birth_date: 2023-02-30 is not a date` rather than the parser's own
/// wording, which names its internals.
pub(crate) fn date_problem(raw: &str, e: &DateError) -> String {
    match e {
        DateError::InvalidDate { year, month, day } => {
            format!("{year:04}-{month:02}-{day:02} is not a date")
        }
        DateError::InvalidMonth { year, month } => format!("{year:04}-{month:02} is not a month"),
        DateError::Unrecognized(_) => format!("{:?} is not a date", raw.trim_matches(is_blank)),
        other => format!("{:?}: {other}", raw.trim_matches(is_blank)),
    }
}

/// `name: contains digits "张3"`; an empty name is `missing`.
pub(crate) fn name_problem(raw: &str, e: &NameProblem) -> String {
    let raw = raw.trim_matches(is_blank);
    match e {
        NameProblem::Empty => "missing".to_owned(),
        NameProblem::NoLetters => format!("no letters {raw:?}"),
        NameProblem::ContainsDigits => format!("contains digits {raw:?}"),
    }
}

/// `sex: unknown value "x"`, and alike for ethnicity and relationship.
pub(crate) fn unknown_value(raw: &str) -> String {
    format!("unknown value {:?}", raw.trim_matches(is_blank))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for name in crate::config::mapping::TRANSFORMS {
            if let Some(t) = Typed::from_name(name) {
                assert_eq!(t.name(), *name);
            }
        }
        assert_eq!(Typed::from_name("trim"), None);
    }

    #[test]
    fn bools() {
        for yes in ["1", "是", "Y", "yes", "TRUE", " √ ", "有", "１"] {
            assert_eq!(parse_bool(yes), Ok(true), "{yes}");
        }
        for no in ["0", "否", "n", "No", "false", "无", "×"] {
            assert_eq!(parse_bool(no), Ok(false), "{no}");
        }
        assert_eq!(
            parse_bool("死亡").unwrap_err(),
            r#""死亡" is not a yes/no value"#
        );
    }

    #[test]
    fn integers_and_decimals() {
        assert_eq!(parse_integer(" 12 "), Ok(12));
        assert_eq!(parse_integer("1,234"), Ok(1234));
        assert_eq!(parse_integer("-３"), Ok(-3));
        assert_eq!(parse_integer("3.0"), Ok(3));
        assert!(parse_integer("3.5").is_err());
        assert!(parse_integer("二级").is_err());
        assert_eq!(parse_decimal("1,234.5"), Ok(1234.5));
        assert!(parse_decimal("NaN").is_err());
        assert!(parse_decimal("inf").is_err());
        assert!(parse_decimal("abc").is_err());
    }

    #[test]
    fn problem_wording() {
        let e = crate::model::PartialDate::parse("2023-02-30").unwrap_err();
        assert_eq!(date_problem("2023-02-30", &e), "2023-02-30 is not a date");
        let e = crate::model::PartialDate::parse("someday").unwrap_err();
        assert_eq!(date_problem("someday", &e), r#""someday" is not a date"#);
        assert_eq!(
            name_problem("张3", &NameProblem::ContainsDigits),
            r#"contains digits "张3""#
        );
        assert_eq!(unknown_value(" x "), r#"unknown value "x""#);
    }
}
