//! Dates as department systems hold them: `19850101`, `1985-1-1`,
//! `1985年1月1日`, `1985.01`, datetimes, and Excel serial numbers that leaked
//! out of spreadsheets. Some only know the month, so precision is explicit.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, Days, NaiveDate};
use serde::{Deserialize, Serialize};

use super::text::{half_width_char, is_blank};

/// How much of a [`PartialDate`] is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DatePrecision {
    Day,
    Month,
}

/// Why a string is not a date.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    #[error("date is empty")]
    Empty,
    #[error("unrecognized date format {0:?}")]
    Unrecognized(String),
    #[error("only a year ({0}), no month")]
    YearOnly(u32),
    #[error("year {0} out of range 1000..=9999")]
    YearOutOfRange(u32),
    #[error("invalid month {year:04}-{month:02}")]
    InvalidMonth { year: u32, month: u32 },
    #[error("invalid date {year:04}-{month:02}-{day:02}")]
    InvalidDate { year: u32, month: u32, day: u32 },
    #[error("Excel serial {0} out of range 1..=2958465")]
    ExcelSerialOutOfRange(u64),
    #[error("Excel serial 60 is 1900-02-29, which does not exist")]
    ExcelSerialAmbiguous,
    #[error("date {0} has no day")]
    NoDay(PartialDate),
}

/// A calendar date known to the day or only to the month; always a real
/// calendar date (only constructible through validation). Serializes as
/// `YYYY-MM-DD` or `YYYY-MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PartialDate {
    year: u16,
    month: u8,
    day: Option<u8>,
}

const EXCEL_MAX_SERIAL: u64 = 2_958_465; // 9999-12-31

impl PartialDate {
    /// A day-precision date, validated against the calendar.
    pub fn ymd(year: u32, month: u32, day: u32) -> Result<PartialDate, DateError> {
        let ym = PartialDate::ym(year, month)?;
        let Some(_) = NaiveDate::from_ymd_opt(year as i32, month, day) else {
            return Err(DateError::InvalidDate { year, month, day });
        };
        Ok(PartialDate {
            day: Some(day as u8),
            ..ym
        })
    }

    /// A month-precision date.
    pub fn ym(year: u32, month: u32) -> Result<PartialDate, DateError> {
        if !(1000..=9999).contains(&year) {
            return Err(DateError::YearOutOfRange(year));
        }
        if !(1..=12).contains(&month) {
            return Err(DateError::InvalidMonth { year, month });
        }
        Ok(PartialDate {
            year: year as u16,
            month: month as u8,
            day: None,
        })
    }

    /// Parses the formats listed in the module docs, plus Excel serials
    /// (1900 date system, `44927` or `44927.5`; the fractional time is
    /// ignored; serial 60, Excel's phantom 1900-02-29, is rejected).
    pub fn parse(raw: &str) -> Result<PartialDate, DateError> {
        let t: String = raw
            .trim_matches(is_blank)
            .chars()
            .map(half_width_char)
            .collect();
        // Datetime: keep the date part.
        let date_part = if t.contains(':') {
            t.split([' ', 'T']).next().unwrap_or_default()
        } else {
            t.as_str()
        };
        let s: String = date_part.chars().filter(|c| !is_blank(*c)).collect();
        if s.is_empty() {
            return Err(DateError::Empty);
        }
        let unrecognized = || DateError::Unrecognized(raw.to_owned());

        if s.bytes().all(|b| b.is_ascii_digit()) {
            return match s.len() {
                8 => PartialDate::ymd(num(&s[0..4]), num(&s[4..6]), num(&s[6..8])),
                6 => PartialDate::ym(num(&s[0..4]), num(&s[4..6])),
                // A bare year, not Excel serial 1985 (1905-06-07).
                4 if (1850..=2100).contains(&num(&s)) => Err(DateError::YearOnly(num(&s))),
                1..=5 | 7 => from_excel_serial(u64::from(num(&s))),
                _ => Err(unrecognized()),
            };
        }
        // Excel serial with a time fraction: 44927.5 (but 2023.5 is a month).
        if let Some((int, frac)) = s.split_once('.') {
            let all_digits = |x: &str| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit());
            if all_digits(int) && all_digits(frac) && int.len() != 4 && int.len() <= 7 {
                return from_excel_serial(u64::from(num(int)));
            }
        }

