//! Person names: the same person is typed as `张 伟`, `張偉`, `张伟` or
//! `ZHANG Wei` across departments; this module turns each into one
//! normalized form, a simplified (folded) form and a toneless pinyin key so
//! the matcher can compare them at several levels.

use std::fmt;

use pinyin::ToPinyin;
use serde::{Deserialize, Serialize};

use super::text::{half_width_char, is_blank, is_cjk};
use super::traditional::simplify;

/// The separator between parts of a minority (e.g. Uyghur) name.
pub const NAME_SEPARATOR: char = '\u{00B7}';

/// Why a raw string cannot be a person name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameProblem {
    #[error("name is empty")]
    Empty,
    #[error("name has no letters")]
    NoLetters,
    #[error("name contains digits")]
    ContainsDigits,
}

/// A normalized person name. Only obtainable through [`PersonName::parse`],
/// so the derived forms always agree with the normalized one. Serializes as
/// the normalized string; everything else is re-derived when read back.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PersonName {
    normalized: String,
    folded: String,
    surname: String,
    given: String,
    pinyin: String,
    /// Syllables joined by single spaces; `pinyin` is the same without spaces.
    syllables: String,
}

impl PersonName {
    /// Normalizes `raw`: half-width, blanks removed (a single space kept
    /// between words of a Latin-script name), minority-name separators
    /// unified to `·`, then derives the simplified form, surname/given split
    /// and toneless pinyin.
    pub fn parse(raw: &str) -> Result<PersonName, NameProblem> {
        let normalized = normalize(raw);
        if normalized.is_empty() {
            return Err(NameProblem::Empty);
        }
        if normalized.chars().any(char::is_numeric) {
            return Err(NameProblem::ContainsDigits);
        }
        if !normalized.chars().any(char::is_alphabetic) {
            return Err(NameProblem::NoLetters);
        }
        let folded = simplify(&normalized);
        let has_cjk = folded.chars().any(is_cjk);
        let (surname, given, compound) = split_surname(&folded, has_cjk);
        let (pinyin, syllables) = romanize(&folded, has_cjk, &surname, compound);
        Ok(PersonName {
            normalized,
            folded,
            surname,
            given,
            pinyin,
            syllables,
        })
    }

    /// The name as written, cleaned of width, blank and separator noise.
    pub fn normalized(&self) -> &str {
        &self.normalized
    }

    /// [`Self::normalized`] with traditional characters folded to simplified.
    pub fn folded(&self) -> &str {
        &self.folded
    }

    /// Surname (compound surnames such as 欧阳 recognized). Empty for
    /// minority names written with `·`, which have no surname; the first
    /// word for Latin-script names.
    pub fn surname(&self) -> &str {
        &self.surname
    }

    /// Everything after the surname.
    pub fn given(&self) -> &str {
        &self.given
    }

    /// Toneless lower-case pinyin without separators (`zhangwei`), for
    /// homophone comparison and blocking; `ü` is written `v`.
    pub fn pinyin(&self) -> &str {
        &self.pinyin
    }

    /// The pinyin syllables (one per Chinese character; one per word of a
    /// Latin-script name).
    pub fn syllables(&self) -> impl Iterator<Item = &str> {
        self.syllables.split(' ').filter(|s| !s.is_empty())
    }
}

impl fmt::Display for PersonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.normalized)
    }
}

impl TryFrom<String> for PersonName {
    type Error = NameProblem;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        PersonName::parse(&s)
    }
}

impl From<PersonName> for String {
    fn from(n: PersonName) -> String {
        n.normalized
    }
}

fn is_separator(c: char) -> bool {
    matches!(
        c,
        '.' | '\u{00B7}' // · middle dot
            | '\u{0387}' // Greek ano teleia, looks identical
            | '\u{1427}' // ᐧ
            | '\u{2022}' // •
            | '\u{2027}' // ‧
            | '\u{2219}' // ∙
            | '\u{22C5}' // ⋅
            | '\u{30FB}' // ・
            | '\u{318D}' // ㆍ (Korean IMEs)
            | '\u{FF65}' // ･
    )
}

fn is_dash(c: char) -> bool {
    matches!(c, '-' | '\u{2010}' | '\u{2011}' | '\u{2013}' | '\u{2014}')
}

