//! GB 11643-1999 citizen identity numbers, and the other identity documents
//! a resident may be registered with.
//!
//! The identity number is the strongest matching evidence there is, so it is
//! validated strictly (area, birth date, MOD 11-2 check digit) and an invalid
//! one is kept as typed, with the reason, never "fixed": a wrong check digit
//! is exactly what the matcher's one-typo comparison needs to see.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use super::sex::Sex;
use super::text::{compact, half_width_char, is_blank};

/// Weights of the ISO 7064 MOD 11-2 checksum for the first 17 digits.
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// Check character for each remainder of the weighted sum mod 11.
const CHECK_CHARS: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];

/// Birth years accepted; there is no clock here, so the bound is generous
/// (the standard's own example, 440524188001010014, is born in 1880).
const YEARS: std::ops::RangeInclusive<i32> = 1850..=2100;

/// The ISO 7064 MOD 11-2 check character for the first 17 digits of an
/// identity number, or `None` when `first17` is not exactly 17 ASCII digits.
pub fn check_digit(first17: &str) -> Option<char> {
    let bytes = first17.as_bytes();
    if bytes.len() != 17 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let sum: u32 = bytes
        .iter()
        .zip(WEIGHTS)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    Some(CHECK_CHARS[(sum % 11) as usize])
}

/// Whether a two-digit province prefix exists in GB/T 2260 (including 71
/// Taiwan and 81/82/83 used by Hong Kong, Macao and Taiwan residence permits).
fn is_known_province(prefix: &str) -> bool {
    matches!(
        prefix,
        "11" | "12"
            | "13"
            | "14"
            | "15"
            | "21"
            | "22"
            | "23"
            | "31"
            | "32"
            | "33"
            | "34"
            | "35"
            | "36"
            | "37"
            | "41"
            | "42"
            | "43"
            | "44"
            | "45"
            | "46"
            | "50"
            | "51"
            | "52"
            | "53"
            | "54"
            | "61"
            | "62"
            | "63"
            | "64"
            | "65"
            | "71"
            | "81"
            | "82"
            | "83"
    )
}

/// Why a string is not a valid identity number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum IdNumberProblem {
    #[error("bad length: {len} characters, expected 18 (or 15)")]
    BadLength { len: usize },
    /// `position` is 1-based.
    #[error("bad character {found:?} at position {position}")]
    BadCharacter { position: usize, found: char },
    #[error("bad area code {code}")]
    BadAreaCode { code: String },
    /// `date` is the eight digits YYYYMMDD as read (19YYMMDD for 15-digit).
    #[error("bad birth date {date}")]
    BadBirthDate { date: String },
    #[error("bad check digit: expected {expected}, found {found}")]
    BadCheckDigit { expected: char, found: char },
}

/// An identity number that failed validation: the normalized text as typed
/// plus the reason. The message leaves the number out, so it can be logged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("invalid identity number: {problem}")]
pub struct InvalidIdNumber {
    pub raw: String,
    pub problem: IdNumberProblem,
}

/// A validated 18-character identity number. Only obtainable by validation
/// ([`ValidIdNumber::parse`]), so holders can rely on area, date and check
/// digit being right.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "ValidIdRepr", into = "ValidIdRepr")]
pub struct ValidIdNumber {
    number: String,
    birth_date: NaiveDate,
    upgraded_from_15: bool,
}

#[derive(Serialize, Deserialize)]
struct ValidIdRepr {
    number: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    upgraded_from_15: bool,
}

impl TryFrom<ValidIdRepr> for ValidIdNumber {
    type Error = InvalidIdNumber;
    fn try_from(r: ValidIdRepr) -> Result<Self, Self::Error> {
        let mut id = ValidIdNumber::parse(&r.number)?;
        id.upgraded_from_15 |= r.upgraded_from_15;
        Ok(id)
    }
}

