//! How each department's copy of a person goes wrong: the corruption rates per
//! source (one table, [`NOISE_TABLE`]) and the corruptions themselves.
//!
//! The rates are what a district actually sees: hand-typed civil-affairs Excel
//! ledgers are the dirtiest, the social-insurance (人社) system, which checks
//! numbers against the national database, the cleanest.

use chrono::{Datelike, NaiveDate};
use rand::Rng;
use serde::Serialize;

use super::random::{chance, pick, DemoRng};
use super::Department;

/// Corruption rates of one department's records. Each is a probability per
/// record; rates "of X" apply only to records where X is possible.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct NoiseRates {
    /// Identity number left blank.
    pub id_missing: f64,
    /// Extra chance of a blank identity number for migrants, registered from
    /// what they say rather than from a card.
    pub id_missing_migrant: f64,
    /// Old 15-digit form: area + YYMMDD + sequence (of people born before 2000).
    pub id_15_digit: f64,
    /// One digit of the 18-digit number mistyped.
    pub id_typo: f64,
    /// Two adjacent digits swapped.
    pub id_transposition: f64,
    /// Check character `X` typed as `x` (of numbers ending in X).
    pub id_lowercase_x: f64,
    /// One character replaced by another with the same pinyin (伟→玮).
    pub name_homophone: f64,
    /// One character replaced by a look-alike (侯→候, 王→玉), when the name has one.
    pub name_lookalike: f64,
    /// Whole name in traditional characters (张伟→張偉).
    pub name_traditional: f64,
    /// A space (ASCII or U+3000) inside or after the name (张 伟).
    pub name_space: f64,
    /// Separator of `own·father's` names written `.`, `・`, `•` or left out
    /// (of dotted minority names).
    pub name_separator: f64,
    /// Name left blank (a row typed half-way). yici cannot match such a
    /// record and quarantines it, so the sample shows the quarantine at work.
    pub name_missing: f64,
    /// Day and month of the birth date swapped (of dates with day ≤ 12).
    pub birth_day_month_swap: f64,
    /// No phone recorded.
    pub phone_missing: f64,
    /// The person's previous mobile instead of the current one (of people
    /// who changed number).
    pub phone_old: f64,
    /// Address written in a non-canonical form (prefix dropped, full-width
    /// digits, 十二号, `#` for 号, `3-1-302`, no community).
    pub address_variant: f64,
    /// The address before a move within the district (of households that moved).
    pub address_old: f64,
    /// The same person registered a second time under another key, with
    /// slight variations.
    pub duplicate: f64,
}