fn normalize(raw: &str) -> String {
    let has_cjk = raw.chars().any(is_cjk);
    let chars: Vec<char> = raw.chars().map(half_width_char).collect();
    let mut out = String::with_capacity(raw.len());
    let mut pending_space = false;
    let mut pending_sep = false;
    let mut last: Option<char> = None;
    for (i, &c) in chars.iter().enumerate() {
        if is_blank(c) {
            pending_space = !has_cjk && last.is_some();
            continue;
        }
        let sep = is_separator(c)
            || (is_dash(c)
                && last.is_some_and(is_cjk)
                && chars[i + 1..]
                    .iter()
                    .find(|&&n| !is_blank(n))
                    .is_some_and(|&n| is_cjk(n)));
        if sep {
            // Leading separators are dropped, runs collapse to one.
            pending_sep = last.is_some();
            pending_space = false;
            continue;
        }
        if pending_sep {
            out.push(NAME_SEPARATOR);
        } else if pending_space {
            out.push(' ');
        }
        pending_sep = false;
        pending_space = false;
        out.push(c);
        last = Some(c);
    }
    out
}

/// Compound surnames and their readings, checked before single ones.
const COMPOUND_SURNAMES: &[(&str, [&str; 2])] = &[
    ("上官", ["shang", "guan"]),
    ("东方", ["dong", "fang"]),
    ("东郭", ["dong", "guo"]),
    ("万俟", ["mo", "qi"]),
    ("令狐", ["ling", "hu"]),
    ("公孙", ["gong", "sun"]),
    ("公羊", ["gong", "yang"]),
    ("公冶", ["gong", "ye"]),
    ("南宫", ["nan", "gong"]),
    ("司马", ["si", "ma"]),
    ("司徒", ["si", "tu"]),
    ("司空", ["si", "kong"]),
    ("呼延", ["hu", "yan"]),
    ("夏侯", ["xia", "hou"]),
    ("太史", ["tai", "shi"]),
    ("宇文", ["yu", "wen"]),
    ("宗政", ["zong", "zheng"]),
    ("尉迟", ["yu", "chi"]),
    ("左丘", ["zuo", "qiu"]),
    ("慕容", ["mu", "rong"]),
    ("拓跋", ["tuo", "ba"]),
    ("欧阳", ["ou", "yang"]),
    ("淳于", ["chun", "yu"]),
    ("澹台", ["tan", "tai"]),
    ("濮阳", ["pu", "yang"]),
    ("独孤", ["du", "gu"]),
    ("申屠", ["shen", "tu"]),
    ("皇甫", ["huang", "fu"]),
    ("端木", ["duan", "mu"]),
    ("诸葛", ["zhu", "ge"]),
    ("赫连", ["he", "lian"]),
    ("轩辕", ["xuan", "yuan"]),
    ("西门", ["xi", "men"]),
    ("钟离", ["zhong", "li"]),
    ("长孙", ["zhang", "sun"]),
    ("闻人", ["wen", "ren"]),
    ("闾丘", ["lv", "qiu"]),
    ("鲜于", ["xian", "yu"]),
];

/// Surnames whose reading differs from the character's most common one
/// (单 is shan as a surname, dan otherwise), plus a few pinned for safety.
const SURNAME_READINGS: &[(char, &str)] = &[
    ('么', "yao"),
    ('乐', "yue"),
    ('仇', "qiu"),
    ('任', "ren"),
    ('区', "ou"),
    ('华', "hua"),
    ('单', "shan"),
    ('卜', "bu"),
    ('句', "gou"),
    ('召', "shao"),
    ('员', "yun"),
    ('宓', "mi"),
    ('宿', "su"),
    ('寻', "xun"),
    ('尉', "wei"),
    ('折', "she"),
    ('曾', "zeng"),
    ('朝', "chao"),
    ('朴', "piao"),
    ('柏', "bai"),
    ('查', "zha"),
    ('査', "zha"),
    ('沈', "shen"),
    ('燕', "yan"),
    ('盖', "ge"),
    ('盛', "sheng"),
    ('石', "shi"),
    ('种', "chong"),
    ('秘', "bi"),
    ('繁', "po"),
    ('纪', "ji"),
    ('缪', "miao"),
    ('翟', "zhai"),
    ('葛', "ge"),
    ('薄', "bo"),
    ('藏', "zang"),
    ('覃', "qin"),
    ('解', "xie"),
    ('车', "che"),
    ('过', "guo"),
    ('都', "du"),
    ('重', "chong"),
    ('阚', "kan"),
    ('隗', "wei"),
    ('黑', "he"),
];