        let mut groups: [u32; 3] = [0; 3];
        let mut lens: [usize; 3] = [0; 3];
        let mut n = 0;
        let mut in_group = false;
        let mut finished = false;
        let mut last_sep = None;
        for c in s.chars() {
            if finished {
                return Err(unrecognized());
            }
            match c {
                '0'..='9' => {
                    if !in_group {
                        if n == 3 {
                            return Err(unrecognized());
                        }
                        n += 1;
                        in_group = true;
                        last_sep = None;
                    }
                    let i = n - 1;
                    lens[i] += 1;
                    if lens[i] > 4 {
                        return Err(unrecognized());
                    }
                    groups[i] = groups[i] * 10 + (c as u32 - '0' as u32);
                }
                '-' | '/' | '.' | '年' | '月' | '\u{2010}'..='\u{2015}' if in_group => {
                    in_group = false;
                    last_sep = Some(c);
                }
                '日' | '号' if in_group && n == 3 => finished = true,
                _ => return Err(unrecognized()),
            }
        }
        if lens[0] != 4 || lens.iter().take(n).skip(1).any(|&l| l > 2) {
            return Err(unrecognized());
        }
        match n {
            2 if in_group || last_sep == Some('月') => PartialDate::ym(groups[0], groups[1]),
            3 if in_group || finished => PartialDate::ymd(groups[0], groups[1], groups[2]),
            _ => Err(unrecognized()),
        }
    }

    pub fn year(&self) -> i32 {
        i32::from(self.year)
    }

    pub fn month(&self) -> u32 {
        u32::from(self.month)
    }

    pub fn day(&self) -> Option<u32> {
        self.day.map(u32::from)
    }

    pub fn precision(&self) -> DatePrecision {
        if self.day.is_some() {
            DatePrecision::Day
        } else {
            DatePrecision::Month
        }
    }

    /// The calendar date, when known to the day.
    pub fn to_naive_date(&self) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(self.year(), self.month(), self.day()?)
    }
}

fn num(s: &str) -> u32 {
    s.bytes().fold(0u32, |acc, b| {
        acc.saturating_mul(10)
            .saturating_add(u32::from(b.wrapping_sub(b'0')))
    })
}

fn from_excel_serial(serial: u64) -> Result<PartialDate, DateError> {
    if serial == 60 {
        return Err(DateError::ExcelSerialAmbiguous);
    }
    if !(1..=EXCEL_MAX_SERIAL).contains(&serial) {
        return Err(DateError::ExcelSerialOutOfRange(serial));
    }
    // Excel counts the phantom 1900-02-29, so later serials are one day off.
    let (base, days) = if serial < 60 {
        (NaiveDate::from_ymd_opt(1899, 12, 31), serial)
    } else {
        (NaiveDate::from_ymd_opt(1899, 12, 30), serial)
    };
    base.and_then(|b| b.checked_add_days(Days::new(days)))
        .map(PartialDate::from)
        .ok_or(DateError::ExcelSerialOutOfRange(serial))
}

impl From<NaiveDate> for PartialDate {
    /// Years outside 1000..=9999 are clamped; no real record has them.
    fn from(d: NaiveDate) -> Self {
        PartialDate {
            year: d.year().clamp(1000, 9999) as u16,
            month: d.month() as u8,
            day: Some(d.day() as u8),
        }
    }
}

impl TryFrom<PartialDate> for NaiveDate {
    type Error = DateError;
    fn try_from(d: PartialDate) -> Result<Self, Self::Error> {
        d.to_naive_date().ok_or(DateError::NoDay(d))
    }
}

impl fmt::Display for PartialDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)?;
        if let Some(d) = self.day {
            write!(f, "-{d:02}")?;
        }
        Ok(())
    }
}

impl FromStr for PartialDate {
    type Err = DateError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PartialDate::parse(s)
    }
}

impl TryFrom<String> for PartialDate {
    type Error = DateError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        PartialDate::parse(&s)
    }
}

