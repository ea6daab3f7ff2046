//! Ethnicity per GB 3304-1991 (中国各民族名称的罗马字母拼写法和代码): systems
//! store `01`, `1`, `汉族`, `汉` or `HA` for the same thing.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::text::compact;
use super::traditional::simplify;

/// (numeric code, two-digit code, full name, letter code)
const TABLE: &[(u8, &str, &str, &str)] = &[
    (1, "01", "汉族", "HA"),
    (2, "02", "蒙古族", "MG"),
    (3, "03", "回族", "HU"),
    (4, "04", "藏族", "ZA"),
    (5, "05", "维吾尔族", "UG"),
    (6, "06", "苗族", "MH"),
    (7, "07", "彝族", "YI"),
    (8, "08", "壮族", "ZH"),
    (9, "09", "布依族", "BY"),
    (10, "10", "朝鲜族", "CS"),
    (11, "11", "满族", "MA"),
    (12, "12", "侗族", "DO"),
    (13, "13", "瑶族", "YA"),
    (14, "14", "白族", "BA"),
    (15, "15", "土家族", "TJ"),
    (16, "16", "哈尼族", "HN"),
    (17, "17", "哈萨克族", "KZ"),
    (18, "18", "傣族", "DA"),
    (19, "19", "黎族", "LI"),
    (20, "20", "傈僳族", "LS"),
    (21, "21", "佤族", "VA"),
    (22, "22", "畲族", "SH"),
    (23, "23", "高山族", "GS"),
    (24, "24", "拉祜族", "LH"),
    (25, "25", "水族", "SU"),
    (26, "26", "东乡族", "DX"),
    (27, "27", "纳西族", "NX"),
    (28, "28", "景颇族", "JP"),
    (29, "29", "柯尔克孜族", "KG"),
    (30, "30", "土族", "TU"),
    (31, "31", "达斡尔族", "DU"),
    (32, "32", "仫佬族", "ML"),
    (33, "33", "羌族", "QI"),
    (34, "34", "布朗族", "BL"),
    (35, "35", "撒拉族", "SL"),
    (36, "36", "毛南族", "MN"),
    (37, "37", "仡佬族", "GL"),
    (38, "38", "锡伯族", "XB"),
    (39, "39", "阿昌族", "AC"),
    (40, "40", "普米族", "PM"),
    (41, "41", "塔吉克族", "TA"),
    (42, "42", "怒族", "NU"),
    (43, "43", "乌孜别克族", "UZ"),
    (44, "44", "俄罗斯族", "RS"),
    (45, "45", "鄂温克族", "EW"),
    (46, "46", "德昂族", "DE"),
    (47, "47", "保安族", "BN"),
    (48, "48", "裕固族", "YG"),
    (49, "49", "京族", "GI"),
    (50, "50", "塔塔尔族", "TT"),
    (51, "51", "独龙族", "DR"),
    (52, "52", "鄂伦春族", "OR"),
    (53, "53", "赫哲族", "HZ"),
    (54, "54", "门巴族", "MB"),
    (55, "55", "珞巴族", "LB"),
    (56, "56", "基诺族", "JN"),
    (97, "97", "其他", ""),
    (98, "98", "外国血统中国籍人士", ""),
];

/// Older or colloquial names still found in records.
const ALIASES: &[(&str, u8)] = &[
    ("汉人", 1),
    ("蒙族", 2),
    ("维族", 5),
    ("崩龙族", 46),
    ("崩龙", 46),
    ("毛难族", 36),
    ("毛难", 36),
    ("其它", 97),
    ("其他民族", 97),
    ("外国血统", 98),
    ("入籍", 98),
];

/// One of the 56 ethnic groups, or 97 其他 / 98 外国血统中国籍人士.
/// Serializes as `{"code": "01", "name": "汉族"}`; read back by code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "EthnicityRepr", into = "EthnicityRepr")]
pub struct Ethnicity(u8);

#[derive(Serialize, Deserialize)]
struct EthnicityRepr {
    code: String,
    #[serde(default, skip_deserializing)]
    name: String,
}

/// The input matches no code or name in GB 3304.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unrecognized ethnicity {0:?}")]
pub struct EthnicityError(pub String);

impl Ethnicity {
    pub const HAN: Ethnicity = Ethnicity(1);

    fn entry(self) -> (u8, &'static str, &'static str, &'static str) {
        TABLE
            .iter()
            .find(|e| e.0 == self.0)
            .copied()
            .unwrap_or((97, "97", "其他", ""))
    }

    /// From the numeric code (1–56, 97, 98).
    pub fn from_code(code: u8) -> Option<Ethnicity> {
        TABLE.iter().any(|e| e.0 == code).then_some(Ethnicity(code))
    }

