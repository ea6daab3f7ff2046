//! Phone numbers: a shared phone is good matching evidence, but only once
//! `+86 138-1234-5678`, `13812345678` and `8613812345678` are one value.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::text::{half_width_char, is_blank};

/// A phone number as recorded. Serializes as its [`Display`](fmt::Display)
/// string, which parses back to the same value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum Phone {
    /// Eleven digits, `1[3-9]…`.
    Mobile(String),
    /// Fixed line with its area code (`010`, `02x`, or four digits like
    /// `0574`) and a 7–8 digit local number.
    Landline {
        area_code: String,
        number: String,
        extension: Option<String>,
    },
    /// Neither: kept as typed (blank-trimmed) so nothing is lost.
    Unrecognized(String),
}

impl Phone {
    /// Parses one phone number.
    pub fn parse(raw: &str) -> Phone {
        Phone::parse_with_area(raw, None)
    }

    /// Like [`Phone::parse`], but a bare 7–8 digit local number is taken as a
    /// landline in `default_area` (the district's own area code), since
    /// local systems often omit it.
    pub fn parse_with_area(raw: &str, default_area: Option<&str>) -> Phone {
        let trimmed = raw.trim_matches(is_blank);
        parse_inner(trimmed, default_area)
            .unwrap_or_else(|| Phone::Unrecognized(trimmed.to_owned()))
    }

    /// The comparison form: 11 digits for a mobile, `0574-87654321` for a
    /// landline (extension left out), the raw text otherwise.
    pub fn canonical(&self) -> String {
        match self {
            Phone::Mobile(m) => m.clone(),
            Phone::Landline {
                area_code, number, ..
            } => format!("{area_code}-{number}"),
            Phone::Unrecognized(raw) => raw.clone(),
        }
    }

    pub fn is_recognized(&self) -> bool {
        !matches!(self, Phone::Unrecognized(_))
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Phone::Mobile(m) => f.write_str(m),
            Phone::Landline {
                area_code,
                number,
                extension,
            } => {
                write!(f, "{area_code}-{number}")?;
                if let Some(ext) = extension {
                    write!(f, "转{ext}")?;
                }
                Ok(())
            }
            Phone::Unrecognized(raw) => f.write_str(raw),
        }
    }
}

impl From<String> for Phone {
    fn from(s: String) -> Phone {
        Phone::parse(&s)
    }
}

impl From<Phone> for String {
    fn from(p: Phone) -> String {
        p.to_string()
    }
}

/// Splits a field holding several phones (`138…;0574-…`, `、`, `/`, `，`,
/// or blanks between complete numbers) and parses each, dropping empty
/// pieces and duplicates.
pub fn parse_phones(raw: &str) -> Vec<Phone> {
    parse_phones_with_area(raw, None)
}

/// [`parse_phones`] with a default area code for bare local numbers.
pub fn parse_phones_with_area(raw: &str, default_area: Option<&str>) -> Vec<Phone> {
    let mut out: Vec<Phone> = Vec::new();
    let mut push = |p: Phone| {
        if !out.contains(&p) {
            out.push(p);
        }
    };
    let is_delim = |c: char| {
        matches!(
            half_width_char(c),
            ';' | ',' | '、' | '/' | '|' | '\n' | '\r' | '或' | '\\'
        )
    };
    for piece in raw.split(is_delim) {
        let piece = piece.trim_matches(is_blank);
        if piece.is_empty() {
            continue;
        }
        let phone = Phone::parse_with_area(piece, default_area);
        if !phone.is_recognized() && piece.contains(is_blank) {
            let parts: Vec<Phone> = piece
                .split(is_blank)
                .filter(|p| !p.is_empty())
                .map(|p| Phone::parse_with_area(p, default_area))
                .collect();
            if parts.len() > 1 && parts.iter().all(Phone::is_recognized) {
                parts.into_iter().for_each(&mut push);
                continue;
            }
        }
        push(phone);
    }
    out
}

const MAX_DIGITS: usize = 24;

fn split_extension(s: &str) -> (&str, Option<&str>) {
    for marker in ["转", "分机", "ext.", "ext", "EXT.", "EXT", "Ext.", "Ext"] {
        if let Some(i) = s.find(marker) {
            return (&s[..i], Some(&s[i + marker.len()..]));
        }
    }
    (s, None)
}

fn is_area_code(a: &str) -> bool {
    let b = a.as_bytes();
    match b.len() {
        3 => b[0] == b'0' && (b[1] == b'2' || (b[1] == b'1' && b[2] == b'0')),
        4 => b[0] == b'0' && (b'3'..=b'9').contains(&b[1]),
        _ => false,
    }
}

