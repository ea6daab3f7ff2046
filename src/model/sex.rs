//! Sex per GB/T 2261.1-2003, the code every department system is supposed
//! to use (and each spells differently).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::text::compact;

/// GB/T 2261.1 sex. `Unknown` (0) means not known; `Unspecified` (9) means
/// known but not stated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    Unknown,
    Male,
    Female,
    Unspecified,
}

/// The input is none of the accepted spellings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unrecognized sex {0:?}")]
pub struct SexError(pub String);

impl Sex {
    /// The GB/T 2261.1 numeric code (0, 1, 2, 9).
    pub fn code(self) -> u8 {
        match self {
            Sex::Unknown => 0,
            Sex::Male => 1,
            Sex::Female => 2,
            Sex::Unspecified => 9,
        }
    }

    /// The Chinese label: 男/女 as forms write them, the standard's names
    /// for 0 and 9.
    pub fn label_zh(self) -> &'static str {
        match self {
            Sex::Unknown => "未知的性别",
            Sex::Male => "男",
            Sex::Female => "女",
            Sex::Unspecified => "未说明的性别",
        }
    }

    /// Accepts codes 0/1/2/9, 男/女/男性/女性, M/F and male/female (any
    /// case, any width), and the standard's names for 0 and 9.
    pub fn parse(raw: &str) -> Result<Sex, SexError> {
        let s = compact(raw);
        let sex = match s.to_ascii_lowercase().as_str() {
            "0" | "未知" | "未知的性别" | "unknown" => Sex::Unknown,
            "1" | "男" | "男性" | "m" | "male" => Sex::Male,
            "2" | "女" | "女性" | "f" | "female" => Sex::Female,
            "9" | "未说明" | "未说明的性别" | "unspecified" => Sex::Unspecified,
            _ => return Err(SexError(raw.to_owned())),
        };
        Ok(sex)
    }
}

impl FromStr for Sex {
    type Err = SexError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Sex::parse(s)
    }
}

impl fmt::Display for Sex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label_zh())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_codes_and_labels() {
        for (raw, sex) in [
            ("1", Sex::Male),
            ("男", Sex::Male),
            ("男性", Sex::Male),
            ("M", Sex::Male),
            ("male", Sex::Male),
            (" MALE ", Sex::Male),
            ("１", Sex::Male),
            ("2", Sex::Female),
            ("女", Sex::Female),
            ("女性", Sex::Female),
            ("f", Sex::Female),
            ("Female", Sex::Female),
            ("0", Sex::Unknown),
            ("未知的性别", Sex::Unknown),
            ("9", Sex::Unspecified),
            ("未说明的性别", Sex::Unspecified),
        ] {
            assert_eq!(Sex::parse(raw), Ok(sex), "{raw}");
        }
    }

    #[test]
    fn codes_and_labels() {
        assert_eq!(Sex::Male.code(), 1);
        assert_eq!(Sex::Female.code(), 2);
        assert_eq!(Sex::Unspecified.code(), 9);
        assert_eq!(Sex::Female.label_zh(), "女");
        assert_eq!(
            Sex::parse(&Sex::Unknown.code().to_string()),
            Ok(Sex::Unknown)
        );
    }

    #[test]
    fn rejects_others() {
        assert!(Sex::parse("").is_err());
        assert!(Sex::parse("3").is_err());
        assert!(Sex::parse("男女").is_err());
        assert_eq!(
            Sex::parse("x").unwrap_err().to_string(),
            "unrecognized sex \"x\""
        );
    }

    #[test]
    fn serde_names() {
        assert_eq!(serde_json::to_string(&Sex::Female).unwrap(), "\"female\"");
        assert_eq!(serde_json::from_str::<Sex>("\"male\"").unwrap(), Sex::Male);
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC*") {
            let _ = Sex::parse(&s);
        }
    }
}