    /// Two-digit code, `01`…`56`, `97`, `98`.
    pub fn code(self) -> &'static str {
        self.entry().1
    }

    /// Full name, e.g. 汉族.
    pub fn name(self) -> &'static str {
        self.entry().2
    }

    /// Name without the trailing 族 (汉, 蒙古), as many forms write it.
    pub fn short_name(self) -> &'static str {
        let n = self.name();
        n.strip_suffix('族').unwrap_or(n)
    }

    /// GB 3304 two-letter romanization code (`HA`); empty for 97 and 98.
    pub fn letter_code(self) -> &'static str {
        self.entry().3
    }

    /// Accepts the numeric code (`1`, `01`), the full or short name
    /// (traditional characters folded), the letter code, and a few old
    /// names (崩龙族 → 德昂族).
    pub fn parse(raw: &str) -> Result<Ethnicity, EthnicityError> {
        let s = simplify(&compact(raw));
        let err = || EthnicityError(raw.to_owned());
        if s.is_empty() {
            return Err(err());
        }
        if s.len() <= 2 && s.bytes().all(|b| b.is_ascii_digit()) {
            let code = s.bytes().fold(0u8, |a, b| a * 10 + (b - b'0'));
            return Ethnicity::from_code(code).ok_or_else(err);
        }
        if s.is_ascii() {
            let up = s.to_ascii_uppercase();
            return TABLE
                .iter()
                .find(|e| !e.3.is_empty() && e.3 == up)
                .map(|e| Ethnicity(e.0))
                .ok_or_else(err);
        }
        let short = s.strip_suffix('族').unwrap_or(&s);
        TABLE
            .iter()
            .find(|e| e.2 == s || e.2.strip_suffix('族') == Some(short))
            .map(|e| e.0)
            .or_else(|| ALIASES.iter().find(|a| a.0 == s).map(|a| a.1))
            .map(Ethnicity)
            .ok_or_else(err)
    }
}

impl TryFrom<EthnicityRepr> for Ethnicity {
    type Error = EthnicityError;
    fn try_from(r: EthnicityRepr) -> Result<Self, Self::Error> {
        Ethnicity::parse(&r.code)
    }
}

impl From<Ethnicity> for EthnicityRepr {
    fn from(e: Ethnicity) -> Self {
        EthnicityRepr {
            code: e.code().to_owned(),
            name: e.name().to_owned(),
        }
    }
}

impl FromStr for Ethnicity {
    type Err = EthnicityError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ethnicity::parse(s)
    }
}

impl fmt::Display for Ethnicity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn table_is_complete() {
        assert_eq!(TABLE.len(), 58);
        for (i, e) in TABLE.iter().take(56).enumerate() {
            assert_eq!(usize::from(e.0), i + 1);
            assert!(e.2.ends_with('族'));
        }
        for e in TABLE {
            let eth = Ethnicity(e.0);
            assert_eq!(Ethnicity::parse(eth.code()), Ok(eth));
            assert_eq!(Ethnicity::parse(eth.name()), Ok(eth));
            assert_eq!(
                Ethnicity::parse(eth.short_name()),
                Ok(eth),
                "{}",
                eth.short_name()
            );
        }
    }

    #[test]
    fn parses_codes_names_and_variants() {
        assert_eq!(Ethnicity::parse("1"), Ok(Ethnicity::HAN));
        assert_eq!(Ethnicity::parse("01"), Ok(Ethnicity::HAN));
        assert_eq!(Ethnicity::parse("０１"), Ok(Ethnicity::HAN));
        assert_eq!(Ethnicity::parse("汉族"), Ok(Ethnicity::HAN));
        assert_eq!(Ethnicity::parse("汉"), Ok(Ethnicity::HAN));
        assert_eq!(Ethnicity::parse("漢族"), Ok(Ethnicity::HAN));
        assert_eq!(Ethnicity::parse("ha"), Ok(Ethnicity::HAN));
        let uyghur = Ethnicity::parse("维吾尔").unwrap();
        assert_eq!((uyghur.code(), uyghur.name()), ("05", "维吾尔族"));
        assert_eq!(Ethnicity::parse("维族"), Ok(uyghur));
        assert_eq!(Ethnicity::parse("蒙古").unwrap().code(), "02");
        assert_eq!(Ethnicity::parse("基诺族").unwrap().code(), "56");
        assert_eq!(Ethnicity::parse("崩龙族").unwrap().name(), "德昂族");
        assert_eq!(Ethnicity::parse("97").unwrap().name(), "其他");
        assert_eq!(Ethnicity::parse("98").unwrap().name(), "外国血统中国籍人士");
    }

    #[test]
    fn rejects_unknown() {
        for raw in ["", "0", "57", "99", "100", "火星族", "XX"] {
            assert!(Ethnicity::parse(raw).is_err(), "{raw}");
        }
    }

    #[test]
    fn serde_round_trip() {
        let e = Ethnicity::parse("壮族").unwrap();
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(json, r#"{"code":"08","name":"壮族"}"#);
        assert_eq!(serde_json::from_str::<Ethnicity>(&json).unwrap(), e);
    }

    proptest! {
        #[test]
        fn never_panics(s in prop_oneof!["\\PC*", "[0-9]{0,3}", "[汉族维吾尔蒙古]{0,4}"]) {
            let _ = Ethnicity::parse(&s);
        }
    }
}
