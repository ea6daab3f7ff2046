//! Realistic Chinese (and a few minority and foreign) personal names.
//!
//! Surnames follow the national concentration (the top 100 cover about 86% of
//! people), given names follow the fashions of the birth decade, and popular
//! full names (张伟, 王芳, 李娜, …) recur among different people, which is what
//! makes name agreement weak evidence in matching.

use super::random::{chance, pick, DemoRng, Weighted};
use super::Sex;

/// The 100 most common surnames with their approximate share of the
/// population in units of 1/10,000 (公安部 household-register statistics).
#[rustfmt::skip]
pub(crate) static TOP_SURNAMES: [(&str, u32); 100] = [
    ("王", 725), ("李", 719), ("张", 683), ("刘", 538), ("陈", 453),
    ("杨", 308), ("黄", 223), ("赵", 229), ("吴", 205), ("周", 205),
    ("徐", 167), ("孙", 154), ("马", 145), ("朱", 126), ("胡", 131),
    ("郭", 115), ("何", 106), ("高", 100), ("林", 113), ("罗", 86),
    ("郑", 78), ("梁", 71), ("谢", 61), ("宋", 59), ("唐", 58),
    ("许", 56), ("韩", 56), ("冯", 55), ("邓", 54), ("曹", 52),
    ("彭", 51), ("曾", 50), ("肖", 49), ("田", 49), ("董", 48),
    ("袁", 45), ("潘", 44), ("于", 44), ("蒋", 43), ("蔡", 42),
    ("余", 41), ("杜", 40), ("叶", 40), ("程", 38), ("苏", 38),
    ("魏", 37), ("吕", 36), ("丁", 35), ("任", 35), ("沈", 33),
    ("姚", 32), ("卢", 32), ("姜", 31), ("崔", 31), ("钟", 30),
    ("谭", 30), ("陆", 29), ("汪", 28), ("范", 28), ("金", 27),
    ("石", 26), ("廖", 26), ("贾", 25), ("夏", 25), ("韦", 24),
    ("付", 24), ("方", 24), ("白", 23), ("邹", 23), ("孟", 22),
    ("熊", 22), ("秦", 22), ("邱", 21), ("江", 21), ("尹", 21),
    ("薛", 20), ("闫", 20), ("段", 19), ("雷", 19), ("侯", 19),
    ("龙", 18), ("史", 18), ("陶", 17), ("黎", 17), ("贺", 17),
    ("顾", 17), ("毛", 16), ("郝", 16), ("龚", 16), ("邵", 16),
    ("万", 15), ("钱", 15), ("严", 15), ("覃", 15), ("武", 15),
    ("戴", 14), ("莫", 14), ("孔", 14), ("向", 14), ("汤", 13),
];

/// Share of people (in 1/10,000) whose surname is in [`TOP_SURNAMES`].
pub(crate) const TOP_SURNAME_SHARE: u64 = 8_600;

/// Less common surnames, including the Ningbo-flavoured ones (应 翁 邬 竺 虞
/// 俞), polyphonic ones (单 解 仇 区 查 朴 盖 乐) and compound ones (欧阳 司马
/// …). Drawn with decreasing weights in this order.
pub(crate) static RARE_SURNAMES: &[&str] = &[
    "俞", "应", "翁", "邬", "竺", "虞", "庄", "施", "柯", "阮", "倪", "殷", "骆", "邢", "靳", "聂",
    "甘", "蓝", "柴", "饶", "祝", "鲁", "葛", "裴", "管", "童", "屈", "詹", "包", "滕", "温", "关",
    "尤", "伍", "时", "穆", "舒", "庞", "左", "牛", "季", "岳", "齐", "耿", "华", "章", "凌", "游",
    "宁", "娄", "褚", "卞", "缪", "单", "解", "仇", "区", "查", "朴", "盖", "乐", "过", "尉", "眭",
    "隗", "种", "繁", "欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "慕容",
    "令狐", "司徒", "夏侯", "端木", "长孙", "宇文", "澹台", "轩辕", "呼延", "东郭",
];

/// Birth cohorts whose naming fashions differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Era {
    Before1960,
    From1960,
    From1980,
    From2000,
}

