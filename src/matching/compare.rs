//! Comparisons with levels: for each field, how closely two records agree,
//! from exact agreement down to plain disagreement. A missing value on
//! either side is no level at all (`None`), which the model weighs as 0.
//!
//! The levels encode the errors Chinese resident data actually carries: a
//! 15-digit identity number never upgraded, one mistyped or two swapped
//! digits, traditional characters, homophones typed through pinyin input,
//! day and month swapped, an address written with or without its district.

use serde::{Deserialize, Serialize};

use super::features::{AddressKey, Birth, Features, IdKey, NameKey};
use crate::model::text::is_cjk;

/// A compared field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    IdNumber,
    Name,
    FormerName,
    BirthDate,
    Sex,
    Phone,
    Address,
}

/// How closely two values agree. Each field uses a subset, strongest first
/// (see [`Field::levels`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Identical.
    Exact,
    /// Identity number: equal once the 15-digit form is upgraded.
    Upgraded15,
    /// Name: equal after folding traditional to simplified characters.
    Folded,
    /// Name: same toneless pinyin (homophone typed through an input method).
    Homophone,
    /// Name: Jaro–Winkler ≥ 0.9 on characters, or a Latin-script name
    /// with a word left out. Address: Latin-script, Jaro–Winkler ≥ 0.9.
    Similar,
    /// Name (Latin script): one word agrees exactly, the others do not.
    OnePart,
    /// Identity number: one digit different. Birth date: one digit
    /// different or two adjacent digits swapped.
    OneDigit,
    /// Identity number: two adjacent digits swapped.
    Transposed,
    /// Birth date: day and month swapped.
    DayMonthSwapped,
    /// Birth date: year and month equal, day different or unknown.
    YearMonth,
    /// Address: same street (or community) and house number.
    SameHouse,
    /// Address: same community.
    SameCommunity,
    /// Phone: at least one number shared. Former name: one record's former
    /// name is the other's name.
    Shared,
    /// Sex: equal.
    Agree,
    /// Present on both sides and not equal at any level above.
    Different,
}

impl Field {
    /// Every field, in the order explanations list them.
    pub const ALL: [Field; 7] = [
        Field::IdNumber,
        Field::Name,
        Field::FormerName,
        Field::BirthDate,
        Field::Sex,
        Field::Phone,
        Field::Address,
    ];

    /// The levels this field's comparison can produce, strongest first;
    /// the last is always [`Level::Different`].
    pub fn levels(self) -> &'static [Level] {
        use Level::*;
        match self {
            Field::IdNumber => &[Exact, Upgraded15, OneDigit, Transposed, Different],
            Field::Name => &[Exact, Folded, Homophone, Similar, OnePart, Different],
            Field::FormerName => &[Shared, Different],
            Field::BirthDate => &[Exact, DayMonthSwapped, YearMonth, OneDigit, Different],
            Field::Sex => &[Agree, Different],
            Field::Phone => &[Shared, Different],
            Field::Address => &[Exact, SameHouse, Similar, SameCommunity, Different],
        }
    }

    /// Position in [`Field::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// The config and model-file spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Field::IdNumber => "id_number",
            Field::Name => "name",
            Field::FormerName => "former_name",
            Field::BirthDate => "birth_date",
            Field::Sex => "sex",
            Field::Phone => "phone",
            Field::Address => "address",
        }
    }

    /// Compares this field of two records.
    pub fn compare(self, a: &Features, b: &Features) -> Option<Level> {
        match self {
            Field::IdNumber => compare_id(a.id.as_ref()?, b.id.as_ref()?),
            Field::Name => compare_names(a.name.as_ref()?, b.name.as_ref()?),
            Field::FormerName => compare_former_names(a, b),
            Field::BirthDate => compare_births(a.birth?, b.birth?),
            Field::Sex => Some(if a.sex? == b.sex? {
                Level::Agree
            } else {
                Level::Different
            }),
            Field::Phone => compare_phones(&a.phones, &b.phones),
            Field::Address => compare_addresses(&a.addresses, &b.addresses),
        }
    }
}