impl From<ValidIdNumber> for ValidIdRepr {
    fn from(id: ValidIdNumber) -> Self {
        ValidIdRepr {
            number: id.number,
            upgraded_from_15: id.upgraded_from_15,
        }
    }
}

/// Strips blanks and separators, folds width, upper-cases `x` (and the `×`
/// that Chinese input methods produce for it). Does not change digits.
pub fn normalize_id_number(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        if is_blank(c) {
            continue;
        }
        match half_width_char(c) {
            '-' | '_' | '.' | '/' | '\'' | '"' | '`' | ',' | '、' | '\u{2010}'..='\u{2015}' => {}
            'x' | 'X' | '×' => out.push('X'),
            c => out.push(c),
        }
    }
    out
}

fn digits_value(s: &str) -> u32 {
    s.bytes()
        .fold(0, |acc, b| acc * 10 + u32::from(b.wrapping_sub(b'0')))
}

fn birth_date(yyyymmdd: &str) -> Option<NaiveDate> {
    let year = i32::try_from(digits_value(yyyymmdd.get(0..4)?)).ok()?;
    let month = digits_value(yyyymmdd.get(4..6)?);
    let day = digits_value(yyyymmdd.get(6..8)?);
    if !YEARS.contains(&year) {
        return None;
    }
    NaiveDate::from_ymd_opt(year, month, day)
}

impl ValidIdNumber {
    /// Normalizes and validates an 18-digit number, or a 15-digit one which
    /// is upgraded to 18 (born 19YY, check digit computed).
    pub fn parse(raw: &str) -> Result<ValidIdNumber, InvalidIdNumber> {
        let n = normalize_id_number(raw);
        match validate(&n) {
            Ok(id) => Ok(id),
            Err(problem) => Err(InvalidIdNumber { raw: n, problem }),
        }
    }

    /// The 18-character number.
    pub fn as_str(&self) -> &str {
        &self.number
    }

    pub fn birth_date(&self) -> NaiveDate {
        self.birth_date
    }

    /// From the 17th digit: odd is male, even female.
    pub fn sex(&self) -> Sex {
        match self.number.as_bytes().get(16) {
            // b'0' is even, so the byte's parity is the digit's.
            Some(d) if d % 2 == 1 => Sex::Male,
            _ => Sex::Female,
        }
    }

    /// The six-digit GB/T 2260 division where the number was issued.
    pub fn area_code(&self) -> &str {
        self.number.get(0..6).unwrap_or_default()
    }

    /// The first 17 characters: a blocking key that survives a wrong check
    /// digit.
    pub fn without_check_digit(&self) -> &str {
        self.number.get(0..17).unwrap_or_default()
    }

    pub fn was_upgraded_from_15(&self) -> bool {
        self.upgraded_from_15
    }

    /// The old 15-digit form of this number (only for people born 1900–1999),
    /// to compare against legacy records that were never upgraded.
    pub fn to_15(&self) -> Option<String> {
        if self.birth_date.year() / 100 != 19 {
            return None;
        }
        let n = &self.number;
        Some(format!("{}{}", n.get(0..6)?, n.get(8..17)?))
    }
}

fn validate(n: &str) -> Result<ValidIdNumber, IdNumberProblem> {
    let len = n.chars().count();
    if len != 18 && len != 15 {
        return Err(IdNumberProblem::BadLength { len });
    }
    for (i, c) in n.chars().enumerate() {
        let ok = c.is_ascii_digit() || (len == 18 && i == 17 && c == 'X');
        if !ok {
            return Err(IdNumberProblem::BadCharacter {
                position: i + 1,
                found: c,
            });
        }
    }
    // From here on `n` is ASCII, so byte slicing is char slicing.
    let area = &n[0..6];
    if !is_known_province(&n[0..2]) {
        return Err(IdNumberProblem::BadAreaCode {
            code: area.to_owned(),
        });
    }
    let (number, upgraded) = if len == 15 {
        let first17 = format!("{area}19{}", &n[6..15]);
        let check = check_digit(&first17).unwrap_or('?');
        (format!("{first17}{check}"), true)
    } else {
        (n.to_owned(), false)
    };
    let date = &number[6..14];
    let Some(birth_date) = birth_date(date) else {
        return Err(IdNumberProblem::BadBirthDate {
            date: date.to_owned(),
        });
    };
    if !upgraded {
        let expected = check_digit(&number[..17]).unwrap_or('?');
        let found = char::from(number.as_bytes()[17]);
        if expected != found {
            return Err(IdNumberProblem::BadCheckDigit { expected, found });
        }
    }
    Ok(ValidIdNumber {
        number,
        birth_date,
        upgraded_from_15: upgraded,
    })
}