impl Era {
    fn of(birth_year: i32) -> Self {
        match birth_year {
            ..1960 => Era::Before1960,
            1960..1980 => Era::From1960,
            1980..2000 => Era::From1980,
            _ => Era::From2000,
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    /// Probability that a composed given name has a single character.
    fn single_char_share(self) -> f64 {
        match self {
            Era::Before1960 => 0.25,
            Era::From1960 => 0.35,
            Era::From1980 => 0.28,
            Era::From2000 => 0.08,
        }
    }
}

/// Fashionable given names per era, most popular first (drawn Zipf-like).
static MALE_FASHION: [&[&str]; 4] = [
    &[
        "建国", "国强", "德明", "福生", "志强", "国华", "建华", "文华", "金根", "根宝", "明德",
        "永康", "荣华", "国庆", "学文", "长林", "宝华", "海龙", "伟", "军", "明", "华", "勇", "平",
        "刚", "林", "阿土",
    ],
    &[
        "伟", "军", "勇", "强", "建军", "刚", "平", "斌", "辉", "杰", "海", "波", "明", "华", "涛",
        "建平", "卫东", "红兵", "文斌", "国平", "立新", "志刚", "卫国", "永刚", "峰", "鹏", "亮",
    ],
    &[
        "伟", "磊", "涛", "鹏", "杰", "超", "浩", "洋", "强", "勇", "军", "斌", "明", "亮", "俊",
        "帅", "凯", "鑫", "宇", "晨", "健", "浩然", "俊杰", "志伟", "晓东", "文杰", "建华", "家豪",
        "子健", "佳豪", "明辉", "宇航", "天宇",
    ],
    &[
        "子轩", "浩然", "宇轩", "浩宇", "俊杰", "子豪", "宇航", "皓轩", "一鸣", "子墨", "沐宸",
        "浩轩", "梓睿", "奕辰", "宇泽", "博文", "天佑", "思远", "子健", "睿", "杰", "浩", "宇",
        "轩", "晨",
    ],
];

/// Fashionable given names per era for women, most popular first.
static FEMALE_FASHION: [&[&str]; 4] = [
    &[
        "秀英", "桂英", "玉兰", "秀兰", "桂兰", "凤英", "秀珍", "玉珍", "翠花", "美华", "彩凤",
        "金花", "素珍", "爱华", "淑华", "兰英", "丽华", "月娥", "小妹", "芳", "英", "珍", "华",
        "红", "梅", "兰",
    ],
    &[
        "丽", "燕", "红", "艳", "萍", "霞", "敏", "玲", "芳", "静", "丽娟", "海燕", "红霞", "丽华",
        "晓红", "春梅", "美玲", "雪梅", "秀娟", "丽萍", "小燕", "玉梅", "娟",
    ],
    &[
        "静", "敏", "婷", "丹", "娜", "丽", "艳", "洁", "琳", "颖", "雪", "倩", "晶", "燕", "慧",
        "芳", "佳", "晓燕", "婷婷", "丹丹", "静怡", "欣", "晓丽", "雅琴", "佳怡", "思雨", "梦瑶",
        "雨婷", "晓雪", "芳芳",
    ],
    &[
        "子涵", "欣怡", "梓涵", "诗涵", "雨桐", "一诺", "梓萱", "可馨", "欣妍", "语桐", "思琪",
        "佳怡", "雨涵", "若汐", "诗琪", "紫涵", "梦琪", "晨曦", "语嫣", "嘉怡", "欣", "怡", "涵",
        "萱", "琪", "婷",
    ],
];

/// Characters composed into given names for men.
static MALE_CHARS: &[&str] = &[
    "伟", "强", "军", "勇", "杰", "涛", "明", "华", "建", "国", "志", "文", "斌", "鹏", "浩", "宇",
    "峰", "俊", "海", "波", "辉", "刚", "磊", "超", "亮", "平", "东", "林", "飞", "龙", "凯", "晨",
    "博", "晓", "家", "天", "子", "成", "振", "永", "瑞", "鑫", "健", "荣", "德", "金", "洪", "春",
    "铭", "轩", "睿", "泽", "毅", "彬", "昊", "阳", "庆", "兴", "忠", "祥",
];

/// Characters composed into given names for women.
static FEMALE_CHARS: &[&str] = &[
    "丽", "芳", "娜", "敏", "静", "秀", "英", "兰", "红", "霞", "玲", "燕", "艳", "娟", "婷", "洁",
    "雪", "梅", "琳", "慧", "丹", "倩", "颖", "萍", "佳", "欣", "怡", "晓", "雅", "琪", "涵", "萱",
    "诗", "思", "雨", "月", "春", "珍", "凤", "美", "玉", "云", "莉", "婧", "薇", "莹", "璐", "桂",
    "华", "彤", "蕾", "悦", "瑶", "妍",
];

/// Given-name pairs parents pick for twins (similar on purpose).
static TWIN_PAIRS: &[(&str, &str)] = &[
    ("子涵", "子轩"),
    ("欣怡", "欣悦"),
    ("浩然", "浩宇"),
    ("佳怡", "佳琪"),
    ("梓涵", "梓轩"),
    ("一鸣", "一诺"),
    ("文博", "文轩"),
    ("雨桐", "雨萱"),
    ("思远", "思源"),
    ("俊杰", "俊豪"),
    ("晨阳", "晨曦"),
    ("丽娟", "丽娜"),
    ("建军", "建国"),
    ("海燕", "海鸥"),
];

/// Uyghur/Kazakh given names (transliterated); full names are
/// `own·father's`, e.g. 阿依古丽·买买提.
static DOT_MALE: &[&str] = &[
    "买买提",
    "艾力",
    "阿不都",
    "吐尔逊",
    "艾买提",
    "努尔",
    "热合曼",
    "阿里木",
    "伊力哈木",
    "麦麦提",
    "艾尼瓦尔",
    "亚森",
    "库尔班",
    "玉素甫",
    "叶尔兰",
    "努尔兰",
];
static DOT_FEMALE: &[&str] = &[
    "阿依古丽",
    "古丽娜尔",
    "热依拉",
    "帕提古丽",
    "迪丽娜尔",
    "古丽巴哈尔",
    "努尔古丽",
    "米热古丽",
    "再努尔",
    "阿依努尔",
    "古丽米拉",
    "阿依加马丽",
];

/// Tibetan names: two two-character parts, no surname (扎西顿珠).
static TIBETAN_PARTS: &[&str] = &[
    "扎西", "次仁", "多吉", "尼玛", "格桑", "顿珠", "平措", "旺堆", "索朗", "罗布",
];
static TIBETAN_FEMALE_PARTS: &[&str] = &["卓玛", "央金", "拉姆", "德吉", "曲珍", "白珍"];

/// Mongolian names without a surname.
static MONGOL_MALE: &[&str] = &["巴特尔", "额尔敦", "朝鲁", "苏和", "巴图", "宝音"];
static MONGOL_FEMALE: &[&str] = &["其其格", "乌兰", "苏日娜", "萨仁", "娜仁", "高娃"];

/// Foreign residents' passport names (surname first, as on a passport).
static FOREIGN_SURNAMES: &[&str] = &[
    "SMITH", "JOHNSON", "MUELLER", "KIM", "PARK", "TANAKA", "SATO", "NGUYEN", "SILVA", "GARCIA",
    "IVANOV", "BROWN", "MARTIN", "ROSSI",
];
static FOREIGN_MALE: &[&str] = &[
    "JOHN", "MICHAEL", "DAVID", "JAMES", "MINJUN", "HIROSHI", "MINH", "CARLOS", "IVAN", "LUCA",
];
static FOREIGN_FEMALE: &[&str] = &[
    "ANNA", "MARIA", "EMMA", "SOYEON", "YUKI", "LAN", "SOFIA", "OLGA", "GIULIA", "SARAH",
];

/// The style in which a person's name is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NameStyle {
    /// Surname + given name (Han and most minorities).
    Chinese,
    /// `own·father's` (Uyghur, Kazakh).
    Dotted,
    /// Two Tibetan parts, no surname.
    Tibetan,
    /// A Mongolian name without surname.
    Mongolian,
}

/// Pre-built weighted tables for drawing names.
pub(crate) struct NamePools {
    surnames: Weighted,
    male_fashion: Vec<Weighted>,
    female_fashion: Vec<Weighted>,
}

/// Share of given names taken from the fashion lists rather than composed.
const FASHION_SHARE: f64 = 0.45;

impl NamePools {
    pub(crate) fn new() -> Self {
        let top_total: u64 = TOP_SURNAMES.iter().map(|(_, w)| u64::from(*w)).sum();
        // Scale to parts per 10^8 so that top:rare is TOP_SURNAME_SHARE:rest.
        let top = TOP_SURNAMES
            .iter()
            .map(|(_, w)| u64::from(*w) * TOP_SURNAME_SHARE * 10_000 / top_total);
        let rare_weights: Vec<f64> = (0..RARE_SURNAMES.len())
            .map(|i| 1.0 / (i as f64 + 8.0))
            .collect();
        let rare_total: f64 = rare_weights.iter().sum();
        let rare_share = (10_000 - TOP_SURNAME_SHARE) as f64 * 10_000.0;
        let rare = rare_weights
            .iter()
            .map(move |w| (w / rare_total * rare_share).round().max(1.0) as u64);
        let zipf = |list: &[&str]| Weighted::new((0..list.len()).map(|i| 1_000 / (i as u64 + 2)));
        Self {
            surnames: Weighted::new(top.chain(rare)),
            male_fashion: MALE_FASHION.iter().map(|l| zipf(l)).collect(),
            female_fashion: FEMALE_FASHION.iter().map(|l| zipf(l)).collect(),
        }
    }

