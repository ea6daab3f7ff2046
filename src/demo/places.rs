//! Where the sample people live and come from: the home district (宁波市海曙区)
//! with its streets, communities and roads, the GB/T 2260 areas that identity
//! numbers start with, the GB 3304 ethnicities, and how addresses are written.

use super::random::{chance, pick, DemoRng};

/// Province and city prefix of every home-district address.
pub(crate) const PROVINCE: &str = "浙江省";
pub(crate) const CITY: &str = "宁波市";
pub(crate) const DISTRICT: &str = "海曙区";
/// GB/T 2260 code of the home district; also the head of grid codes.
pub(crate) const DISTRICT_CODE: &str = "330203";

/// A street (街道) or town (镇) of the home district.
pub(crate) struct Street {
    pub(crate) name: &'static str,
    /// Communities (社区) or villages (村); addresses in villages use 组/号.
    pub(crate) communities: &'static [&'static str],
    /// Roads used by urban addresses in this street.
    pub(crate) roads: &'static [&'static str],
    /// Relative number of households living here.
    pub(crate) weight: u32,
}

/// The streets and towns of the home district, in code order (001, 002, …).
pub(crate) static STREETS: &[Street] = &[
    Street {
        name: "鼓楼街道",
        communities: &[
            "中山社区",
            "孝闻社区",
            "秀水社区",
            "呼童社区",
            "县学社区",
            "公园社区",
        ],
        roads: &["中山西路", "公园路", "蔡家弄", "镇明路", "呼童街"],
        weight: 10,
    },
    Street {
        name: "南门街道",
        communities: &["尚书社区", "长春社区", "紫金社区", "大沙泥社区", "柳汀社区"],
        roads: &["柳汀街", "解放南路", "尚书街", "长春路", "苍水街"],
        weight: 12,
    },
    Street {
        name: "西门街道",
        communities: &["新芝社区", "宝兴社区", "翠柏社区", "新典社区", "广仁社区"],
        roads: &["望春路", "新芝路", "翠柏路", "西河街", "环城西路"],
        weight: 12,
    },
    Street {
        name: "月湖街道",
        communities: &["青石社区", "天一社区", "银杏社区", "平桥社区"],
        roads: &["偃月街", "镇明路", "孝闻街", "长春路"],
        weight: 8,
    },
    Street {
        name: "白云街道",
        communities: &["丽园社区", "信谊社区", "云乐社区", "白云社区", "安丰社区"],
        roads: &["丽园北路", "云乐路", "气象路", "环城西路"],
        weight: 12,
    },
    Street {
        name: "段塘街道",
        communities: &["南苑社区", "春晖社区", "新星社区", "段塘社区", "南雅社区"],
        roads: &["环城南路", "南苑街", "启运路", "新典路"],
        weight: 12,
    },
    Street {
        name: "石碶街道",
        communities: &["石碶社区", "星光村", "栎社村", "冯家村", "雅戈尔社区"],
        roads: &["雅戈尔大道", "石碶街", "鄞县大道"],
        weight: 10,
    },
    Street {
        name: "集士港镇",
        communities: &["集士港村", "深溪村", "万众村", "山下庄村", "集士港社区"],
        roads: &["集士港路", "四明西路"],
        weight: 8,
    },
    Street {
        name: "古林镇",
        communities: &["古林村", "薛家村", "张家潭村", "蜃蛟村", "古林社区"],
        roads: &["古林路", "布政路"],
        weight: 8,
    },
    Street {
        name: "高桥镇",
        communities: &["高桥村", "望春村", "岐阳村", "新联村", "高桥社区"],
        roads: &["高桥路", "望春工业园区路"],
        weight: 8,
    },
];

/// A GB/T 2260 county-level area that identity numbers start with.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Area {
    pub(crate) code: &'static str,
    /// Province + city + county as written in a 户籍地址.
    pub(crate) name: &'static str,
    pub(crate) weight: u32,
}

/// Areas of locally registered residents (most were born in 海曙).
#[rustfmt::skip]
pub(crate) static LOCAL_AREAS: &[Area] = &[
    Area { code: "330203", name: "浙江省宁波市海曙区", weight: 70 },
    Area { code: "330212", name: "浙江省宁波市鄞州区", weight: 10 },
    Area { code: "330205", name: "浙江省宁波市江北区", weight: 5 },
    Area { code: "330206", name: "浙江省宁波市北仑区", weight: 3 },
    Area { code: "330211", name: "浙江省宁波市镇海区", weight: 3 },
    Area { code: "330281", name: "浙江省宁波市余姚市", weight: 3 },
    Area { code: "330282", name: "浙江省宁波市慈溪市", weight: 3 },
    Area { code: "330226", name: "浙江省宁波市宁海县", weight: 2 },
    Area { code: "330102", name: "浙江省杭州市上城区", weight: 1 },
];

