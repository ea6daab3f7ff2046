//! Addresses: the same flat is `浙江省宁波市海曙区鼓楼街道中山社区二十三幢五〇二室`
//! in one system and `鼓楼街道中山社区23幢502室` in another. Normalization
//! folds width and numerals; the comparison key drops the administrative
//! prefix every record in a district shares; street and community are
//! pulled out where they can be recognized. Unknown formats are kept as the
//! normalized string; nothing here fails.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::text::{half_width_char, is_blank, is_cjk};
use super::traditional::simplify;

/// A normalized address. Serializes as the normalized string; the derived
/// parts are recomputed when read back.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub struct Address {
    normalized: String,
    comparison_key: String,
    street: Option<String>,
    community: Option<String>,
    house_number: Option<String>,
}

impl Address {
    pub fn parse(raw: &str) -> Address {
        let normalized = normalize(raw);
        let folded = simplify(&normalized);
        let key = strip_admin_prefix(&folded);
        let mut rest = key;
        let street = leading_segment(rest, &["街道", "镇", "乡", "苏木"], 10).map(|end| {
            let (s, r) = rest.split_at(end);
            rest = r;
            s.to_owned()
        });
        let community = community(&mut rest);
        let house_number = rest
            .find(|c: char| c.is_ascii_digit())
            .map(|i| rest[i..].to_owned());
        Address {
            comparison_key: key.to_owned(),
            normalized,
            street,
            community,
            house_number,
        }
    }

    /// Width-folded, blank-free (a single space kept between Latin words),
    /// Chinese numerals before unit words turned into digits, `#` as `号`.
    pub fn normalized(&self) -> &str {
        &self.normalized
    }

    /// [`Self::normalized`] in simplified characters with the leading
    /// province/city/district/county part removed: records of one district
    /// differ in how much of it they spell out.
    pub fn comparison_key(&self) -> &str {
        &self.comparison_key
    }

    /// 街道 / 镇 / 乡, when the key starts with one.
    pub fn street(&self) -> Option<&str> {
        self.street.as_deref()
    }

    /// 社区 / 村 (a 居委会 or 村委会 suffix is reduced to 社区 / 村).
    pub fn community(&self) -> Option<&str> {
        self.community.as_deref()
    }

    /// From the first digit after street and community to the end, e.g.
    /// `12号3幢502室`.
    pub fn house_number(&self) -> Option<&str> {
        self.house_number.as_deref()
    }

    pub fn is_empty(&self) -> bool {
        self.normalized.is_empty()
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.normalized)
    }
}

impl From<String> for Address {
    fn from(s: String) -> Address {
        Address::parse(&s)
    }
}

impl From<Address> for String {
    fn from(a: Address) -> String {
        a.normalized
    }
}

fn normalize(raw: &str) -> String {
    let chars: Vec<char> = raw
        .chars()
        .map(|c| match half_width_char(c) {
            '#' => '号',
            c => c,
        })
        .collect();
    let mut spaced = Vec::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if is_blank(c) {
            let prev = spaced.last().copied();
            let mut real_space = false;
            while i < chars.len() && is_blank(chars[i]) {
                real_space |= chars[i].is_whitespace();
                i += 1;
            }
            // Keep one space between Latin words and numbers only.
            if real_space
                && prev.is_some_and(|p: char| p.is_ascii_alphanumeric())
                && chars.get(i).is_some_and(char::is_ascii_alphanumeric)
            {
                spaced.push(' ');
            }
            continue;
        }
        spaced.push(c);
        i += 1;
    }
    convert_numerals(&spaced)
}

fn numeral_digit(c: char) -> Option<u32> {
    Some(match c {
        '零' | '〇' => 0,
        '一' => 1,
        '二' | '两' => 2,
        '三' => 3,
        '四' => 4,
        '五' => 5,
        '六' => 6,
        '七' => 7,
        '八' => 8,
        '九' => 9,
        _ => return None,
    })
}

fn numeral_unit(c: char) -> Option<u32> {
    match c {
        '十' => Some(10),
        '百' => Some(100),
        '千' => Some(1000),
        _ => None,
    }
}