fn is_mobile(d: &str) -> bool {
    let b = d.as_bytes();
    b.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1])
}

fn is_local_number(n: &str) -> bool {
    (7..=8).contains(&n.len())
        && n.as_bytes()
            .first()
            .is_some_and(|b| (b'2'..=b'9').contains(b))
}

fn parse_inner(s: &str, default_area: Option<&str>) -> Option<Phone> {
    let (main, ext) = split_extension(s);
    let extension = match ext {
        Some(e) => {
            let digits: String = e
                .chars()
                .map(half_width_char)
                .filter(|c| !is_blank(*c) && !matches!(c, '-' | ':' | '：'))
                .collect();
            if digits.is_empty() || digits.len() > 6 || !digits.bytes().all(|b| b.is_ascii_digit())
            {
                return None;
            }
            Some(digits)
        }
        None => None,
    };

    // Digits, and where each separated group of digits ends.
    let mut digits = String::with_capacity(16);
    let mut bounds: Vec<usize> = Vec::with_capacity(4);
    let mut plus = false;
    for c in main.chars().map(half_width_char) {
        match c {
            '0'..='9' => {
                if digits.len() >= MAX_DIGITS {
                    return None;
                }
                digits.push(c);
            }
            '+' if digits.is_empty() && !plus => plus = true,
            ' ' | '-' | '(' | ')' | '.' | '_' | '\u{2010}'..='\u{2015}' => {
                if bounds.last() != Some(&digits.len()) && !digits.is_empty() {
                    bounds.push(digits.len());
                }
            }
            c if is_blank(c) => {
                if bounds.last() != Some(&digits.len()) && !digits.is_empty() {
                    bounds.push(digits.len());
                }
            }
            _ => return None,
        }
    }

    // Country prefix.
    let mut strip = 0;
    let mut international = false;
    if plus {
        if !digits.starts_with("86") {
            return None;
        }
        strip = 2;
        international = true;
    } else if digits.starts_with("0086") {
        strip = 4;
        international = true;
    } else if digits.len() == 13 && digits.starts_with("861") {
        strip = 2;
    }
    let mut d = digits.get(strip..)?.to_owned();
    bounds.retain(|&b| b > strip && b < digits.len());
    bounds.iter_mut().for_each(|b| *b -= strip);
    if international && !d.starts_with('0') && !is_mobile(&d) {
        // +86 574 87654321: the trunk 0 is dropped in international form.
        d.insert(0, '0');
        bounds.iter_mut().for_each(|b| *b += 1);
    }

    if is_mobile(&d) {
        return Some(Phone::Mobile(d));
    }

    if d.starts_with('0') {
        let area_len = match bounds.first() {
            Some(&b) if is_area_code(&d[..b]) => b,
            _ if d.starts_with("010") || d.starts_with("02") => 3,
            _ => 4,
        };
        let area = d.get(..area_len)?;
        if !is_area_code(area) {
            return None;
        }
        let rest = &d[area_len..];
        // 0574-87654321-123: a trailing short group is an extension.
        let split = bounds
            .iter()
            .map(|&b| b - area_len.min(b))
            .find(|&p| (7..=8).contains(&p) && (1..=6).contains(&(rest.len().saturating_sub(p))));
        let (number, extension) = match (split, extension) {
            (Some(p), None) => (&rest[..p], Some(rest[p..].to_owned())),
            (_, ext) => (rest, ext),
        };
        if !is_local_number(number) {
            return None;
        }
        return Some(Phone::Landline {
            area_code: area.to_owned(),
            number: number.to_owned(),
            extension,
        });
    }

    if let Some(area) = default_area {
        let area: String = area.chars().filter(char::is_ascii_digit).collect();
        if is_area_code(&area) && is_local_number(&d) && !international {
            return Some(Phone::Landline {
                area_code: area,
                number: d,
                extension,
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn mobile(s: &str) -> Phone {
        Phone::Mobile(s.into())
    }

    fn landline(a: &str, n: &str, e: Option<&str>) -> Phone {
        Phone::Landline {
            area_code: a.into(),
            number: n.into(),
            extension: e.map(Into::into),
        }
    }

    #[test]
    fn mobiles_in_all_spellings() {
        for raw in [
            "13812345678",
            "138 1234 5678",
            "138-1234-5678",
            "+86 138 1234 5678",
            "+8613812345678",
            "008613812345678",
            "8613812345678",
            "(+86)138.1234.5678",
            "１３８１２３４５６７８",
            "\u{3000}138１２３４５６７８ ",
        ] {
            assert_eq!(Phone::parse(raw), mobile("13812345678"), "{raw}");
        }
        assert_eq!(Phone::parse("19912345678"), mobile("19912345678"));
    }

    #[test]
    fn landlines() {
        assert_eq!(
            Phone::parse("0574-87654321"),
            landline("0574", "87654321", None)
        );
        assert_eq!(
            Phone::parse("057487654321"),
            landline("0574", "87654321", None)
        );
        assert_eq!(
            Phone::parse("(0574)87654321"),
            landline("0574", "87654321", None)
        );
        assert_eq!(
            Phone::parse("０５７４－８７６５４３２１"),
            landline("0574", "87654321", None)
        );
        assert_eq!(
            Phone::parse("010-62345678"),
            landline("010", "62345678", None)
        );
        assert_eq!(
            Phone::parse("01062345678"),
            landline("010", "62345678", None)
        );
        assert_eq!(
            Phone::parse("021 6123 4567"),
            landline("021", "61234567", None)
        );
        assert_eq!(
            Phone::parse("+86 574 87654321"),
            landline("0574", "87654321", None)
        );
        assert_eq!(
            Phone::parse("0086-10-62345678"),
            landline("010", "62345678", None)
        );
        assert_eq!(
            Phone::parse("0931-8123456"),
            landline("0931", "8123456", None)
        );
    }

    #[test]
    fn extensions() {
        let want = landline("0574", "87654321", Some("123"));
        assert_eq!(Phone::parse("0574-87654321转123"), want);
        assert_eq!(Phone::parse("0574-87654321-123"), want);
        assert_eq!(Phone::parse("0574-87654321 ext. 123"), want);
        assert_eq!(Phone::parse("0574 87654321 分机 123"), want);
        assert_eq!(want.canonical(), "0574-87654321");
        assert_eq!(want.to_string(), "0574-87654321转123");
    }

    #[test]
    fn unrecognized_is_kept() {
        for raw in [
            "12345",
            "无",
            "138123456789",
            "0574-1234",
            "+1 415 555 0100",
            "114",
            "00000000000",
        ] {
            assert_eq!(Phone::parse(raw), Phone::Unrecognized(raw.into()), "{raw}");
        }
        assert_eq!(Phone::parse(" 12345 "), Phone::Unrecognized("12345".into()));
        // A bare local number is only a landline with a default area code.
        assert_eq!(
            Phone::parse("87654321"),
            Phone::Unrecognized("87654321".into())
        );
        assert_eq!(
            Phone::parse_with_area("87654321", Some("0574")),
            landline("0574", "87654321", None)
        );
    }

    #[test]
    fn canonical_forms() {
        assert_eq!(Phone::parse("+86 138-1234-5678").canonical(), "13812345678");
        assert_eq!(Phone::parse("(0574)87654321").canonical(), "0574-87654321");
    }

    #[test]
    fn several_phones_in_one_field() {
        assert_eq!(
            parse_phones("13812345678;0574-87654321"),
            [mobile("13812345678"), landline("0574", "87654321", None)]
        );
        assert_eq!(
            parse_phones("13812345678、13987654321，0574-87654321/ 13812345678"),
            [
                mobile("13812345678"),
                mobile("13987654321"),
                landline("0574", "87654321", None)
            ]
        );
        assert_eq!(
            parse_phones("13812345678 13987654321"),
            [mobile("13812345678"), mobile("13987654321")]
        );
        assert_eq!(
            parse_phones("0574 87654321"),
            [landline("0574", "87654321", None)]
        );
        assert_eq!(parse_phones(" ; ；"), []);
        assert_eq!(parse_phones("无"), [Phone::Unrecognized("无".into())]);
    }

    #[test]
    fn serde_round_trip() {
        for p in [
            mobile("13812345678"),
            landline("0574", "87654321", None),
            landline("010", "62345678", Some("8")),
            Phone::Unrecognized("打不通".into()),
        ] {
            let json = serde_json::to_string(&p).unwrap();
            assert_eq!(serde_json::from_str::<Phone>(&json).unwrap(), p, "{json}");
        }
        assert_eq!(
            serde_json::to_string(&mobile("13812345678")).unwrap(),
            "\"13812345678\""
        );
    }

    proptest! {
        #[test]
        fn never_panics_and_display_reparses(
            s in prop_oneof![
                "\\PC*",
                "[0-9+\\-() ]{0,20}",
                "[0-9０-９＋－（） 转ext、;/]{0,24}",
            ]
        ) {
            let p = Phone::parse(&s);
            prop_assert_eq!(Phone::parse(&p.to_string()), p);
            let _ = parse_phones(&s);
            let _ = parse_phones_with_area(&s, Some("0574"));
        }
    }
}