/// Areas migrants (流动人口) come from: other provinces, weighted like the
/// real inflow to Ningbo (安徽, 江西, 河南, 贵州, 四川, … first).
#[rustfmt::skip]
pub(crate) static MIGRANT_AREAS: &[Area] = &[
    Area { code: "340102", name: "安徽省合肥市瑶海区", weight: 6 },
    Area { code: "341221", name: "安徽省阜阳市临泉县", weight: 8 },
    Area { code: "360102", name: "江西省南昌市东湖区", weight: 8 },
    Area { code: "410102", name: "河南省郑州市中原区", weight: 9 },
    Area { code: "520102", name: "贵州省贵阳市南明区", weight: 9 },
    Area { code: "510104", name: "四川省成都市锦江区", weight: 6 },
    Area { code: "511623", name: "四川省广安市邻水县", weight: 4 },
    Area { code: "420102", name: "湖北省武汉市江岸区", weight: 6 },
    Area { code: "430102", name: "湖南省长沙市芙蓉区", weight: 6 },
    Area { code: "530102", name: "云南省昆明市五华区", weight: 5 },
    Area { code: "500103", name: "重庆市渝中区", weight: 5 },
    Area { code: "370102", name: "山东省济南市历下区", weight: 3 },
    Area { code: "320102", name: "江苏省南京市玄武区", weight: 3 },
    Area { code: "350102", name: "福建省福州市鼓楼区", weight: 2 },
    Area { code: "450102", name: "广西壮族自治区南宁市兴宁区", weight: 3 },
    Area { code: "440106", name: "广东省广州市天河区", weight: 1 },
    Area { code: "610102", name: "陕西省西安市新城区", weight: 2 },
    Area { code: "620102", name: "甘肃省兰州市城关区", weight: 2 },
    Area { code: "640104", name: "宁夏回族自治区银川市兴庆区", weight: 1 },
    Area { code: "650102", name: "新疆维吾尔自治区乌鲁木齐市天山区", weight: 1 },
    Area { code: "110105", name: "北京市朝阳区", weight: 1 },
    Area { code: "310104", name: "上海市徐汇区", weight: 1 },
    Area { code: "130102", name: "河北省石家庄市长安区", weight: 1 },
    Area { code: "140105", name: "山西省太原市小店区", weight: 1 },
    Area { code: "150102", name: "内蒙古自治区呼和浩特市新城区", weight: 1 },
    Area { code: "210102", name: "辽宁省沈阳市和平区", weight: 1 },
    Area { code: "220102", name: "吉林省长春市南关区", weight: 1 },
    Area { code: "230102", name: "黑龙江省哈尔滨市道里区", weight: 1 },
    Area { code: "460105", name: "海南省海口市秀英区", weight: 1 },
    Area { code: "540102", name: "西藏自治区拉萨市城关区", weight: 0 },
    Area { code: "630102", name: "青海省西宁市城东区", weight: 0 },
];

/// The migrant area with `code` (used for minorities' home regions).
pub(crate) fn migrant_area(code: &str) -> Option<usize> {
    MIGRANT_AREAS.iter().position(|a| a.code == code)
}

/// Towns and roads written in migrants' home (户籍) addresses.
static ORIGIN_TOWNS: &[&str] = &[
    "城关镇",
    "新集镇",
    "王庄乡",
    "城南街道",
    "东城街道",
    "李店镇",
];
static ORIGIN_VILLAGES: &[&str] = &["张庄村", "刘湾村", "河口村", "新民村", "大王村", "石桥村"];
static ORIGIN_ROADS: &[&str] = &["人民路", "解放路", "建设路", "中山路", "和平路", "胜利路"];

/// A GB 3304 ethnicity and how its members are named and where they come from.
pub(crate) struct Ethnicity {
    pub(crate) code: u8,
    pub(crate) name: &'static str,
    /// Households per 10,000.
    pub(crate) weight: u32,
    pub(crate) style: super::names::NameStyle,
    /// Surnames this group prefers (drawn 40% of the time).
    pub(crate) surnames: &'static [&'static str],
    /// GB/T 2260 code of the usual home region of migrants of this group.
    pub(crate) home: &'static str,
}

