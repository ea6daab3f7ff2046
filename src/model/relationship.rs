//! Relationship to the household head per GB/T 4761-2008 (家庭关系代码), so
//! households from different systems can be compared code to code.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::text::compact;
use super::traditional::simplify;

/// (code, label). Codes ending in 0 are the groups; 01/02 are the person
/// and the head themselves.
const TABLE: &[(u8, &str)] = &[
    (1, "本人"),
    (2, "户主"),
    (10, "配偶"),
    (11, "夫"),
    (12, "妻"),
    (20, "子"),
    (21, "独生子"),
    (22, "长子"),
    (23, "次子"),
    (24, "三子"),
    (25, "四子"),
    (26, "五子"),
    (27, "养子或继子"),
    (28, "女婿"),
    (29, "其他儿子"),
    (30, "女"),
    (31, "独生女"),
    (32, "长女"),
    (33, "次女"),
    (34, "三女"),
    (35, "四女"),
    (36, "五女"),
    (37, "养女或继女"),
    (38, "儿媳"),
    (39, "其他女儿"),
    (40, "孙子、孙女或外孙子、外孙女"),
    (41, "孙子"),
    (42, "孙女"),
    (43, "外孙子"),
    (44, "外孙女"),
    (45, "孙媳妇或外孙媳妇"),
    (46, "孙女婿或外孙女婿"),
    (47, "曾孙子或外曾孙子"),
    (48, "曾孙女或外曾孙女"),
    (49, "其他孙子、孙女或外孙子、外孙女"),
    (50, "父母"),
    (51, "父亲"),
    (52, "母亲"),
    (53, "公公"),
    (54, "婆婆"),
    (55, "岳父"),
    (56, "岳母"),
    (57, "继父或养父"),
    (58, "继母或养母"),
    (59, "其他父母关系"),
    (60, "祖父母或外祖父母"),
    (61, "祖父"),
    (62, "祖母"),
    (63, "外祖父"),
    (64, "外祖母"),
    (65, "配偶的祖父母或外祖父母"),
    (66, "曾祖父"),
    (67, "曾祖母"),
    (68, "配偶的曾祖父母或外曾祖父母"),
    (69, "其他祖父母或外祖父母关系"),
    (70, "兄弟姐妹"),
    (71, "兄"),
    (72, "嫂"),
    (73, "弟"),
    (74, "弟媳"),
    (75, "姐姐"),
    (76, "姐夫"),
    (77, "妹妹"),
    (78, "妹夫"),
    (79, "其他兄弟姐妹"),
    (80, "其他"),
    (81, "伯父"),
    (82, "伯母"),
    (83, "叔父"),
    (84, "婶母"),
    (85, "舅父"),
    (86, "舅母"),
    (87, "姨父"),
    (88, "姨母"),
    (89, "姑父"),
    (90, "姑母"),
    (91, "堂兄弟、堂姐妹"),
    (92, "表兄弟、表姐妹"),
    (93, "侄子"),
    (94, "侄女"),
    (95, "外甥"),
    (96, "外甥女"),
    (97, "其他亲属"),
    (99, "非亲属"),
];

/// Everyday words for the same relationships.
const ALIASES: &[(&str, u8)] = &[
    ("自己", 1),
    ("户主本人", 2),
    ("丈夫", 11),
    ("老公", 11),
    ("妻子", 12),
    ("老婆", 12),
    ("儿子", 20),
    ("养子", 27),
    ("继子", 27),
    ("女儿", 30),
    ("养女", 37),
    ("继女", 37),
    ("儿媳妇", 38),
    ("媳妇", 38),
    ("孙子女", 40),
    ("外孙", 43),
    ("孙媳妇", 45),
    ("孙女婿", 46),
    ("父", 51),
    ("爸爸", 51),
    ("母", 52),
    ("妈妈", 52),
    ("继父", 57),
    ("养父", 57),
    ("继母", 58),
    ("养母", 58),
    ("祖父母", 60),
    ("爷爷", 61),
    ("奶奶", 62),
    ("外公", 63),
    ("姥爷", 63),
    ("外婆", 64),
    ("姥姥", 64),
    ("哥哥", 71),
    ("嫂子", 72),
    ("弟弟", 73),
    ("弟妹", 74),
    ("姐", 75),
    ("妹", 77),
    ("叔叔", 83),
    ("婶婶", 84),
    ("舅舅", 85),
    ("姑姑", 90),
    ("侄儿", 93),
    ("外甥子", 95),
    ("亲属", 97),
    ("其它亲属", 97),
    ("其他亲戚", 97),
    ("保姆", 99),
    ("其它", 80),
];

/// A GB/T 4761 family-relationship code. Serializes as
/// `{"code": "12", "label": "妻"}`; read back by code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "RelationshipRepr", into = "RelationshipRepr")]
pub struct Relationship(u8);

#[derive(Serialize, Deserialize)]
struct RelationshipRepr {
    code: String,
    #[serde(default, skip_deserializing)]
    label: String,
}

/// The input matches no GB/T 4761 code or label.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unrecognized relationship {0:?}")]
pub struct RelationshipError(pub String);

impl Relationship {
    pub const SELF: Relationship = Relationship(1);
    pub const HEAD: Relationship = Relationship(2);

    pub fn from_code(code: u8) -> Option<Relationship> {
        TABLE
            .binary_search_by_key(&code, |e| e.0)
            .ok()
            .map(|_| Relationship(code))
    }