impl NoiseRates {
    /// `(field name, rate)` in declaration order, for tables and reports.
    pub fn fields(&self) -> [(&'static str, f64); 18] {
        [
            ("id_missing", self.id_missing),
            ("id_missing_migrant", self.id_missing_migrant),
            ("id_15_digit", self.id_15_digit),
            ("id_typo", self.id_typo),
            ("id_transposition", self.id_transposition),
            ("id_lowercase_x", self.id_lowercase_x),
            ("name_homophone", self.name_homophone),
            ("name_lookalike", self.name_lookalike),
            ("name_traditional", self.name_traditional),
            ("name_space", self.name_space),
            ("name_separator", self.name_separator),
            ("name_missing", self.name_missing),
            ("birth_day_month_swap", self.birth_day_month_swap),
            ("phone_missing", self.phone_missing),
            ("phone_old", self.phone_old),
            ("address_variant", self.address_variant),
            ("address_old", self.address_old),
            ("duplicate", self.duplicate),
        ]
    }
}

/// The corruption rates of every department, in one place. The README of
/// each generated sample renders this table.
pub const NOISE_TABLE: [(Department, NoiseRates); 4] = [
    // 民政: Excel ledgers typed by community social workers from paper forms.
    (
        Department::CivilAffairs,
        NoiseRates {
            id_missing: 0.01,
            id_missing_migrant: 0.0,
            id_15_digit: 0.03,
            id_typo: 0.02,
            id_transposition: 0.007,
            id_lowercase_x: 0.4,
            name_homophone: 0.015,
            name_lookalike: 0.005,
            name_traditional: 0.01,
            name_space: 0.05,
            name_separator: 0.6,
            name_missing: 0.002,
            birth_day_month_swap: 0.01,
            phone_missing: 0.08,
            phone_old: 0.4,
            address_variant: 0.35,
            address_old: 0.4,
            duplicate: 0.015,
        },
    ),
    // 卫健: resident health archives, created at clinics, often for children
    // and the elderly without a card at hand.
    (
        Department::Health,
        NoiseRates {
            id_missing: 0.03,
            id_missing_migrant: 0.01,
            id_15_digit: 0.005,
            id_typo: 0.01,
            id_transposition: 0.003,
            id_lowercase_x: 0.1,
            name_homophone: 0.015,
            name_lookalike: 0.003,
            name_traditional: 0.002,
            name_space: 0.01,
            name_separator: 0.3,
            name_missing: 0.001,
            birth_day_month_swap: 0.005,
            phone_missing: 0.05,
            phone_old: 0.3,
            address_variant: 0.15,
            address_old: 0.3,
            duplicate: 0.01,
        },
    ),
    // 人社: social insurance, numbers verified against the national database.
    (
        Department::Hr,
        NoiseRates {
            id_missing: 0.0,
            id_missing_migrant: 0.0,
            id_15_digit: 0.0,
            id_typo: 0.003,
            id_transposition: 0.001,
            id_lowercase_x: 0.0,
            name_homophone: 0.003,
            name_lookalike: 0.0005,
            name_traditional: 0.0,
            name_space: 0.001,
            name_separator: 0.1,
            name_missing: 0.0,
            birth_day_month_swap: 0.001,
            phone_missing: 0.1,
            phone_old: 0.2,
            address_variant: 0.2,
            address_old: 0.3,
            duplicate: 0.003,
        },
    ),
    // 综治: grid workers' door-to-door register; addresses fresh, migrants'
    // numbers often unknown.
    (
        Department::Governance,
        NoiseRates {
            id_missing: 0.01,
            id_missing_migrant: 0.04,
            id_15_digit: 0.005,
            id_typo: 0.008,
            id_transposition: 0.003,
            id_lowercase_x: 0.05,
            name_homophone: 0.01,
            name_lookalike: 0.003,
            name_traditional: 0.001,
            name_space: 0.02,
            name_separator: 0.2,
            name_missing: 0.0005,
            birth_day_month_swap: 0.003,
            phone_missing: 0.04,
            phone_old: 0.1,
            address_variant: 0.05,
            address_old: 0.05,
            duplicate: 0.01,
        },
    ),
];

/// The corruption rates of `department`.
pub fn noise_rates(department: Department) -> &'static NoiseRates {
    NOISE_TABLE
        .iter()
        .find(|(d, _)| *d == department)
        .map(|(_, r)| r)
        .unwrap_or(&NOISE_TABLE[0].1)
}

/// One corruption applied to a record (kept on the record for evaluation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Noise {
    IdMissing,
    Id15Digit,
    IdTypo,
    IdTransposition,
    IdLowercaseX,
    NameHomophone,
    NameLookalike,
    NameTraditional,
    NameSpace,
    NameSeparator,
    NameMissing,
    BirthDayMonthSwap,
    PhoneMissing,
    PhoneOld,
    AddressVariant,
    AddressOld,
    /// The record is the second registration of a person in the system.
    Duplicate,
}