impl FromStr for ValidIdNumber {
    type Err = InvalidIdNumber;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ValidIdNumber::parse(s)
    }
}

impl fmt::Display for ValidIdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.number)
    }
}

/// The kind of identity document a number belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentType {
    /// 居民身份证 (also the 港澳台居民居住证, which uses the same number format).
    ResidentIdCard,
    Passport,
    /// 港澳居民来往内地通行证 (回乡证).
    HongKongMacaoPermit,
    /// 台湾居民来往大陆通行证 (台胞证).
    TaiwanPermit,
    /// 外国人永久居留身份证.
    ForeignPermanentResidence,
    Other,
}

impl DocumentType {
    /// Reads the labels and codes department systems use; anything else is
    /// `Other`, and an empty label means the resident identity card (the
    /// usual case for a column that just says 证件号码).
    pub fn parse_label(label: &str) -> DocumentType {
        let l = compact(label).to_lowercase();
        match l.as_str() {
            ""
            | "01"
            | "1"
            | "111"
            | "居民身份证"
            | "身份证"
            | "身份证号"
            | "身份证号码"
            | "居民身份证号码"
            | "二代身份证"
            | "第二代居民身份证"
            | "临时身份证"
            | "临时居民身份证"
            | "港澳台居民居住证"
            | "港澳居民居住证"
            | "台湾居民居住证"
            | "idcard"
            | "id"
            | "residentid"
            | "resident_id_card" => DocumentType::ResidentIdCard,
            // 03/06/07: the identity-document codes of the health sector's
            // data standard (WS 364, CV02.01.101), used by health systems.
            "护照" | "中国护照" | "外国护照" | "普通护照" | "passport" | "414" | "03" | "3" => {
                DocumentType::Passport
            }
            "港澳居民来往内地通行证"
            | "港澳居民往来内地通行证"
            | "回乡证"
            | "港澳同胞回乡证"
            | "516"
            | "06"
            | "hong_kong_macao_permit" => DocumentType::HongKongMacaoPermit,
            "台湾居民来往大陆通行证"
            | "台湾居民往来大陆通行证"
            | "台胞证"
            | "511"
            | "07"
            | "taiwan_permit" => DocumentType::TaiwanPermit,
            "外国人永久居留身份证"
            | "外国人永久居留证"
            | "永久居留证"
            | "永久居留身份证"
            | "553"
            | "foreign_permanent_residence" => DocumentType::ForeignPermanentResidence,
            _ => DocumentType::Other,
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            DocumentType::ResidentIdCard => "居民身份证",
            DocumentType::Passport => "护照",
            DocumentType::HongKongMacaoPermit => "港澳居民来往内地通行证",
            DocumentType::TaiwanPermit => "台湾居民来往大陆通行证",
            DocumentType::ForeignPermanentResidence => "外国人永久居留身份证",
            DocumentType::Other => "其他",
        }
    }
}

/// An identity document as recorded: a valid resident identity number, an
/// invalid one kept with its problem, or another document type's number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum IdDocument {
    #[serde(rename = "resident_id")]
    Valid(ValidIdNumber),
    #[serde(rename = "invalid_resident_id")]
    Invalid(InvalidIdNumber),
    #[serde(rename = "other_document")]
    Other {
        doc_type: DocumentType,
        number: String,
    },
}