impl Level {
    /// The model-file spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Exact => "exact",
            Level::Upgraded15 => "upgraded_15",
            Level::Folded => "folded",
            Level::Homophone => "homophone",
            Level::Similar => "similar",
            Level::OnePart => "one_part",
            Level::OneDigit => "one_digit",
            Level::Transposed => "transposed",
            Level::DayMonthSwapped => "day_month_swapped",
            Level::YearMonth => "year_month",
            Level::SameHouse => "same_house",
            Level::SameCommunity => "same_community",
            Level::Shared => "shared",
            Level::Agree => "agree",
            Level::Different => "different",
        }
    }
}

impl std::fmt::Display for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Identity numbers. A valid resident identity number says nothing about
/// a passport or permit number; any other two numbers compare (a passport
/// number is often typed into the identity-number column).
pub fn compare_id(a: &IdKey, b: &IdKey) -> Option<Level> {
    if (a.valid && b.other_document.is_some()) || (b.valid && a.other_document.is_some()) {
        return None;
    }
    if a.number == b.number {
        return Some(if a.upgraded_from_15 != b.upgraded_from_15 {
            Level::Upgraded15
        } else {
            Level::Exact
        });
    }
    Some(digit_typo(&a.number, &b.number).unwrap_or(Level::Different))
}

/// Whether two valid identity numbers are so different that they cannot
/// belong to one person (more than a single typo apart).
pub fn ids_conflict(a: &str, b: &str) -> bool {
    a != b && digit_typo(a, b).is_none()
}

/// One character different, or two adjacent characters swapped, between
/// strings of equal length.
fn digit_typo(a: &str, b: &str) -> Option<Level> {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return None;
    }
    let diffs: Vec<usize> = (0..a.len()).filter(|&i| a[i] != b[i]).collect();
    match diffs.as_slice() {
        [_] => Some(Level::OneDigit),
        [i, j] if *j == i + 1 && a[*i] == b[*j] && a[*j] == b[*i] => Some(Level::Transposed),
        _ => None,
    }
}

/// Names, strongest agreement first.
pub fn compare_names(a: &NameKey, b: &NameKey) -> Option<Level> {
    if a.normalized == b.normalized {
        return Some(Level::Exact);
    }
    let latin = LatinWords::of(&a.folded, &b.folded);
    if a.folded == b.folded
        || (!a.letters.is_empty() && a.letters == b.letters)
        || latin.as_ref().is_some_and(LatinWords::same_words)
    {
        return Some(Level::Folded);
    }
    if !a.pinyin.is_empty() && a.pinyin == b.pinyin {
        return Some(Level::Homophone);
    }
    // Jaro–Winkler on characters: close for Latin-script names with a
    // typo; Chinese names one character apart stay below 0.9, rightly —
    // siblings share a surname and often a generation character (李佳怡,
    // 李佳琪), so such a pair is evidence of a family, not of one person.
    if strsim::jaro_winkler(&a.folded, &b.folded) >= 0.9
        || latin.as_ref().is_some_and(LatinWords::close_words)
    {
        return Some(Level::Similar);
    }
    if latin.as_ref().is_some_and(LatinWords::one_part) {
        return Some(Level::OnePart);
    }
    Some(Level::Different)
}

/// The words of two Latin-script names (lower-case letters only), for the
/// comparisons Chinese names do not need: word order, a word left out, a
/// typo in each word, one part replaced.
struct LatinWords {
    a: Vec<String>,
    b: Vec<String>,
}

impl LatinWords {
    /// `None` unless both names are Latin-script and one has several words.
    fn of(a: &str, b: &str) -> Option<LatinWords> {
        if a.chars().any(is_cjk) || b.chars().any(is_cjk) || !(a.contains(' ') || b.contains(' ')) {
            return None;
        }
        let split = |n: &str| -> Vec<String> {
            n.split(' ')
                .map(|w| {
                    w.chars()
                        .filter(|c| c.is_alphabetic())
                        .flat_map(char::to_lowercase)
                        .collect()
                })
                .filter(|w: &String| !w.is_empty())
                .collect()
        };
        let (a, b) = (split(a), split(b));
        (!a.is_empty() && !b.is_empty()).then_some(LatinWords { a, b })
    }