use super::names::NameStyle::{Chinese, Dotted, Mongolian, Tibetan};

/// The ethnicities present in the sample (01 汉族 about 91% of people).
#[rustfmt::skip]
pub(crate) static ETHNICITIES: &[Ethnicity] = &[
    Ethnicity { code: 1, name: "汉族", weight: 9_100, style: Chinese, surnames: &[], home: "" },
    Ethnicity { code: 5, name: "维吾尔族", weight: 180, style: Dotted, surnames: &[], home: "650102" },
    Ethnicity { code: 17, name: "哈萨克族", weight: 30, style: Dotted, surnames: &[], home: "650102" },
    Ethnicity { code: 3, name: "回族", weight: 100, style: Chinese, surnames: &["马", "白", "丁", "杨"], home: "640104" },
    Ethnicity { code: 8, name: "壮族", weight: 160, style: Chinese, surnames: &["韦", "覃", "黄", "蒙", "陆"], home: "450102" },
    Ethnicity { code: 11, name: "满族", weight: 90, style: Chinese, surnames: &["关", "佟", "那", "赵"], home: "210102" },
    Ethnicity { code: 6, name: "苗族", weight: 90, style: Chinese, surnames: &["龙", "吴", "杨"], home: "520102" },
    Ethnicity { code: 7, name: "彝族", weight: 60, style: Chinese, surnames: &["阿", "马", "沙"], home: "530102" },
    Ethnicity { code: 15, name: "土家族", weight: 80, style: Chinese, surnames: &["向", "田", "彭"], home: "430102" },
    Ethnicity { code: 9, name: "布依族", weight: 30, style: Chinese, surnames: &["韦", "罗", "王"], home: "520102" },
    Ethnicity { code: 12, name: "侗族", weight: 30, style: Chinese, surnames: &["吴", "杨", "石"], home: "520102" },
    Ethnicity { code: 13, name: "瑶族", weight: 20, style: Chinese, surnames: &["盘", "赵", "邓"], home: "450102" },
    Ethnicity { code: 10, name: "朝鲜族", weight: 15, style: Chinese, surnames: &["金", "朴", "李", "崔"], home: "220102" },
    Ethnicity { code: 14, name: "白族", weight: 15, style: Chinese, surnames: &["段", "杨", "赵"], home: "530102" },
    Ethnicity { code: 4, name: "藏族", weight: 20, style: Tibetan, surnames: &[], home: "630102" },
    Ethnicity { code: 2, name: "蒙古族", weight: 20, style: Mongolian, surnames: &[], home: "150102" },
];

/// The name of GB 3304 ethnicity `code` (汉族, 维吾尔族, …).
pub(crate) fn ethnicity_name(code: u8) -> &'static str {
    ETHNICITIES
        .iter()
        .find(|e| e.code == code)
        .map_or("其他", |e| e.name)
}

/// An address in the home district, stored compactly and written on demand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Address {
    /// Index into the street table (code = index + 1).
    pub street: u8,
    /// Index into the street's communities.
    pub community: u8,
    /// Index into the street's roads (urban) — unused in villages.
    pub road: u8,
    /// House number (号).
    pub number: u16,
    /// Building (幢) in urban estates, group (组) in villages; 0 = none.
    pub building: u8,
    /// Unit (单元); 0 = none.
    pub unit: u8,
    /// Room (室); 0 = none.
    pub room: u16,
}

impl Address {
    /// A random address in the home district.
    pub(crate) fn random(rng: &mut DemoRng, street: usize) -> Self {
        let s = &STREETS[street];
        let community = rand::Rng::random_range(rng, 0..s.communities.len());
        let village = s.communities[community].ends_with('村');
        if village {
            return Address {
                street: street as u8,
                community: community as u8,
                road: 0,
                number: rand::Rng::random_range(rng, 1..=180),
                building: rand::Rng::random_range(rng, 1..=12),
                unit: 0,
                room: 0,
            };
        }
        let estate = chance(rng, 0.85);
        Address {
            street: street as u8,
            community: community as u8,
            road: rand::Rng::random_range(rng, 0..s.roads.len()) as u8,
            number: rand::Rng::random_range(rng, 1..=520),
            building: if estate {
                rand::Rng::random_range(rng, 1..=30)
            } else {
                0
            },
            unit: if estate {
                rand::Rng::random_range(rng, 1..=4)
            } else {
                0
            },
            room: if estate {
                rand::Rng::random_range(rng, 1..=18u16) * 100
                    + rand::Rng::random_range(rng, 1..=4u16)
            } else {
                0
            },
        }
    }