    /// A surname drawn with the national frequencies.
    pub(crate) fn surname(&self, rng: &mut DemoRng) -> &'static str {
        let i = self.surnames.sample(rng);
        TOP_SURNAMES
            .get(i)
            .map(|(s, _)| *s)
            .unwrap_or_else(|| RARE_SURNAMES[i - TOP_SURNAMES.len()])
    }

    /// A surname, preferring `bias` (e.g. 马 for 回族) with probability 0.4.
    pub(crate) fn surname_biased(&self, rng: &mut DemoRng, bias: &[&'static str]) -> &'static str {
        if !bias.is_empty() && chance(rng, 0.4) {
            pick::<&str>(rng, bias)
        } else {
            self.surname(rng)
        }
    }

    /// A given name in the fashion of the birth year.
    pub(crate) fn given(&self, rng: &mut DemoRng, sex: Sex, birth_year: i32) -> String {
        let era = Era::of(birth_year);
        let (fashion, table, chars) = match sex {
            Sex::Male => (
                MALE_FASHION[era.index()],
                &self.male_fashion[era.index()],
                MALE_CHARS,
            ),
            Sex::Female => (
                FEMALE_FASHION[era.index()],
                &self.female_fashion[era.index()],
                FEMALE_CHARS,
            ),
        };
        if chance(rng, FASHION_SHARE) {
            return fashion[table.sample(rng)].to_string();
        }
        let first = pick(rng, chars);
        if chance(rng, era.single_char_share()) {
            return first.to_string();
        }
        let mut second = pick(rng, chars);
        while second == first && !chance(rng, 0.1) {
            second = pick(rng, chars);
        }
        format!("{first}{second}")
    }

    /// Two similar given names for twins.
    pub(crate) fn twin_given(&self, rng: &mut DemoRng) -> (&'static str, &'static str) {
        *pick(rng, TWIN_PAIRS)
    }

    /// A Uyghur/Kazakh given name (the part before the separator).
    pub(crate) fn dotted_given(&self, rng: &mut DemoRng, sex: Sex) -> &'static str {
        match sex {
            Sex::Male => pick::<&str>(rng, DOT_MALE),
            Sex::Female => pick::<&str>(rng, DOT_FEMALE),
        }
    }

    /// A Tibetan name of two parts.
    pub(crate) fn tibetan(&self, rng: &mut DemoRng, sex: Sex) -> String {
        let first = pick(rng, TIBETAN_PARTS);
        let second = match sex {
            Sex::Male => pick(rng, TIBETAN_PARTS),
            Sex::Female => pick(rng, TIBETAN_FEMALE_PARTS),
        };
        format!("{first}{second}")
    }

    /// A Mongolian name without surname.
    pub(crate) fn mongolian(&self, rng: &mut DemoRng, sex: Sex) -> &'static str {
        match sex {
            Sex::Male => pick::<&str>(rng, MONGOL_MALE),
            Sex::Female => pick::<&str>(rng, MONGOL_FEMALE),
        }
    }