fn compound_surname(name: &str) -> Option<(&'static str, [&'static str; 2])> {
    // A two-character name like 欧阳 is surname 欧 + given 阳.
    if name.chars().count() < 3 {
        return None;
    }
    COMPOUND_SURNAMES
        .iter()
        .find(|(s, _)| name.starts_with(s))
        .copied()
}

/// (surname, given, is_compound)
fn split_surname(folded: &str, has_cjk: bool) -> (String, String, bool) {
    if has_cjk {
        if folded.contains(NAME_SEPARATOR) {
            return (String::new(), folded.to_owned(), false);
        }
        if let Some((s, _)) = compound_surname(folded) {
            return (s.to_owned(), folded[s.len()..].to_owned(), true);
        }
        let mut it = folded.chars();
        let first = it.next().map(String::from).unwrap_or_default();
        return (first, it.as_str().to_owned(), false);
    }
    match folded.split_once(' ') {
        Some((s, g)) => (s.to_owned(), g.to_owned(), false),
        None => (String::new(), folded.to_owned(), false),
    }
}

fn push_syllable(key: &mut String, spaced: &mut String, syl: &str) {
    if !spaced.is_empty() {
        spaced.push(' ');
    }
    for c in syl.chars() {
        let c = if c == 'ü' { 'v' } else { c };
        key.push(c);
        spaced.push(c);
    }
}