/// Groups of characters with the same (toneless) pinyin; a homophone typo
/// replaces a character by another of its group.
static HOMOPHONES: &[&[char]] = &[
    &['伟', '玮', '炜', '威', '薇'],
    &['丽', '莉', '俪', '利', '力', '立'],
    &['军', '君', '均', '钧'],
    &['静', '婧', '靖', '敬', '晶', '菁'],
    &['华', '桦', '骅', '铧'],
    &['明', '铭', '鸣', '名'],
    &['杰', '洁', '婕', '捷'],
    &['芳', '方', '舫'],
    &['敏', '闵', '珉'],
    &['勇', '涌', '永', '咏'],
    &['磊', '蕾', '垒'],
    &['洋', '阳', '扬', '杨', '旸'],
    &['涛', '韬', '滔'],
    &['强', '蔷'],
    &['艳', '燕', '彦', '雁', '妍'],
    &['娟', '鹃'],
    &['霞', '侠'],
    &['平', '萍', '苹', '坪'],
    &['刚', '钢', '纲'],
    &['辉', '晖', '徽'],
    &['玲', '铃', '伶', '羚', '凌'],
    &['琳', '林', '霖', '淋'],
    &['红', '宏', '鸿', '洪', '虹'],
    &['英', '瑛', '莹', '颖', '盈'],
    &['兰', '岚', '澜', '蓝'],
    &['梅', '玫', '媚'],
    &['秀', '绣'],
    &['建', '健', '剑'],
    &['国', '帼'],
    &['涵', '晗', '含', '函'],
    &['轩', '萱', '宣', '瑄'],
    &['浩', '昊', '皓', '灏'],
    &['宇', '雨', '语', '羽', '禹'],
    &['欣', '新', '馨', '鑫', '心'],
    &['怡', '宜', '仪', '颐'],
    &['子', '梓', '紫'],
    &['晨', '辰', '臣', '宸', '陈'],
    &['诗', '师', '施'],
    &['婷', '亭', '庭', '霆'],
    &['文', '雯', '闻'],
    &['佳', '家', '嘉', '加'],
    &['思', '斯', '丝'],
    &['晓', '小', '筱'],
    &['志', '智', '至', '治'],
    &['峰', '锋', '丰', '枫'],
    &['斌', '彬', '滨', '宾'],
    &['飞', '菲', '霏'],
    &['慧', '惠', '蕙'],
    &['鹏', '朋', '彭'],
    &['琴', '勤', '芹', '秦'],
    &['玉', '钰', '昱', '煜'],
    &['彤', '童', '桐', '同'],
    &['凯', '恺', '楷'],
    &['俊', '骏', '峻'],
    &['瑶', '遥', '尧'],
    &['睿', '瑞', '锐'],
    &['泽', '则', '择'],
    &['珍', '真', '贞'],
    &['荣', '蓉', '容', '融'],
    &['云', '芸', '昀'],
    &['张', '章'],
    &['王', '汪'],
    &['李', '黎', '理'],
    &['刘', '柳'],
    &['徐', '许'],
    &['吴', '武', '伍'],
    &['程', '成', '承'],
    &['肖', '萧'],
    &['于', '余', '俞'],
    &['黄', '皇'],
    &['朱', '诸'],
    &['郑', '正'],
    &['谢', '解'],
];

/// Characters that look alike; a look-alike typo swaps within a group.
static LOOKALIKES: &[&[char]] = &[
    &['己', '已', '巳'],
    &['未', '末'],
    &['戊', '戌', '戍'],
    &['侯', '候'],
    &['汩', '汨'],
    &['王', '玉'],
    &['土', '士'],
    &['天', '夭'],
    &['田', '由', '甲'],
    &['今', '令'],
    &['冶', '治'],
    &['白', '自'],
    &['人', '入'],
    &['祎', '袆'],
    &['徐', '涂'],
    &['晴', '睛'],
    &['崇', '祟'],
    &['免', '兔'],
    &['折', '析'],
];

/// Simplified → traditional for the characters common in names.
#[rustfmt::skip]
static TRADITIONAL: &[(char, char)] = &[
    ('张', '張'), ('伟', '偉'), ('刘', '劉'), ('陈', '陳'), ('杨', '楊'), ('黄', '黃'),
    ('赵', '趙'), ('吴', '吳'), ('郑', '鄭'), ('谢', '謝'), ('韩', '韓'), ('冯', '馮'),
    ('邓', '鄧'), ('叶', '葉'), ('苏', '蘇'), ('吕', '呂'), ('卢', '盧'), ('钟', '鍾'),
    ('谭', '譚'), ('陆', '陸'), ('贾', '賈'), ('韦', '韋'), ('邹', '鄒'), ('龙', '龍'),
    ('顾', '顧'), ('龚', '龔'), ('钱', '錢'), ('严', '嚴'), ('汤', '湯'), ('孙', '孫'),
    ('马', '馬'), ('许', '許'), ('罗', '羅'), ('蒋', '蔣'), ('闫', '閆'), ('贺', '賀'),
    ('万', '萬'), ('丽', '麗'), ('军', '軍'), ('华', '華'), ('杰', '傑'), ('静', '靜'),
    ('强', '強'), ('艳', '艷'), ('涛', '濤'), ('兰', '蘭'), ('红', '紅'), ('刚', '剛'),
    ('辉', '輝'), ('凤', '鳳'), ('国', '國'), ('东', '東'), ('飞', '飛'), ('鹏', '鵬'),
    ('轩', '軒'), ('诗', '詩'), ('晓', '曉'), ('云', '雲'), ('荣', '榮'), ('贵', '貴'),
    ('宝', '寶'), ('庆', '慶'), ('长', '長'), ('发', '發'), ('义', '義'), ('凯', '凱'),
    ('颖', '穎'), ('岚', '嵐'), ('进', '進'), ('帅', '帥'), ('阳', '陽'), ('丰', '豐'),
    ('爱', '愛'), ('宁', '寧'), ('梦', '夢'), ('铭', '銘'), ('乐', '樂'), ('书', '書'),
    ('学', '學'), ('卫', '衛'), ('兴', '興'), ('远', '遠'), ('达', '達'), ('胜', '勝'),
    ('泽', '澤'), ('骏', '駿'), ('玮', '瑋'), ('炜', '煒'), ('莹', '瑩'), ('钰', '鈺'),
    ('萧', '蕭'),
];