    /// The street this address is in.
    pub fn street_name(&self) -> &'static str {
        STREETS[usize::from(self.street)].name
    }

    /// The community (社区/村) this address is in.
    pub fn community_name(&self) -> &'static str {
        STREETS[usize::from(self.street)].communities[usize::from(self.community)]
    }

    /// Three-digit street code used in grid and archive numbers.
    pub fn street_code(&self) -> u16 {
        u16::from(self.street) + 1
    }

    /// Whether the address is in a village (组/号 instead of road/room).
    pub fn is_village(&self) -> bool {
        self.community_name().ends_with('村')
    }

    /// The address as written by a careful clerk: full prefix, community,
    /// ASCII digits (浙江省宁波市海曙区鼓楼街道中山社区中山西路12号3幢1单元302室).
    pub fn canonical(&self) -> String {
        self.format(&AddressFormat::CANONICAL)
    }

    /// The address written with `fmt`.
    pub(crate) fn format(&self, fmt: &AddressFormat) -> String {
        let mut out = String::with_capacity(96);
        match fmt.prefix {
            Prefix::Province => {
                out.push_str(PROVINCE);
                out.push_str(CITY);
                out.push_str(DISTRICT);
            }
            Prefix::City => {
                out.push_str(CITY);
                out.push_str(DISTRICT);
            }
            Prefix::District => out.push_str(DISTRICT),
            Prefix::Street => {}
        }
        out.push_str(self.street_name());
        if fmt.community || self.is_village() {
            out.push_str(self.community_name());
        }
        let num = |out: &mut String, n: u32| push_number(out, n, fmt.digits);
        if self.is_village() {
            num(&mut out, u32::from(self.building));
            out.push('组');
            num(&mut out, u32::from(self.number));
            out.push_str(if fmt.hash { "#" } else { "号" });
            return out;
        }
        out.push_str(STREETS[usize::from(self.street)].roads[usize::from(self.road)]);
        num(&mut out, u32::from(self.number));
        out.push_str(if fmt.hash { "#" } else { "号" });
        if self.building == 0 {
            return out;
        }
        if fmt.dashed {
            // 12号3-1-302: building-unit-room, as clerks abbreviate it.
            let digits = if fmt.digits == Digits::Chinese {
                Digits::Ascii
            } else {
                fmt.digits
            };
            push_number(&mut out, u32::from(self.building), digits);
            out.push('-');
            push_number(&mut out, u32::from(self.unit), digits);
            out.push('-');
            push_number(&mut out, u32::from(self.room), digits);
            return out;
        }
        num(&mut out, u32::from(self.building));
        out.push('幢');
        num(&mut out, u32::from(self.unit));
        out.push_str("单元");
        // Rooms are read digit by digit, never as 三百零二.
        let room_digits = if fmt.digits == Digits::Chinese {
            Digits::Ascii
        } else {
            fmt.digits
        };
        push_number(&mut out, u32::from(self.room), room_digits);
        out.push('室');
        out
    }
}

/// How much of the administrative prefix an address starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Prefix {
    Province,
    City,
    District,
    Street,
}

/// How numbers are written in an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Digits {
    Ascii,
    /// Full-width digits (１２号).
    FullWidth,
    /// Chinese numerals (十二号).
    Chinese,
}

/// The ways clerks write the same address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AddressFormat {
    pub(crate) prefix: Prefix,
    pub(crate) community: bool,
    pub(crate) digits: Digits,
    /// `#` instead of 号.
    pub(crate) hash: bool,
    /// `3-1-302` instead of 3幢1单元302室.
    pub(crate) dashed: bool,
}

impl AddressFormat {
    pub(crate) const CANONICAL: AddressFormat = AddressFormat {
        prefix: Prefix::Province,
        community: true,
        digits: Digits::Ascii,
        hash: false,
        dashed: false,
    };

    /// One or two random deviations from the canonical form.
    pub(crate) fn variant(rng: &mut DemoRng) -> Self {
        let mut fmt = Self::CANONICAL;
        let deviations = if chance(rng, 0.3) { 2 } else { 1 };
        for _ in 0..deviations {
            match rand::Rng::random_range(rng, 0..7) {
                0 => fmt.prefix = Prefix::City,
                1 => fmt.prefix = *pick(rng, &[Prefix::District, Prefix::Street]),
                2 => fmt.community = false,
                3 => fmt.digits = Digits::FullWidth,
                4 => fmt.digits = Digits::Chinese,
                5 => fmt.hash = true,
                _ => fmt.dashed = true,
            }
        }
        fmt
    }
}