    fn shorter_longer(&self) -> (&[String], &[String]) {
        if self.a.len() <= self.b.len() {
            (&self.a, &self.b)
        } else {
            (&self.b, &self.a)
        }
    }

    /// The same words in another order (`HUXLEY Claudia`, `claudia huxley`).
    fn same_words(&self) -> bool {
        let (mut x, mut y) = (self.a.clone(), self.b.clone());
        x.sort_unstable();
        y.sort_unstable();
        x == y
    }

    /// Every word of the shorter name has its own close word in the longer
    /// one (Jaro–Winkler ≥ 0.88), in any order: a typo per word, or a word
    /// left out (`rundle` and `georgia rundle`).
    fn close_words(&self) -> bool {
        let (short, long) = self.shorter_longer();
        let mut used = vec![false; long.len()];
        short.iter().all(|w| {
            let best = (0..long.len())
                .filter(|&k| !used[k])
                .map(|k| (k, strsim::jaro_winkler(w, &long[k])))
                .max_by(|x, y| x.1.total_cmp(&y.1));
            match best {
                Some((k, score)) if score >= 0.88 => {
                    used[k] = true;
                    true
                }
                _ => false,
            }
        })
    }

    /// One word (a surname, a given name) agrees exactly, the rest does
    /// not: weak evidence, a family or one person under another given name.
    fn one_part(&self) -> bool {
        self.a
            .iter()
            .any(|w| w.chars().count() > 1 && self.b.contains(w))
    }
}

/// One record's former name against the other's name (or former names).
fn compare_former_names(a: &Features, b: &Features) -> Option<Level> {
    if a.former_names.is_empty() && b.former_names.is_empty() {
        return None;
    }
    fn names(f: &Features) -> Vec<&NameKey> {
        f.name.iter().chain(&f.former_names).collect()
    }
    let same = |x: &NameKey, y: &NameKey| x.folded == y.folded || x.pinyin == y.pinyin;
    let (na, nb) = (names(a), names(b));
    if na.is_empty() || nb.is_empty() {
        return None;
    }
    let hit = a.former_names.iter().any(|f| nb.iter().any(|n| same(f, n)))
        || b.former_names.iter().any(|f| na.iter().any(|n| same(f, n)));
    Some(if hit { Level::Shared } else { Level::Different })
}

/// Birth dates; a date known only to the month agrees at most on year and
/// month.
pub fn compare_births(a: Birth, b: Birth) -> Option<Level> {
    if a == b {
        return Some(if a.day.is_some() {
            Level::Exact
        } else {
            Level::YearMonth
        });
    }
    if let (Some(da), Some(db)) = (a.day, b.day) {
        if a.year == b.year && a.month == db && a.day == Some(b.month) {
            return Some(Level::DayMonthSwapped);
        }
        if a.year == b.year && a.month == b.month {
            return Some(Level::YearMonth);
        }
        let text = |y: i32, m: u32, d: u32| format!("{y:04}{m:02}{d:02}");
        // One keystroke: a digit mistyped or two swapped.
        if digit_typo(&text(a.year, a.month, da), &text(b.year, b.month, db)).is_some() {
            return Some(Level::OneDigit);
        }
        return Some(Level::Different);
    }
    Some(if a.year == b.year && a.month == b.month {
        Level::YearMonth
    } else {
        Level::Different
    })
}

/// Any phone in common.
pub fn compare_phones(a: &[String], b: &[String]) -> Option<Level> {
    if a.is_empty() || b.is_empty() {
        return None;
    }
    Some(if a.iter().any(|p| b.contains(p)) {
        Level::Shared
    } else {
        Level::Different
    })
}

/// The best agreement between any address of one record and any of the
/// other's.
pub fn compare_addresses(a: &[AddressKey], b: &[AddressKey]) -> Option<Level> {
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let levels = Field::Address.levels();
    a.iter()
        .flat_map(|x| b.iter().map(move |y| address_level(x, y)))
        .min_by_key(|l| levels.iter().position(|x| x == l))
}