/// Separators clerks type instead of `·` in `own·father's` names.
const SEPARATOR_VARIANTS: [&str; 4] = [".", "・", "•", ""];

fn group_of(groups: &'static [&'static [char]], c: char) -> Option<&'static [char]> {
    groups.iter().copied().find(|g| g.contains(&c))
}

/// Replaces one character that has a sibling in `groups`, preferring the
/// given name; `None` when no character has one.
fn swap_in_group(
    rng: &mut DemoRng,
    name: &str,
    surname_chars: u8,
    groups: &'static [&'static [char]],
) -> Option<String> {
    let chars: Vec<char> = name.chars().collect();
    let candidates: Vec<usize> = (0..chars.len())
        .filter(|&i| group_of(groups, chars[i]).is_some())
        .collect();
    if candidates.is_empty() {
        return None;
    }
    let given: Vec<usize> = candidates
        .iter()
        .copied()
        .filter(|&i| i >= usize::from(surname_chars))
        .collect();
    let i = if !given.is_empty() && chance(rng, 0.85) {
        *pick(rng, &given)
    } else {
        *pick(rng, &candidates)
    };
    let group = group_of(groups, chars[i])?;
    let others: Vec<char> = group.iter().copied().filter(|&c| c != chars[i]).collect();
    let mut out = chars;
    out[i] = *pick(rng, &others);
    Some(out.into_iter().collect())
}

/// A homophone typo (张伟→张玮), if the name has a character with one.
pub(crate) fn homophone(rng: &mut DemoRng, name: &str, surname_chars: u8) -> Option<String> {
    swap_in_group(rng, name, surname_chars, HOMOPHONES)
}

/// A look-alike typo (侯→候), if the name has a character with one.
pub(crate) fn lookalike(rng: &mut DemoRng, name: &str, surname_chars: u8) -> Option<String> {
    swap_in_group(rng, name, surname_chars, LOOKALIKES)
}

/// The name in traditional characters, if any character differs.
pub(crate) fn traditional(name: &str) -> Option<String> {
    let out: String = name
        .chars()
        .map(|c| {
            TRADITIONAL
                .iter()
                .find(|(s, _)| *s == c)
                .map_or(c, |(_, t)| *t)
        })
        .collect();
    (out != name).then_some(out)
}

/// The name with a stray space: after the surname (张 伟, 张　伟), between
/// every character, or trailing.
pub(crate) fn space(rng: &mut DemoRng, name: &str, surname_chars: u8) -> String {
    let sp = if chance(rng, 0.4) { '\u{3000}' } else { ' ' };
    let chars: Vec<char> = name.chars().collect();
    let roll = rng.random::<f64>();
    if roll < 0.15 || chars.len() < 2 {
        return format!("{name}{sp}");
    }
    if roll < 0.3 {
        let mut out = String::new();
        for (i, c) in chars.iter().enumerate() {
            if i > 0 {
                out.push(sp);
            }
            out.push(*c);
        }
        return out;
    }
    let at = match usize::from(surname_chars) {
        0 => chars.len() / 2,
        n => n.min(chars.len() - 1),
    };
    let mut out: String = chars[..at].iter().collect();
    out.push(sp);
    out.extend(&chars[at..]);
    out
}

/// The dotted name with another separator (阿依古丽.买买提, 阿依古丽买买提).
pub(crate) fn separator(rng: &mut DemoRng, name: &str) -> String {
    name.replace('·', pick::<&str>(rng, &SEPARATOR_VARIANTS))
}