impl IdDocument {
    /// The single entry point for a (document type, number) pair. With no
    /// or an empty type the number is taken as a resident identity number.
    /// A number that fully validates as a resident identity number is one,
    /// whatever the type column says (type columns are often wrong; a
    /// passport number never passes area, date and check digit).
    pub fn parse(doc_type: Option<&str>, number: &str) -> IdDocument {
        let doc_type = doc_type.map_or(DocumentType::ResidentIdCard, DocumentType::parse_label);
        let parsed = ValidIdNumber::parse(number);
        if doc_type == DocumentType::ResidentIdCard {
            return match parsed {
                Ok(id) => IdDocument::Valid(id),
                Err(invalid) => IdDocument::Invalid(invalid),
            };
        }
        if let Ok(id) = parsed {
            if !id.upgraded_from_15 {
                return IdDocument::Valid(id);
            }
        }
        IdDocument::Other {
            doc_type,
            number: compact(number).to_uppercase(),
        }
    }

    /// The validated number, if this is one.
    pub fn valid(&self) -> Option<&ValidIdNumber> {
        match self {
            IdDocument::Valid(id) => Some(id),
            _ => None,
        }
    }

    pub fn doc_type(&self) -> DocumentType {
        match self {
            IdDocument::Valid(_) | IdDocument::Invalid(_) => DocumentType::ResidentIdCard,
            IdDocument::Other { doc_type, .. } => *doc_type,
        }
    }