fn is_numeral(c: char) -> bool {
    numeral_digit(c).is_some() || numeral_unit(c).is_some()
}

/// Words that make a preceding Chinese numeral a house-number part.
const UNITS: &[&str] = &[
    "号", "室", "幢", "栋", "单元", "楼", "层", "弄", "组", "期", "座",
];

fn followed_by_unit(rest: &[char]) -> bool {
    UNITS.iter().any(|u| {
        let mut it = rest.iter();
        u.chars().all(|c| it.next() == Some(&c))
    })
}

/// The value of a numeral run: `五〇二` → "502", `一百零三` → "103";
/// `None` when it is not a well-formed number.
fn numeral_value(run: &[char]) -> Option<String> {
    if run.iter().all(|&c| numeral_digit(c).is_some()) {
        return run
            .iter()
            .map(|&c| numeral_digit(c).and_then(|d| char::from_digit(d, 10)))
            .collect();
    }
    let mut total = 0u32;
    let mut pending: Option<u32> = None;
    let mut last_unit = u32::MAX;
    for &c in run {
        if let Some(d) = numeral_digit(c) {
            if pending.is_some() {
                return None;
            }
            pending = (d != 0).then_some(d);
        } else if let Some(u) = numeral_unit(c) {
            if u >= last_unit {
                return None;
            }
            // 十二 is ten-two; 二百 needs its digit.
            let d = match pending.take() {
                Some(d) => d,
                None if u == 10 && total == 0 => 1,
                None => return None,
            };
            total += d * u;
            last_unit = u;
        }
    }
    total += pending.unwrap_or(0);
    Some(total.to_string())
}