impl From<PartialDate> for String {
    fn from(d: PartialDate) -> String {
        d.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(s: &str) -> String {
        PartialDate::parse(s)
            .unwrap_or_else(|e| panic!("{s}: {e}"))
            .to_string()
    }

    #[test]
    fn day_formats() {
        for raw in [
            "19850301",
            "1985-03-01",
            "1985-3-1",
            "1985/3/1",
            "1985.03.01",
            "1985年3月1日",
            "1985年03月01号",
            " 1985 年 3 月 1 日 ",
            "１９８５－０３－０１",
            "1985-03-01 00:00:00",
            "1985-03-01T08:30:00",
            "1985-03-01T08:30:00.000Z",
            "31107",
            "31107.75",
        ] {
            assert_eq!(d(raw), "1985-03-01", "{raw}");
        }
    }

    #[test]
    fn month_formats() {
        for raw in [
            "1985年3月",
            "1985.03",
            "1985-03",
            "198503",
            "1985/3",
            "1985.3",
        ] {
            let p = PartialDate::parse(raw).unwrap();
            assert_eq!(p.to_string(), "1985-03", "{raw}");
            assert_eq!(p.precision(), DatePrecision::Month);
            assert_eq!(p.to_naive_date(), None);
        }
    }

    #[test]
    fn excel_serials_with_the_1900_bug() {
        assert_eq!(d("1"), "1900-01-01");
        assert_eq!(d("59"), "1900-02-28");
        assert_eq!(
            PartialDate::parse("60"),
            Err(DateError::ExcelSerialAmbiguous)
        );
        assert_eq!(d("61"), "1900-03-01");
        assert_eq!(d("44927"), "2023-01-01");
        assert_eq!(d("44927.5"), "2023-01-01");
        assert_eq!(d("2958465"), "9999-12-31");
        assert_eq!(
            PartialDate::parse("0"),
            Err(DateError::ExcelSerialOutOfRange(0))
        );
        assert_eq!(
            PartialDate::parse("2958466"),
            Err(DateError::ExcelSerialOutOfRange(2958466))
        );
    }

    #[test]
    fn invalid_calendar_dates() {
        assert_eq!(
            PartialDate::parse("2023-02-30"),
            Err(DateError::InvalidDate {
                year: 2023,
                month: 2,
                day: 30
            })
        );
        assert_eq!(
            PartialDate::parse("2023-02-30").unwrap_err().to_string(),
            "invalid date 2023-02-30"
        );
        assert!(PartialDate::parse("2023-02-29").is_err());
        assert_eq!(d("2024-02-29"), "2024-02-29");
        assert_eq!(
            PartialDate::parse("20231301"),
            Err(DateError::InvalidMonth {
                year: 2023,
                month: 13
            })
        );
        assert!(PartialDate::parse("0000-00-00").is_err());
        assert_eq!(
            PartialDate::parse("19850100").unwrap_err().to_string(),
            "invalid date 1985-01-00"
        );
    }

    #[test]
    fn unrecognized_and_empty() {
        assert_eq!(PartialDate::parse(""), Err(DateError::Empty));
        assert_eq!(PartialDate::parse(" \u{3000}"), Err(DateError::Empty));
        for raw in [
            "abc",
            "1985",
            "85-3-1",
            "1985--03",
            "-1985-03",
            "1985-03-01-02",
            "01/03/1985",
            "1985年",
            "1985-03-01X",
            "-5",
            "123456789",
        ] {
            assert!(PartialDate::parse(raw).is_err(), "{raw}");
        }
    }

    #[test]
    fn chrono_conversions() {
        let nd = NaiveDate::from_ymd_opt(1985, 3, 1).unwrap();
        let p = PartialDate::from(nd);
        assert_eq!(p.precision(), DatePrecision::Day);
        assert_eq!(NaiveDate::try_from(p), Ok(nd));
        let m = PartialDate::ym(1985, 3).unwrap();
        assert_eq!(NaiveDate::try_from(m), Err(DateError::NoDay(m)));
        assert_eq!((p.year(), p.month(), p.day()), (1985, 3, Some(1)));
    }

    #[test]
    fn serde_round_trip() {
        for raw in ["1985-03-01", "1985-03"] {
            let p = PartialDate::parse(raw).unwrap();
            let json = serde_json::to_string(&p).unwrap();
            assert_eq!(json, format!("\"{raw}\""));
            assert_eq!(serde_json::from_str::<PartialDate>(&json).unwrap(), p);
        }
    }

    proptest! {
        #[test]
        fn never_panics_and_display_reparses(
            s in prop_oneof![
                "\\PC*",
                "[0-9]{0,10}(\\.[0-9]{0,3})?",
                "[0-9０-９年月日号/\\-. :T]{0,20}",
            ]
        ) {
            if let Ok(p) = PartialDate::parse(&s) {
                prop_assert_eq!(PartialDate::parse(&p.to_string()), Ok(p));
            }
        }
    }
}