    /// The numeric code (e.g. 12).
    pub fn code_number(self) -> u8 {
        self.0
    }

    /// Two-digit code, e.g. `12`.
    pub fn code(self) -> String {
        format!("{:02}", self.0)
    }

    pub fn label(self) -> &'static str {
        TABLE
            .binary_search_by_key(&self.0, |e| e.0)
            .ok()
            .and_then(|i| TABLE.get(i))
            .map_or("", |e| e.1)
    }

    /// The group code (the tens: 长子 22 → 子 20); 本人 and 户主 are their
    /// own group.
    pub fn group(self) -> Relationship {
        if self.0 < 10 {
            self
        } else {
            Relationship(self.0 / 10 * 10)
        }
    }

    /// Whether this is the household head itself (户主, or 本人 as many
    /// systems record the head).
    pub fn is_head(self) -> bool {
        self.0 <= 2
    }

    /// Accepts the code (`2`, `02`, `12`), the standard label, any
    /// alternative of a label joined by 或/、 (`养子`, `孙女`), and common
    /// everyday words (`妻子`, `儿子`).
    pub fn parse(raw: &str) -> Result<Relationship, RelationshipError> {
        let s = simplify(&compact(raw));
        let err = || RelationshipError(raw.to_owned());
        if s.is_empty() {
            return Err(err());
        }
        if s.len() <= 2 && s.bytes().all(|b| b.is_ascii_digit()) {
            let code = s.bytes().fold(0u8, |a, b| a * 10 + (b - b'0'));
            return Relationship::from_code(code).ok_or_else(err);
        }
        if let Some(e) = TABLE.iter().find(|e| e.1 == s) {
            return Ok(Relationship(e.0));
        }
        if let Some(a) = ALIASES.iter().find(|a| a.0 == s) {
            return Ok(Relationship(a.1));
        }
        TABLE
            .iter()
            .find(|e| e.1.contains(['或', '、']) && e.1.split(['或', '、']).any(|p| p == s))
            .map(|e| Relationship(e.0))
            .ok_or_else(err)
    }
}

impl TryFrom<RelationshipRepr> for Relationship {
    type Error = RelationshipError;
    fn try_from(r: RelationshipRepr) -> Result<Self, Self::Error> {
        Relationship::parse(&r.code)
    }
}

impl From<Relationship> for RelationshipRepr {
    fn from(r: Relationship) -> Self {
        RelationshipRepr {
            code: r.code(),
            label: r.label().to_owned(),
        }
    }
}

impl FromStr for Relationship {
    type Err = RelationshipError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Relationship::parse(s)
    }
}

impl fmt::Display for Relationship {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn code(s: &str) -> u8 {
        Relationship::parse(s)
            .unwrap_or_else(|e| panic!("{e}"))
            .code_number()
    }

    #[test]
    fn table_sorted_and_self_consistent() {
        assert!(TABLE.windows(2).all(|w| w[0].0 < w[1].0));
        for e in TABLE {
            let r = Relationship(e.0);
            assert_eq!(Relationship::parse(&r.code()), Ok(r));
            assert_eq!(Relationship::parse(r.label()), Ok(r), "{}", r.label());
        }
        for a in ALIASES {
            assert!(Relationship::from_code(a.1).is_some(), "{}", a.0);
        }
    }

    #[test]
    fn parses_codes_and_labels() {
        assert_eq!(code("01"), 1);
        assert_eq!(code("1"), 1);
        assert_eq!(code("02"), 2);
        assert_eq!(code("户主"), 2);
        assert_eq!(code("10"), 10);
        assert_eq!(code("配偶"), 10);
        assert_eq!(code("夫"), 11);
        assert_eq!(code("妻"), 12);
        assert_eq!(code("妻子"), 12);
        assert_eq!(code("长子"), 22);
        assert_eq!(code("儿子"), 20);
        assert_eq!(code("女"), 30);
        assert_eq!(code("养子"), 27);
        assert_eq!(code("儿媳"), 38);
        assert_eq!(code("孙女"), 42);
        assert_eq!(code("外孙女"), 44);
        assert_eq!(code("父亲"), 51);
        assert_eq!(code("外祖母"), 64);
        assert_eq!(code("兄弟姐妹"), 70);
        assert_eq!(code("堂姐妹"), 91);
        assert_eq!(code("非亲属"), 99);
        assert_eq!(code("  ４２ "), 42);
        assert_eq!(code("兒子"), 20);
    }

    #[test]
    fn groups_and_labels() {
        let r = Relationship::parse("长子").unwrap();
        assert_eq!(r.group().label(), "子");
        assert_eq!(r.code(), "22");
        assert_eq!(Relationship::HEAD.group(), Relationship::HEAD);
        assert!(Relationship::HEAD.is_head());
        assert!(!r.is_head());
    }

    #[test]
    fn rejects_unknown() {
        for raw in ["", "0", "98", "100", "邻居家的猫", "或"] {
            assert!(Relationship::parse(raw).is_err(), "{raw}");
        }
    }

    #[test]
    fn serde_round_trip() {
        let r = Relationship::parse("妻").unwrap();
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(json, r#"{"code":"12","label":"妻"}"#);
        assert_eq!(serde_json::from_str::<Relationship>(&json).unwrap(), r);
    }

    proptest! {
        #[test]
        fn never_panics(s in prop_oneof!["\\PC*", "[0-9]{0,3}", "[子女孙或、外父母]{0,4}"]) {
            let _ = Relationship::parse(&s);
        }
    }
}