fn convert_numerals(chars: &[char]) -> String {
    let mut out = String::with_capacity(chars.len() * 3);
    let mut i = 0;
    while i < chars.len() {
        if !is_numeral(chars[i]) {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && is_numeral(chars[i]) {
            i += 1;
        }
        let run = &chars[start..i];
        let digit_string = run.len() >= 2
            && run.iter().all(|&c| numeral_digit(c).is_some())
            && run.iter().any(|&c| c == '〇' || c == '零');
        let value = if digit_string || followed_by_unit(&chars[i..]) {
            numeral_value(run)
        } else {
            None
        };
        match value {
            Some(v) => out.push_str(&v),
            None => out.extend(run),
        }
    }
    out
}

/// Characters that make `区` not an administrative district (社区, 小区, …).
const NON_ADMIN_QU: &[char] = &[
    '社', '小', '园', '校', '景', '街', '厂', '营', '院', '库', '片', '宅', '住', '商', '学', '军',
];
/// Characters that never occur in a province/city/district/county name
/// (街道, 村, 路, 号, …): meeting one ends the administrative prefix.
fn never_admin(c: char) -> bool {
    matches!(c, '村' | '路' | '街' | '号' | '巷' | '弄' | '组' | '楼')
}

/// Byte length of the administrative segment (`浙江省`, `海曙区`, …) that
/// `s` starts with, if any.
fn admin_segment(s: &str) -> Option<usize> {
    let mut prev: Option<char> = None;
    let mut iter = s.char_indices().enumerate().peekable();
    while let Some((i, (at, c))) = iter.next() {
        if i >= 12 || !is_cjk(c) || never_admin(c) {
            return None;
        }
        let end = at + c.len_utf8();
        let seg = &s[..end];
        let next = iter.peek().map(|(_, (_, n))| *n);
        let candidate = i >= 1
            && match c {
                '省' | '市' | '县' => true,
                '区' => {
                    if prev.is_some_and(|p| NON_ADMIN_QU.contains(&p)) {
                        return None;
                    }
                    true
                }
                '州' => seg.ends_with("自治州"),
                '盟' | '旗' => i >= 2,
                _ => false,
            };
        prev = Some(c);
        if !candidate {
            continue;
        }
        // 新市镇, 东区街道: a two-character "X市"/"X区" followed by a street
        // word is a place name, not a division.
        if i == 1
            && next.is_some_and(|n| {
                matches!(
                    n,
                    '镇' | '乡'
                        | '街'
                        | '路'
                        | '村'
                        | '巷'
                        | '弄'
                        | '场'
                        | '桥'
                        | '口'
                        | '里'
                        | '集'
                        | '号'
                )
            })
        {
            continue;
        }
        return Some(end);
    }
    None
}

fn strip_admin_prefix(s: &str) -> &str {
    let mut rest = s;
    while let Some(end) = admin_segment(rest) {
        rest = &rest[end..];
    }
    if rest.is_empty() {
        s
    } else {
        rest
    }
}

/// Byte length of a leading segment of at most `max` characters ending in
/// one of `suffixes`, containing no digit or road word.
fn leading_segment(s: &str, suffixes: &[&str], max: usize) -> Option<usize> {
    for (i, (at, c)) in s.char_indices().enumerate() {
        if i >= max || !is_cjk(c) || matches!(c, '路' | '号' | '巷' | '弄') {
            return None;
        }
        let end = at + c.len_utf8();
        let seg = &s[..end];
        if let Some(suffix) = suffixes.iter().find(|x| seg.ends_with(*x)) {
            if seg.chars().count() > suffix.chars().count() {
                return Some(end);
            }
        }
    }
    None
}

fn community(rest: &mut &str) -> Option<String> {
    let s = *rest;
    let mut iter = s.char_indices().enumerate().peekable();
    while let Some((i, (at, c))) = iter.next() {
        if i >= 14 || !is_cjk(c) || matches!(c, '路' | '号' | '巷' | '弄') {
            return None;
        }
        let end = at + c.len_utf8();
        let seg = &s[..end];
        let after = &s[end..];
        let found = if seg.ends_with("社区") && i >= 2 {
            Some((seg.to_owned(), ["居民委员会", "居委会"].as_slice()))
        } else if c == '村' && i >= 1 {
            // 新村路 is a road.
            if matches!(iter.peek().map(|x| x.1 .1), Some('路' | '街' | '道' | '巷')) {
                continue;
            }
            Some((
                seg.to_owned(),
                ["村民委员会", "村委会", "民委员会", "委会"].as_slice(),
            ))
        } else if seg.ends_with("居委会") && i >= 3 {
            Some((
                format!("{}社区", &seg[..seg.len() - "居委会".len()]),
                [].as_slice(),
            ))
        } else if seg.ends_with("居民委员会") && i >= 5 {
            Some((
                format!("{}社区", &seg[..seg.len() - "居民委员会".len()]),
                [].as_slice(),
            ))
        } else {
            None
        };
        if let Some((name, tails)) = found {
            let after = tails
                .iter()
                .find_map(|t| after.strip_prefix(t))
                .unwrap_or(after);
            *rest = after;
            return Some(name);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn numerals_become_digits() {
        assert_eq!(Address::parse("十二号").normalized(), "12号");
        assert_eq!(Address::parse("一百零三室").normalized(), "103室");
        assert_eq!(Address::parse("二十三幢").normalized(), "23幢");
        assert_eq!(Address::parse("三单元").normalized(), "3单元");
        assert_eq!(Address::parse("五〇二").normalized(), "502");
        assert_eq!(Address::parse("二〇一室").normalized(), "201室");
        assert_eq!(Address::parse("十号楼").normalized(), "10号楼");
        assert_eq!(Address::parse("两千号").normalized(), "2000号");
        // Place names keep their numerals.
        assert_eq!(
            Address::parse("五一路八一街道三里屯").normalized(),
            "五一路八一街道三里屯"
        );
        assert_eq!(Address::parse("三门县").normalized(), "三门县");
        // Not a well-formed number: left alone.
        assert_eq!(Address::parse("十十号").normalized(), "十十号");
    }

    #[test]
    fn width_hash_and_blanks() {
        assert_eq!(
            Address::parse("１２#楼 ３０２室").normalized(),
            "12号楼302室"
        );
        assert_eq!(Address::parse("12＃楼").normalized(), "12号楼");
        assert_eq!(
            Address::parse(" 中山路\u{3000}12号 ").normalized(),
            "中山路12号"
        );
        assert_eq!(
            Address::parse("Room 5, Block A").normalized(),
            "Room 5,Block A"
        );
        assert_eq!(Address::parse("ab\u{200B}cd").normalized(), "abcd");
    }

    #[test]
    fn full_address_is_split() {
        let a = Address::parse("浙江省宁波市海曙区鼓楼街道中山社区二十三幢五〇二室");
        assert_eq!(
            a.normalized(),
            "浙江省宁波市海曙区鼓楼街道中山社区23幢502室"
        );
        assert_eq!(a.comparison_key(), "鼓楼街道中山社区23幢502室");
        assert_eq!(a.street(), Some("鼓楼街道"));
        assert_eq!(a.community(), Some("中山社区"));
        assert_eq!(a.house_number(), Some("23幢502室"));
        let b = Address::parse("鼓楼街道中山社区23幢502室");
        assert_eq!(a.comparison_key(), b.comparison_key());
        let c = Address::parse("宁波市海曙区鼓楼街道中山社区23#502室");
        assert_eq!(c.comparison_key(), "鼓楼街道中山社区23号502室");
    }

    #[test]
    fn prefixes_of_all_kinds() {
        for (raw, key) in [
            ("北京市朝阳区建国路88号", "建国路88号"),
            ("上海市浦东新区陆家嘴街道", "陆家嘴街道"),
            ("宁波市镇海区招宝山街道", "招宝山街道"),
            ("新疆维吾尔自治区乌鲁木齐市天山区胜利路街道", "胜利路街道"),
            ("延边朝鲜族自治州延吉市进学街道", "进学街道"),
            ("内蒙古自治区锡林郭勒盟正蓝旗上都镇", "上都镇"),
            ("广东省中山市东区街道", "东区街道"),
            ("湖州市新市镇", "新市镇"),
            ("青岛市市北区", "青岛市市北区"),
            ("浙江省宁波市", "浙江省宁波市"),
            ("阳光小区3幢", "阳光小区3幢"),
            ("和平社区东区5号", "和平社区东区5号"),
            ("臺灣省臺北市", "台湾省台北市"),
            ("", ""),
        ] {
            assert_eq!(Address::parse(raw).comparison_key(), key, "{raw}");
        }
        // 社区 and 小区 are never cut.
        let a = Address::parse("海曙区望春社区");
        assert_eq!(a.comparison_key(), "望春社区");
        assert_eq!(a.community(), Some("望春社区"));
    }

    #[test]
    fn communities_and_villages() {
        let a = Address::parse("鄞州区姜山镇陈家村村委会旁3号");
        assert_eq!(a.street(), Some("姜山镇"));
        assert_eq!(a.community(), Some("陈家村"));
        assert_eq!(a.house_number(), Some("3号"));
        let a = Address::parse("鼓楼街道中山居委会12号");
        assert_eq!(a.community(), Some("中山社区"));
        let a = Address::parse("鼓楼街道中山社区居委会");
        assert_eq!(a.community(), Some("中山社区"));
        let a = Address::parse("曹杨新村路5号");
        assert_eq!(a.community(), None);
        assert_eq!(a.house_number(), Some("5号"));
    }

    #[test]
    fn unknown_formats_are_kept() {
        for raw in ["不详", "同上", "???", "Flat 3, 12 Nathan Road", "12"] {
            let a = Address::parse(raw);
            assert!(!a.is_empty());
            assert_eq!(Address::parse(a.normalized()), a);
        }
    }

    #[test]
    fn serde_round_trip() {
        let a = Address::parse("浙江省宁波市海曙区鼓楼街道中山社区二十三幢五〇二室");
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(json, "\"浙江省宁波市海曙区鼓楼街道中山社区23幢502室\"");
        assert_eq!(serde_json::from_str::<Address>(&json).unwrap(), a);
    }

    proptest! {
        #[test]
        fn never_panics_and_is_idempotent(
            s in prop_oneof![
                "\\PC*",
                "[省市区县镇乡街道社村委会居号室幢单元楼层〇零一二两三十百千#＃0-9 ]{0,24}",
                "[\\u{4E00}-\\u{9FFF}0-9a-z ]{0,20}",
            ]
        ) {
            let a = Address::parse(&s);
            prop_assert_eq!(Address::parse(a.normalized()), a);
        }
    }
}