/// The old 15-digit form of an 18-digit number of someone born in the 1900s.
pub(crate) fn fifteen_digit(id18: &str) -> Option<String> {
    if id18.len() != 18 || !id18.is_ascii() || &id18[6..8] != "19" {
        return None;
    }
    Some(format!("{}{}{}", &id18[..6], &id18[8..14], &id18[14..17]))
}

/// One digit of `id` replaced by a different digit.
pub(crate) fn digit_typo(rng: &mut DemoRng, id: &str) -> String {
    let mut bytes = id.as_bytes().to_vec();
    if bytes.is_empty() {
        return id.to_string();
    }
    let i = rng.random_range(0..bytes.len());
    let old = bytes[i];
    let mut new = b'0' + rng.random_range(0..10u8);
    while new == old {
        new = b'0' + rng.random_range(0..10u8);
    }
    bytes[i] = new;
    String::from_utf8(bytes).unwrap_or_else(|_| id.to_string())
}

/// Two adjacent, different characters of `id` swapped (falls back to a typo).
pub(crate) fn transposition(rng: &mut DemoRng, id: &str) -> String {
    let bytes = id.as_bytes();
    let positions: Vec<usize> = (0..bytes.len().saturating_sub(1))
        .filter(|&i| bytes[i] != bytes[i + 1])
        .collect();
    if positions.is_empty() {
        return digit_typo(rng, id);
    }
    let i = *pick(rng, &positions);
    let mut out = bytes.to_vec();
    out.swap(i, i + 1);
    String::from_utf8(out).unwrap_or_else(|_| id.to_string())
}

/// The birth date with day and month swapped, when that is a different valid date.
pub(crate) fn day_month_swap(date: NaiveDate) -> Option<NaiveDate> {
    if date.day() == date.month() || date.day() > 12 {
        return None;
    }
    NaiveDate::from_ymd_opt(date.year(), date.day(), date.month())
}

#[cfg(test)]
mod tests {
    use super::super::random::stream_rng;
    use super::*;

    #[test]
    fn table_covers_each_department_once_with_probabilities() {
        for d in Department::ALL {
            assert_eq!(NOISE_TABLE.iter().filter(|(x, _)| *x == d).count(), 1);
        }
        for (_, r) in NOISE_TABLE {
            let v = serde_json::to_value(r).unwrap();
            assert_eq!(
                v.as_object().unwrap().len(),
                r.fields().len(),
                "fields() is complete"
            );
            for (k, x) in r.fields() {
                assert_eq!(v[k].as_f64(), Some(x), "{k}");
                assert!((0.0..=1.0).contains(&x), "{k} = {x}");
            }
        }
    }

    #[test]
    fn groups_do_not_overlap() {
        for groups in [HOMOPHONES, LOOKALIKES] {
            let mut all: Vec<char> = groups.iter().flat_map(|g| g.iter().copied()).collect();
            let n = all.len();
            all.sort_unstable();
            all.dedup();
            assert_eq!(all.len(), n);
        }
    }

    #[test]
    fn corruptions() {
        let mut rng = stream_rng(1, 1);
        let h = homophone(&mut rng, "张伟", 1).unwrap();
        assert_ne!(h, "张伟");
        assert_eq!(h.chars().count(), 2);
        assert_eq!(lookalike(&mut rng, "侯明", 1).as_deref(), Some("候明"));
        assert_eq!(traditional("张伟").as_deref(), Some("張偉"));
        assert_eq!(traditional("丁一"), None);
        assert_eq!(
            fifteen_digit("33020319850307123X").as_deref(),
            Some("330203850307123")
        );
        assert_eq!(fifteen_digit("330203200503071234"), None);
        let t = transposition(&mut rng, "330203198503071234");
        assert_ne!(t, "330203198503071234");
        assert_eq!(digit_typo(&mut rng, "1111").len(), 4);
        let d = NaiveDate::from_ymd_opt(1985, 3, 7).unwrap();
        assert_eq!(day_month_swap(d), NaiveDate::from_ymd_opt(1985, 7, 3));
        assert!(space(&mut rng, "张伟", 1).contains([' ', '\u{3000}']));
        assert!(!separator(&mut rng, "阿依古丽·买买提").contains('·'));
    }
}