fn address_level(a: &AddressKey, b: &AddressKey) -> Level {
    if a.key == b.key {
        return Level::Exact;
    }
    let same = |x: &Option<String>, y: &Option<String>| x.is_some() && x == y;
    let same_house = same(&a.house_number, &b.house_number);
    if same_house && (same(&a.street, &b.street) || same(&a.community, &b.community)) {
        return Level::SameHouse;
    }
    // Latin-script addresses carry no recognizable parts; a typo leaves
    // them close as strings. (Chinese addresses next door to each other are
    // close as strings too, so they do not get this level.)
    if !a.key.chars().any(is_cjk)
        && !b.key.chars().any(is_cjk)
        && strsim::jaro_winkler(&a.key, &b.key) >= 0.9
    {
        return Level::Similar;
    }
    if same(&a.community, &b.community) {
        return Level::SameCommunity;
    }
    Level::Different
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matching::testing::{features, id as id_json};

    fn id(number: &str) -> Features {
        features(serde_json::json!({ "id_document": id_json(number) }))
    }

    fn name(n: &str) -> Features {
        features(serde_json::json!({ "name": n }))
    }

    fn birth(d: &str) -> Features {
        features(serde_json::json!({ "birth_date": d }))
    }

    fn address(a: &str) -> Features {
        features(serde_json::json!({ "current_address": a }))
    }

    #[test]
    fn identity_number_levels() {
        let base = id("11010519491231002X");
        let cmp = |other: &str| Field::IdNumber.compare(&base, &id(other));
        assert_eq!(cmp("11010519491231002x"), Some(Level::Exact));
        // One digit mistyped: the check digit fails, still one digit apart.
        assert_eq!(cmp("11010519491231003X"), Some(Level::OneDigit));
        // Two adjacent digits swapped.
        assert_eq!(cmp("11010519491213002X"), Some(Level::Transposed));
        assert_eq!(cmp("330203198001011234"), Some(Level::Different));
        assert_eq!(Field::IdNumber.compare(&base, &name("张伟")), None);
    }

    #[test]
    fn fifteen_digit_number_equals_its_upgrade() {
        let old = id("110105491231002");
        let new = id("11010519491231002X");
        assert_eq!(Field::IdNumber.compare(&old, &new), Some(Level::Upgraded15));
    }

    #[test]
    fn other_documents_do_not_compare_with_resident_numbers() {
        let passport = features(serde_json::json!({
            "id_document": {"kind": "other_document", "doc_type": "passport", "number": "E12345678"}
        }));
        assert_eq!(
            Field::IdNumber.compare(&passport, &id("11010519491231002X")),
            None
        );
        assert_eq!(
            Field::IdNumber.compare(&passport, &passport),
            Some(Level::Exact)
        );
    }

    #[test]
    fn conflicting_ids_allow_one_typo() {
        assert!(!ids_conflict("11010519491231002X", "11010519491231003X"));
        assert!(!ids_conflict("11010519491231002X", "11010519491213002X"));
        assert!(ids_conflict("11010519491231002X", "330203198001011234"));
        assert!(!ids_conflict("11010519491231002X", "11010519491231002X"));
    }

    #[test]
    fn name_levels() {
        let cmp = |a: &str, b: &str| Field::Name.compare(&name(a), &name(b));
        assert_eq!(cmp("张伟", "张 伟"), Some(Level::Exact));
        assert_eq!(cmp("張偉", "张伟"), Some(Level::Folded));
        assert_eq!(cmp("古丽米拉·亚森", "古丽米拉亚森"), Some(Level::Folded));
        assert_eq!(cmp("JOHNSON, EMMA", "Johnson Emma"), Some(Level::Folded));
        assert_eq!(cmp("张伟", "章玮"), Some(Level::Homophone));
        assert_eq!(cmp("欧阳小明", "欧阳晓明"), Some(Level::Homophone));
        assert_eq!(cmp("王建国", "王建军"), Some(Level::Different));
        assert_eq!(cmp("李佳怡", "李佳琪"), Some(Level::Different));
        assert_eq!(cmp("张伟", "张玮玮"), Some(Level::Different));
        assert_eq!(cmp("张伟", "李娜"), Some(Level::Different));
        assert_eq!(
            cmp("Jonathan Smith", "Jonathon Smith"),
            Some(Level::Similar)
        );
    }

    #[test]
    fn former_names_match_current_names() {
        let renamed = features(serde_json::json!({"name": "李思远", "former_names": ["李狗蛋"]}));
        let old = name("李狗蛋");
        assert_eq!(
            Field::FormerName.compare(&renamed, &old),
            Some(Level::Shared)
        );
        assert_eq!(
            Field::FormerName.compare(&renamed, &name("王五")),
            Some(Level::Different)
        );
        assert_eq!(Field::FormerName.compare(&old, &name("王五")), None);
    }

    #[test]
    fn birth_date_levels() {
        let cmp = |a: &str, b: &str| Field::BirthDate.compare(&birth(a), &birth(b));
        assert_eq!(cmp("1985-03-12", "1985年3月12日"), Some(Level::Exact));
        assert_eq!(
            cmp("1985-03-12", "1985-12-03"),
            Some(Level::DayMonthSwapped)
        );
        assert_eq!(cmp("1985-03-12", "1985-03-21"), Some(Level::YearMonth));
        assert_eq!(cmp("1985-03-12", "1986-03-12"), Some(Level::OneDigit));
        assert_eq!(cmp("1955-03-09", "1950-03-09"), Some(Level::OneDigit));
        assert_eq!(cmp("1985-03-12", "1995-07-30"), Some(Level::Different));
        assert_eq!(cmp("1985-03", "1985-03-12"), Some(Level::YearMonth));
        assert_eq!(cmp("1985-03", "1985-04"), Some(Level::Different));
    }

    #[test]
    fn sex_and_phone_levels() {
        let m = features(
            serde_json::json!({"sex": "male", "phones": ["13812345678", "0574-87654321"]}),
        );
        let f = features(serde_json::json!({"sex": "female", "phones": ["0574-87654321"]}));
        let none = features(serde_json::json!({"phones": ["无"]}));
        assert_eq!(Field::Sex.compare(&m, &f), Some(Level::Different));
        assert_eq!(Field::Sex.compare(&m, &m), Some(Level::Agree));
        assert_eq!(Field::Sex.compare(&m, &none), None);
        assert_eq!(Field::Phone.compare(&m, &f), Some(Level::Shared));
        assert_eq!(Field::Phone.compare(&m, &none), None);
        let other = features(serde_json::json!({"phones": ["13900000000"]}));
        assert_eq!(Field::Phone.compare(&m, &other), Some(Level::Different));
    }

    #[test]
    fn address_levels() {
        let cmp = |a: &str, b: &str| Field::Address.compare(&address(a), &address(b));
        assert_eq!(
            cmp(
                "浙江省宁波市海曙区鼓楼街道中山社区二十三幢五〇二室",
                "鼓楼街道中山社区23幢502室"
            ),
            Some(Level::Exact)
        );
        assert_eq!(
            cmp("鼓楼街道中山社区23幢502室", "鼓楼街道23幢502室"),
            Some(Level::SameHouse)
        );
        assert_eq!(
            cmp("鼓楼街道中山社区23幢502室", "鼓楼街道中山社区7幢101室"),
            Some(Level::SameCommunity)
        );
        assert_eq!(
            cmp("鼓楼街道中山社区23幢502室", "南门街道柳汀社区1幢1室"),
            Some(Level::Different)
        );
        assert_eq!(
            cmp("12 north ryde road 2464 vic", "12 northryyde road 2464 vic"),
            Some(Level::Similar)
        );
        assert_eq!(
            cmp("鼓楼街道中山社区23幢502室", "鼓楼街道中山社区23幢503室"),
            Some(Level::SameCommunity)
        );
    }
}