    /// The number as stored: canonical when valid, normalized text otherwise.
    pub fn number(&self) -> &str {
        match self {
            IdDocument::Valid(id) => id.as_str(),
            IdDocument::Invalid(bad) => &bad.raw,
            IdDocument::Other { number, .. } => number,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn valid(s: &str) -> ValidIdNumber {
        ValidIdNumber::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn problem(s: &str) -> IdNumberProblem {
        ValidIdNumber::parse(s).expect_err(s).problem
    }

    #[test]
    fn check_digit_standard_examples() {
        assert_eq!(check_digit("11010519491231002"), Some('X'));
        assert_eq!(check_digit("44052418800101001"), Some('4'));
        assert_eq!(check_digit("1101051949123100"), None);
        assert_eq!(check_digit("1101051949123100A"), None);
    }

    #[test]
    fn valid_18_digit_numbers() {
        let id = valid("11010519491231002X");
        assert_eq!(id.as_str(), "11010519491231002X");
        assert_eq!(
            id.birth_date(),
            NaiveDate::from_ymd_opt(1949, 12, 31).unwrap()
        );
        assert_eq!(id.sex(), Sex::Female);
        assert_eq!(id.area_code(), "110105");
        assert_eq!(id.without_check_digit(), "11010519491231002");
        assert!(!id.was_upgraded_from_15());
        let id = valid("440524188001010014");
        assert_eq!(
            id.birth_date(),
            NaiveDate::from_ymd_opt(1880, 1, 1).unwrap()
        );
        assert_eq!(id.sex(), Sex::Male);
    }

    #[test]
    fn upgrades_15_to_18() {
        let id = valid("110105491231002");
        assert_eq!(id.as_str(), "11010519491231002X");
        assert!(id.was_upgraded_from_15());
        assert_eq!(id.to_15().as_deref(), Some("110105491231002"));
        assert_eq!(id.sex(), Sex::Female);
        assert_eq!(
            problem("110105490231002"),
            IdNumberProblem::BadBirthDate {
                date: "19490231".into()
            }
        );
    }

    #[test]
    fn normalizes_width_case_and_spaces() {
        assert_eq!(
            valid("１１０１０５１９４９１２３１００２Ｘ").as_str(),
            "11010519491231002X"
        );
        assert_eq!(valid("11010519491231002x").as_str(), "11010519491231002X");
        assert_eq!(valid("110105 19491231 002x").as_str(), "11010519491231002X");
        assert_eq!(
            valid("\u{3000}110105-19491231-002×\t").as_str(),
            "11010519491231002X"
        );
        assert_eq!(valid("'11010519491231002X").as_str(), "11010519491231002X");
    }

    #[test]
    fn one_digit_typo_is_bad_check_digit() {
        let err = ValidIdNumber::parse("11010519491231003X").unwrap_err();
        assert_eq!(err.raw, "11010519491231003X");
        assert_eq!(
            err.problem,
            IdNumberProblem::BadCheckDigit {
                expected: '8',
                found: 'X'
            }
        );
        assert_eq!(
            problem("110105194912310023"),
            IdNumberProblem::BadCheckDigit {
                expected: 'X',
                found: '3'
            }
        );
        assert_eq!(
            problem("110105194912310023").to_string(),
            "bad check digit: expected X, found 3"
        );
    }

    #[test]
    fn bad_dates() {
        let mut n = String::from("11010519490230002");
        n.push(check_digit(&n).unwrap());
        assert_eq!(
            problem(&n),
            IdNumberProblem::BadBirthDate {
                date: "19490230".into()
            }
        );
        let mut n = String::from("11010518490101001");
        n.push(check_digit(&n).unwrap());
        assert!(matches!(problem(&n), IdNumberProblem::BadBirthDate { .. }));
        let mut n = String::from("11010519491301002");
        n.push(check_digit(&n).unwrap());
        assert!(matches!(problem(&n), IdNumberProblem::BadBirthDate { .. }));
    }

    #[test]
    fn bad_area_codes() {
        for first17 in [
            "00000019491231002",
            "99010519491231002",
            "10010519491231002",
            "72010519491231002",
        ] {
            let n = format!("{first17}{}", check_digit(first17).unwrap());
            assert!(
                matches!(problem(&n), IdNumberProblem::BadAreaCode { .. }),
                "{n}"
            );
        }
        // Hong Kong / Macao / Taiwan residence permits use 81/82/83.
        for first17 in [
            "81000019900101001",
            "82000019900101001",
            "83000019900101001",
        ] {
            let n = format!("{first17}{}", check_digit(first17).unwrap());
            assert_eq!(valid(&n).area_code(), &first17[..6]);
        }
    }

    #[test]
    fn bad_length_and_characters() {
        assert_eq!(problem(""), IdNumberProblem::BadLength { len: 0 });
        assert_eq!(
            problem("1101051949123100"),
            IdNumberProblem::BadLength { len: 16 }
        );
        assert_eq!(
            problem("1101051949123100X2"),
            IdNumberProblem::BadCharacter {
                position: 17,
                found: 'X'
            }
        );
        assert_eq!(
            problem("11010519491231002Y"),
            IdNumberProblem::BadCharacter {
                position: 18,
                found: 'Y'
            }
        );
        assert_eq!(
            problem("11010549123100X"),
            IdNumberProblem::BadCharacter {
                position: 15,
                found: 'X'
            }
        );
        assert_eq!(
            problem("张10105194912310021"),
            IdNumberProblem::BadCharacter {
                position: 1,
                found: '张'
            }
        );
        // Excel scientific notation cannot be recovered.
        assert!(ValidIdNumber::parse("1.10105E+17").is_err());
    }

    #[test]
    fn document_types() {
        for (label, t) in [
            ("居民身份证", DocumentType::ResidentIdCard),
            ("身份证", DocumentType::ResidentIdCard),
            ("01", DocumentType::ResidentIdCard),
            ("护照", DocumentType::Passport),
            ("PASSPORT", DocumentType::Passport),
            ("港澳居民来往内地通行证", DocumentType::HongKongMacaoPermit),
            ("回乡证", DocumentType::HongKongMacaoPermit),
            ("台湾居民来往大陆通行证", DocumentType::TaiwanPermit),
            ("台胞证", DocumentType::TaiwanPermit),
            (
                "外国人永久居留身份证",
                DocumentType::ForeignPermanentResidence,
            ),
            ("永久居留证", DocumentType::ForeignPermanentResidence),
            ("军官证", DocumentType::Other),
        ] {
            assert_eq!(DocumentType::parse_label(label), t, "{label}");
        }
    }

    #[test]
    fn id_document_entry_point() {
        assert!(matches!(
            IdDocument::parse(None, "11010519491231002x"),
            IdDocument::Valid(_)
        ));
        assert!(matches!(
            IdDocument::parse(Some("身份证"), "110105194912310023"),
            IdDocument::Invalid(InvalidIdNumber {
                problem: IdNumberProblem::BadCheckDigit { .. },
                ..
            })
        ));
        let doc = IdDocument::parse(Some("护照"), " ｅ１２３４５６７８ ");
        assert_eq!(
            doc,
            IdDocument::Other {
                doc_type: DocumentType::Passport,
                number: "E12345678".into()
            }
        );
        assert_eq!(doc.number(), "E12345678");
        // Wrong type column, but the number is unmistakably a resident id.
        let first17 = "83000019900101001";
        let n = format!("{first17}{}", check_digit(first17).unwrap());
        assert!(IdDocument::parse(Some("台胞证"), &n).valid().is_some());
        // A Taiwan permit number stays what it is.
        let doc = IdDocument::parse(Some("台胞证"), "12345678");
        assert_eq!(doc.doc_type(), DocumentType::TaiwanPermit);
    }

    #[test]
    fn serde_round_trips() {
        for doc in [
            IdDocument::parse(None, "11010519491231002X"),
            IdDocument::parse(None, "110105491231002"),
            IdDocument::parse(None, "110105194912310023"),
            IdDocument::parse(None, "abc"),
            IdDocument::parse(Some("护照"), "E12345678"),
        ] {
            let json = serde_json::to_string(&doc).unwrap();
            let back: IdDocument = serde_json::from_str(&json).unwrap();
            assert_eq!(back, doc, "{json}");
        }
        let json = serde_json::to_string(&IdDocument::parse(None, "110105491231002")).unwrap();
        assert_eq!(
            json,
            r#"{"kind":"resident_id","number":"11010519491231002X","upgraded_from_15":true}"#
        );
        let json = serde_json::to_string(&IdDocument::parse(None, "110105194912310023")).unwrap();
        assert_eq!(
            json,
            r#"{"kind":"invalid_resident_id","raw":"110105194912310023","problem":{"reason":"bad_check_digit","expected":"X","found":"3"}}"#
        );
        // A tampered stored number is rejected on load.
        assert!(serde_json::from_str::<IdDocument>(
            r#"{"kind":"resident_id","number":"110105194912310023"}"#
        )
        .is_err());
    }

    proptest! {
        #[test]
        fn never_panics(
            s in prop_oneof![
                "\\PC*",
                "[0-9xX]{14,19}",
                "[0-9０-９ｘＸ \u{3000}\\-]{0,22}",
                "[0-9\u{4E00}-\u{9FFF}]{15,18}",
            ],
            t in prop::option::of("\\PC{0,6}"),
        ) {
            let _ = IdDocument::parse(t.as_deref(), &s);
            if let Ok(id) = ValidIdNumber::parse(&s) {
                prop_assert_eq!(id.as_str().len(), 18);
                prop_assert_eq!(ValidIdNumber::parse(id.as_str()).map(|i| i.number), Ok(id.number.clone()));
            }
        }

        #[test]
        fn any_valid_number_survives_a_round_trip(first17 in "(11|33|44|81)[0-9]{4}(19[0-9]{2}|20[01][0-9])(0[1-9]|1[0-2])(0[1-9]|1[0-9]|2[0-8])[0-9]{3}") {
            let n = format!("{first17}{}", check_digit(&first17).unwrap_or('?'));
            let id = ValidIdNumber::parse(&n);
            prop_assert!(id.is_ok(), "{}", n);
        }
    }
}