    /// A passport-style name, `SURNAME GIVEN`.
    pub(crate) fn foreign(&self, rng: &mut DemoRng, sex: Sex, surname: Option<&str>) -> String {
        let surname = surname.unwrap_or_else(|| *pick(rng, FOREIGN_SURNAMES));
        let given = match sex {
            Sex::Male => pick(rng, FOREIGN_MALE),
            Sex::Female => pick(rng, FOREIGN_FEMALE),
        };
        format!("{surname} {given}")
    }
}

/// Whether `surname` is one of [`TOP_SURNAMES`].
#[cfg(test)]
pub(crate) fn is_top_surname(surname: &str) -> bool {
    TOP_SURNAMES.iter().any(|(s, _)| *s == surname)
}

#[cfg(test)]
mod tests {
    use super::super::random::stream_rng;
    use super::*;

    #[test]
    fn top_surnames_are_distinct() {
        let mut seen: Vec<&str> = TOP_SURNAMES.iter().map(|(s, _)| *s).collect();
        seen.extend(RARE_SURNAMES);
        let n = seen.len();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), n, "a surname is listed twice");
    }

    #[test]
    fn surname_draws_follow_the_table() {
        let pools = NamePools::new();
        let mut rng = stream_rng(3, 3);
        let draws = 50_000;
        let top = (0..draws)
            .filter(|_| is_top_surname(pools.surname(&mut rng)))
            .count();
        let share = top as f64 / draws as f64;
        assert!((0.84..0.88).contains(&share), "top-100 share {share}");
    }
}