/// (key without spaces, syllables joined by spaces)
fn romanize(folded: &str, has_cjk: bool, surname: &str, compound: bool) -> (String, String) {
    let mut key = String::with_capacity(folded.len() * 2);
    let mut spaced = String::with_capacity(folded.len() * 3);
    let mut rest = folded;
    if has_cjk && !surname.is_empty() {
        if compound {
            if let Some((_, [a, b])) = compound_surname(folded) {
                push_syllable(&mut key, &mut spaced, a);
                push_syllable(&mut key, &mut spaced, b);
                rest = &folded[surname.len()..];
            }
        } else if let Some(c) = surname.chars().next() {
            if let Ok(i) = SURNAME_READINGS.binary_search_by_key(&c, |p| p.0) {
                if let Some((_, r)) = SURNAME_READINGS.get(i) {
                    push_syllable(&mut key, &mut spaced, r);
                    rest = &folded[c.len_utf8()..];
                }
            }
        }
    }
    let mut in_word = false;
    for c in rest.chars() {
        if let Some(p) = c.to_pinyin() {
            push_syllable(&mut key, &mut spaced, p.plain());
            in_word = false;
        } else if is_cjk(c) {
            // A rare character without a known reading stands for itself.
            let mut buf = [0u8; 4];
            push_syllable(&mut key, &mut spaced, c.encode_utf8(&mut buf));
            in_word = false;
        } else if c.is_alphabetic() {
            if !in_word && !spaced.is_empty() {
                spaced.push(' ');
            }
            for l in c.to_lowercase() {
                key.push(l);
                spaced.push(l);
            }
            in_word = true;
        } else {
            in_word = false;
        }
    }
    (key, spaced)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(s: &str) -> PersonName {
        PersonName::parse(s).expect(s)
    }

    #[test]
    fn surname_reading_table_is_sorted() {
        assert!(SURNAME_READINGS.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn spaces_are_removed_from_chinese_names() {
        let n = p("张 伟");
        assert_eq!(n.normalized(), "张伟");
        assert_eq!(n.surname(), "张");
        assert_eq!(n.given(), "伟");
        assert_eq!(n.pinyin(), "zhangwei");
        assert_eq!(n.syllables().collect::<Vec<_>>(), ["zhang", "wei"]);
        assert_eq!(p("\u{3000}张\u{200B}伟\t").normalized(), "张伟");
    }

    #[test]
    fn traditional_folds_to_simplified() {
        let n = p("張偉");
        assert_eq!(n.normalized(), "張偉");
        assert_eq!(n.folded(), "张伟");
        assert_eq!(n.surname(), "张");
        assert_eq!(n.pinyin(), "zhangwei");
        assert_eq!(p("歐陽修").surname(), "欧阳");
    }

    #[test]
    fn polyphonic_surnames_use_surname_reading() {
        assert_eq!(p("单雄信").pinyin(), "shanxiongxin");
        assert_eq!(p("曾国藩").pinyin(), "zengguofan");
        assert_eq!(p("解缙").pinyin(), "xiejin");
        assert_eq!(p("区家明").pinyin(), "oujiaming");
        assert_eq!(p("朴正熙").pinyin(), "piaozhengxi");
        // Only the surname position is overridden: 单 as a given name is dan.
        assert_eq!(p("李单").pinyin(), "lidan");
        assert_eq!(p("吕女").pinyin(), "lvnv");
    }

    #[test]
    fn compound_surnames() {
        let n = p("尉迟恭");
        assert_eq!(n.surname(), "尉迟");
        assert_eq!(n.given(), "恭");
        assert_eq!(n.pinyin(), "yuchigong");
        let n = p("欧阳 修");
        assert_eq!(n.surname(), "欧阳");
        assert_eq!(n.given(), "修");
        assert_eq!(n.pinyin(), "ouyangxiu");
        assert_eq!(p("万俟卨").surname(), "万俟");
        assert_eq!(p("诸葛亮").pinyin(), "zhugeliang");
        // Two characters: surname 欧, given 阳.
        assert_eq!(p("欧阳").surname(), "欧");
    }

    #[test]
    fn minority_separators_unify() {
        for raw in [
            "阿依古丽.买买提",
            "阿依古丽・买买提",
            "阿依古丽•买买提",
            "阿依古丽‧买买提",
            "阿依古丽．买买提",
            "阿依古丽·买买提",
            "阿依古丽ᐧ买买提",
            "阿依古丽-买买提",
            "阿依古丽 · 买买提",
            "·阿依古丽··买买提.",
        ] {
            let n = p(raw);
            assert_eq!(n.normalized(), "阿依古丽·买买提", "{raw}");
            assert_eq!(n.surname(), "", "{raw}");
            assert_eq!(n.pinyin(), "ayigulimaimaiti", "{raw}");
        }
        // Without a separator the name is kept as written.
        assert_eq!(p("阿依古丽买买提").normalized(), "阿依古丽买买提");
    }

    #[test]
    fn latin_names() {
        let n = p("ＬＩ　Ｍｉｎｇ");
        assert_eq!(n.normalized(), "LI Ming");
        assert_eq!(n.surname(), "LI");
        assert_eq!(n.given(), "Ming");
        assert_eq!(n.pinyin(), "liming");
        assert_eq!(n.syllables().collect::<Vec<_>>(), ["li", "ming"]);
        assert_eq!(
            p("  Jean-Pierre   DUPONT ").normalized(),
            "Jean-Pierre DUPONT"
        );
        assert_eq!(p("Jean-Pierre DUPONT").pinyin(), "jeanpierredupont");
    }

    #[test]
    fn problems() {
        assert_eq!(PersonName::parse(""), Err(NameProblem::Empty));
        assert_eq!(
            PersonName::parse(" \u{3000}\u{200B}"),
            Err(NameProblem::Empty)
        );
        assert_eq!(PersonName::parse("···"), Err(NameProblem::Empty));
        assert_eq!(PersonName::parse("？？"), Err(NameProblem::NoLetters));
        assert_eq!(PersonName::parse("张三1"), Err(NameProblem::ContainsDigits));
        assert_eq!(
            PersonName::parse("张三１"),
            Err(NameProblem::ContainsDigits)
        );
        assert_eq!(
            NameProblem::ContainsDigits.to_string(),
            "name contains digits"
        );
    }

    #[test]
    fn serializes_as_normalized_string() {
        let n = p("張 偉");
        let json = serde_json::to_string(&n).unwrap();
        assert_eq!(json, "\"張偉\"");
        let back: PersonName = serde_json::from_str(&json).unwrap();
        assert_eq!(back, n);
        assert!(serde_json::from_str::<PersonName>("\"123\"").is_err());
    }

    proptest! {
        #[test]
        fn never_panics_and_is_idempotent(
            s in prop_oneof![
                "\\PC*",
                "[张張欧阳尉迟单曾 ·.・\\-－　ＡａA-Za-z]{0,12}",
                "[\\u{4E00}-\\u{9FFF}\\u{3400}-\\u{4DBF}\\u{20000}-\\u{2A6DF}]{0,8}",
            ]
        ) {
            if let Ok(n) = PersonName::parse(&s) {
                let again = PersonName::parse(n.normalized()).expect("re-parse");
                prop_assert_eq!(again, n);
            }
        }
    }
}