/// Appends `n` written with `digits`.
fn push_number(out: &mut String, n: u32, digits: Digits) {
    match digits {
        Digits::Ascii => out.push_str(&n.to_string()),
        Digits::FullWidth => out.extend(
            n.to_string()
                .chars()
                .map(|c| char::from_u32(u32::from(c) - u32::from('0') + 0xFF10).unwrap_or(c)),
        ),
        Digits::Chinese => out.push_str(&chinese_number(n)),
    }
}

/// `n` (0–9999) in Chinese numerals: 12 → 十二, 302 → 三百零二, 110 → 一百一十.
pub(crate) fn chinese_number(n: u32) -> String {
    const DIGITS: [char; 10] = ['零', '一', '二', '三', '四', '五', '六', '七', '八', '九'];
    const UNITS: [&str; 4] = ["千", "百", "十", ""];
    if n == 0 {
        return "零".into();
    }
    if n > 9999 {
        return n.to_string();
    }
    if (10..20).contains(&n) {
        let mut s = String::from("十");
        if !n.is_multiple_of(10) {
            s.push(DIGITS[(n % 10) as usize]);
        }
        return s;
    }
    let parts = [n / 1000, n / 100 % 10, n / 10 % 10, n % 10];
    let mut out = String::new();
    let mut pending_zero = false;
    let mut started = false;
    for (i, &d) in parts.iter().enumerate() {
        if d == 0 {
            pending_zero = started;
            continue;
        }
        if pending_zero {
            out.push('零');
            pending_zero = false;
        }
        out.push(DIGITS[d as usize]);
        out.push_str(UNITS[i]);
        started = true;
    }
    out
}

/// A migrant's home (户籍) address in `area`.
pub(crate) fn origin_address(rng: &mut DemoRng, area: &Area) -> String {
    let town = pick(rng, ORIGIN_TOWNS);
    if chance(rng, 0.6) {
        let village = pick(rng, ORIGIN_VILLAGES);
        let group = rand::Rng::random_range(rng, 1..=9);
        let number = rand::Rng::random_range(rng, 1..=99);
        format!("{}{town}{village}{group}组{number}号", area.name)
    } else {
        let road = pick(rng, ORIGIN_ROADS);
        let number = rand::Rng::random_range(rng, 1..=300);
        format!("{}{town}{road}{number}号", area.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_numbers() {
        for (n, s) in [
            (1, "一"),
            (10, "十"),
            (12, "十二"),
            (20, "二十"),
            (110, "一百一十"),
            (302, "三百零二"),
            (1203, "一千二百零三"),
            (1000, "一千"),
            (1010, "一千零一十"),
        ] {
            assert_eq!(chinese_number(n), s, "{n}");
        }
    }

    #[test]
    fn area_codes_are_real_provinces() {
        let provinces = [11..=15, 21..=23, 31..=37, 41..=46, 50..=54, 61..=65];
        for a in LOCAL_AREAS.iter().chain(MIGRANT_AREAS) {
            assert_eq!(a.code.len(), 6);
            let p: u32 = a.code[..2].parse().unwrap();
            assert!(provinces.iter().any(|r| r.contains(&p)), "{}", a.code);
        }
        for a in MIGRANT_AREAS {
            assert_ne!(&a.code[..2], "33", "migrants come from other provinces");
        }
        for e in ETHNICITIES {
            assert!(
                e.home.is_empty() || migrant_area(e.home).is_some(),
                "{}",
                e.name
            );
        }
    }

    #[test]
    fn canonical_address_shape() {
        let a = Address {
            street: 0,
            community: 0,
            road: 0,
            number: 12,
            building: 3,
            unit: 1,
            room: 302,
        };
        assert_eq!(
            a.canonical(),
            "浙江省宁波市海曙区鼓楼街道中山社区中山西路12号3幢1单元302室"
        );
        let fmt = AddressFormat {
            digits: Digits::Chinese,
            prefix: Prefix::District,
            ..AddressFormat::CANONICAL
        };
        assert_eq!(
            a.format(&fmt),
            "海曙区鼓楼街道中山社区中山西路十二号三幢一单元302室"
        );
        let fmt = AddressFormat {
            hash: true,
            dashed: true,
            community: false,
            ..AddressFormat::CANONICAL
        };
        assert_eq!(
            a.format(&fmt),
            "浙江省宁波市海曙区鼓楼街道中山西路12#3-1-302"
        );
    }
}
