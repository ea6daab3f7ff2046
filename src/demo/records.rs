//! Department records drawn from the true population: who appears in which
//! system, under which key, and with which corruptions.
//!
//! Records come out of a streaming iterator so that 400,000 persons never
//! need all ~1,000,000 records in memory; each department has its own random
//! streams, so its records are the same whichever others are generated.

use chrono::{Datelike, Days, NaiveDate, NaiveDateTime, NaiveTime};
use rand::seq::SliceRandom;
use rand::Rng;
use serde::Serialize;

use super::noise::{self, noise_rates, Noise, NoiseRates};
use super::people::{
    reference_date, Document, Hardship, Person, PersonId, Population, Relation, Residence, Sex,
};
use super::places::AddressFormat;
use super::random::{chance, pick, stream, stream_rng, DemoRng};
use super::Department;

/// Share of persons living in the district (not moved out) that the
/// governance register (综治实有人口) lists; it covers migrants and
/// foreigners and keeps the deceased flagged 是否死亡=1.
pub const GOVERNANCE_COVERAGE: f64 = 0.975;
/// Share of persons with a resident health archive (卫健), including people
/// who have since moved out or died (archives are rarely closed).
pub const HEALTH_COVERAGE: f64 = 0.86;
/// Share of working-age (18–59) persons with an employer who are insured (人社).
pub const HR_EMPLOYED_COVERAGE: f64 = 0.78;
/// Share of working-age persons without an employer insured as flexible workers.
pub const HR_FLEXIBLE_COVERAGE: f64 = 0.4;
/// Share of persons aged 60+ drawing a pension.
pub const HR_RETIREE_COVERAGE: f64 = 0.62;
/// Share of 低保 / 低边 household members on the civil-affairs ledger.
pub const CIVIL_HARDSHIP_COVERAGE: f64 = 0.93;
/// Share of disabled registered residents receiving the two disability allowances.
pub const CIVIL_DISABILITY_COVERAGE: f64 = 0.75;
/// Share of registered people aged 70+ living alone supported as 特困.
pub const CIVIL_DESTITUTE_COVERAGE: f64 = 0.3;
/// Share of deceased beneficiaries still on the civil-affairs ledger.
pub const CIVIL_STALE_DECEASED: f64 = 0.3;

/// 救助类别 of a civil-affairs beneficiary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Assistance {
    /// 低保
    Subsistence,
    /// 特困
    Destitute,
    /// 低边
    Marginal,
    /// 残疾人两项补贴
    DisabilityAllowance,
}

impl Assistance {
    /// The ledger's wording.
    pub fn label(self) -> &'static str {
        match self {
            Assistance::Subsistence => "低保",
            Assistance::Destitute => "特困",
            Assistance::Marginal => "低边",
            Assistance::DisabilityAllowance => "残疾人两项补贴",
        }
    }
}

/// 人员参保状态 (aac008) of an insured person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum InsuranceStatus {
    /// 1 参保缴费
    Paying,
    /// 2 暂停缴费
    Suspended,
    /// 3 终止参保
    Terminated,
}

impl InsuranceStatus {
    /// The aac008 code.
    pub fn code(self) -> &'static str {
        match self {
            InsuranceStatus::Paying => "1",
            InsuranceStatus::Suspended => "2",
            InsuranceStatus::Terminated => "3",
        }
    }
}

/// Attributes only one department holds (carried alongside, not blended).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Details {
    CivilAffairs {
        category: Assistance,
        disability_grade: Option<u8>,
        community: &'static str,
        remark: Option<&'static str>,
    },
    Health {
        chronic_disease: bool,
        family_doctor: Option<&'static str>,
    },
    Hr {
        insurance_status: InsuranceStatus,
        /// 户口性质 20 农业 (else 10 非农业).
        agricultural: bool,
        /// 单位编号; `None` for flexible workers.
        employer: Option<String>,
    },
    Governance {
        residence: Residence,
        household_number: String,
        relation: Relation,
        grid_code: String,
        community: &'static str,
        deceased: bool,
    },
}

/// The kind of identity document on a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum DocumentType {
    /// 居民身份证
    IdCard,
    /// 护照
    Passport,
}

/// One department's (corrupted) record of a person, with the values as the
/// department would hold them semantically; the writers add each system's
/// formatting on top.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DemoRecord {
    pub department: Department,
    /// The department's key for the record (档案编号, GRDAH, aac001, rkid).
    pub source_key: String,
    /// The true person (ground truth).
    pub person: PersonId,
    pub name: String,
    pub sex: Sex,
    pub birth_date: NaiveDate,
    pub document_type: DocumentType,
    /// As recorded: possibly blank, 15-digit, mistyped or with a lower-case x.
    pub document_number: Option<String>,
    /// GB 3304 code; `None` for foreigners.
    pub ethnicity: Option<u8>,
    pub phone: Option<String>,
    /// 户籍地址; `None` where the system has no such field (人社).
    pub registered_address: Option<String>,
    pub current_address: Option<String>,
    /// When the record was created (建档/登记/参保).
    pub created_on: NaiveDate,
    /// When the record was last changed.
    pub updated_at: NaiveDateTime,
    /// The corruptions applied, for evaluating matching.
    pub noise: Vec<Noise>,
    pub details: Details,
}

/// Family doctors of the community health service centres.
static DOCTORS: &[&str] = &[
    "王建平",
    "李文娟",
    "张海燕",
    "陈志刚",
    "周丽萍",
    "徐国庆",
    "孙晓红",
    "胡建军",
    "朱敏",
    "林海",
    "郑晓燕",
    "沈立新",
    "俞佳",
    "应丽君",
    "翁国华",
    "邬红霞",
    "竺伟",
    "虞晓东",
    "葛秀芳",
    "戴志勇",
    "方琳",
    "冯丹",
    "金晶",
    "叶青",
    "楼宇",
    "史美玲",
    "何建华",
    "罗敏",
    "蒋慧",
    "钱文斌",
];

/// Remarks community workers leave on ledger rows.
static REMARKS: &[&str] = &["2025年复核", "新增", "动态管理", "需入户核查", "分类施保"];

/// One planned record: the person and whether it is a second registration.
#[derive(Debug, Clone, Copy)]
struct Entry {
    person: u32,
    duplicate: bool,
    category: Option<Assistance>,
}

/// The records of one department, generated one at a time.
pub struct Records<'a> {
    population: &'a Population,
    department: Department,
    rates: &'static NoiseRates,
    plan: Vec<Entry>,
    next: usize,
    rng: DemoRng,
    keys: Keys,
    duplicates: usize,
}

/// How the department numbers its records.
enum Keys {
    /// 档案编号 MZ000123, handed out in registration order (not row order).
    Civil(Vec<u32>),
    /// 17-digit archive numbers, increasing with gaps.
    Health(u64),
    /// 10-digit 个人编号, increasing with gaps.
    Hr(u64),
    /// rkid, increasing with gaps (deleted rows).
    Governance(u64),
}

/// The records `department` holds about `population`, in the order the
/// system lists them (deterministic for the population's seed).
pub fn records(population: &Population, department: Department) -> Records<'_> {
    let base = stream::RECORDS + 10 * department.index() as u64;
    let mut plan_rng = stream_rng(population.seed, base);
    let rates = noise_rates(department);
    let reference = reference_date();
    let mut plan = Vec::new();
    for (i, p) in population.persons.iter().enumerate() {
        let h = population.household_of(p);
        let Some(category) = select(department, p, h, reference, &mut plan_rng) else {
            continue;
        };
        let category = category.0;
        plan.push(Entry {
            person: i as u32,
            duplicate: false,
            category,
        });
        if chance(&mut plan_rng, rates.duplicate) {
            plan.push(Entry {
                person: i as u32,
                duplicate: true,
                category,
            });
        }
    }
    match department {
        Department::CivilAffairs => {
            // Ledgers are kept per community; rows within a block in no order.
            plan.shuffle(&mut plan_rng);
            plan.sort_by_key(|e| {
                let a = population
                    .household_of(&population.persons[e.person as usize])
                    .address;
                (a.street, a.community)
            });
        }
        Department::Health | Department::Hr => plan.shuffle(&mut plan_rng),
        Department::Governance => {
            // Registered household by household; later re-registrations last.
            let (mut firsts, mut dups): (Vec<Entry>, Vec<Entry>) =
                plan.into_iter().partition(|e| !e.duplicate);
            let mut order: Vec<u32> = population
                .households
                .iter()
                .enumerate()
                .map(|(i, _)| i as u32)
                .collect();
            order.shuffle(&mut plan_rng);
            let mut rank = vec![0u32; order.len()];
            for (r, h) in order.iter().enumerate() {
                rank[*h as usize] = r as u32;
            }
            firsts.sort_by_key(|e| {
                (
                    rank[population.persons[e.person as usize].household as usize],
                    e.person,
                )
            });
            dups.shuffle(&mut plan_rng);
            firsts.extend(dups);
            plan = firsts;
        }
    }
    let duplicates = plan.iter().filter(|e| e.duplicate).count();
    let keys = match department {
        Department::CivilAffairs => {
            let mut numbers: Vec<u32> = (1..=plan.len() as u32).collect();
            numbers.shuffle(&mut plan_rng);
            Keys::Civil(numbers)
        }
        Department::Health => Keys::Health(0),
        Department::Hr => Keys::Hr(1_000_000_000),
        Department::Governance => Keys::Governance(0),
    };
    Records {
        population,
        department,
        rates,
        plan,
        next: 0,
        rng: stream_rng(population.seed, base + 1),
        keys,
        duplicates,
    }
}

/// Newtype so `select` can say "selected, with no category".
struct Selected(Option<Assistance>);

/// Whether `department` holds a record of `p`, and for civil affairs why.
fn select(
    department: Department,
    p: &Person,
    h: &super::people::Household,
    reference: NaiveDate,
    rng: &mut DemoRng,
) -> Option<Selected> {
    let age = p.age_on(reference);
    let foreign = h.residence == Residence::Foreign;
    match department {
        Department::Governance => {
            (!p.moved_out && chance(rng, GOVERNANCE_COVERAGE)).then_some(Selected(None))
        }
        Department::Health => chance(rng, HEALTH_COVERAGE).then_some(Selected(None)),
        Department::Hr => {
            let share = match age {
                _ if foreign => 0.0,
                0..18 => 0.0,
                18..60 if p.employer.is_some() => HR_EMPLOYED_COVERAGE,
                18..60 => HR_FLEXIBLE_COVERAGE,
                _ => HR_RETIREE_COVERAGE,
            };
            chance(rng, share).then_some(Selected(None))
        }
        Department::CivilAffairs => {
            if h.residence != Residence::Registered {
                return None;
            }
            let category = match h.hardship {
                Some(Hardship::Subsistence) if chance(rng, CIVIL_HARDSHIP_COVERAGE) => {
                    Assistance::Subsistence
                }
                Some(Hardship::Marginal) if chance(rng, CIVIL_HARDSHIP_COVERAGE) => {
                    Assistance::Marginal
                }
                _ if p.disability_grade.is_some() && chance(rng, CIVIL_DISABILITY_COVERAGE) => {
                    Assistance::DisabilityAllowance
                }
                _ if age >= 70 && h.members.len() == 1 && chance(rng, CIVIL_DESTITUTE_COVERAGE) => {
                    Assistance::Destitute
                }
                _ => return None,
            };
            if p.deceased && !chance(rng, CIVIL_STALE_DECEASED) {
                return None;
            }
            Some(Selected(Some(category)))
        }
    }
}

impl Records<'_> {
    /// How many of the records are second registrations of a person.
    pub fn duplicates(&self) -> usize {
        self.duplicates
    }

    /// The department these records belong to.
    pub fn department(&self) -> Department {
        self.department
    }

    fn key(&mut self, person: &Person) -> String {
        let rng = &mut self.rng;
        match &mut self.keys {
            Keys::Civil(numbers) => format!("MZ{:06}", numbers[self.next - 1]),
            Keys::Health(n) => {
                *n += rng.random_range(1..=4);
                let street = self.population.household_of(person).address.street_code();
                format!("{}{street:03}{:08}", super::places::DISTRICT_CODE, *n)
            }
            Keys::Hr(n) => {
                *n += rng.random_range(1..=9);
                format!("{n:010}")
            }
            Keys::Governance(n) => {
                *n += rng.random_range(1..=3);
                n.to_string()
            }
        }
    }

    fn build(&mut self, entry: Entry) -> DemoRecord {
        let pop = self.population;
        let p = &pop.persons[entry.person as usize];
        let h = pop.household_of(p);
        let source_key = self.key(p);
        let rates = self.rates;
        let department = self.department;
        let rng = &mut self.rng;
        let reference = reference_date();
        let mut noise = Vec::new();
        if entry.duplicate {
            noise.push(Noise::Duplicate);
        }

        // Name.
        let mut name = p.name.clone();
        let foreign = matches!(p.document, Document::Passport(_));
        if foreign {
            if department == Department::Health && chance(rng, 0.5) {
                name = name.replacen(' ', ", ", 1);
            }
        } else if p.has_dotted_name() {
            if chance(rng, rates.name_separator) {
                name = noise::separator(rng, &name);
                noise.push(Noise::NameSeparator);
            }
        } else {
            if chance(rng, rates.name_homophone) {
                if let Some(n) = noise::homophone(rng, &name, p.surname_chars) {
                    name = n;
                    noise.push(Noise::NameHomophone);
                }
            }
            if chance(rng, rates.name_lookalike) {
                if let Some(n) = noise::lookalike(rng, &name, p.surname_chars) {
                    name = n;
                    noise.push(Noise::NameLookalike);
                }
            }
            if chance(rng, rates.name_traditional) {
                if let Some(n) = noise::traditional(&name) {
                    name = n;
                    noise.push(Noise::NameTraditional);
                }
            }
        }
        if !foreign && chance(rng, rates.name_space) {
            name = noise::space(rng, &name, p.surname_chars);
            noise.push(Noise::NameSpace);
        }
        if chance(rng, rates.name_missing) {
            name.clear();
            noise.push(Noise::NameMissing);
        }

        // Identity document.
        let migrant = h.residence == Residence::Migrant;
        let (document_type, mut document_number) = match &p.document {
            Document::Passport(n) => (DocumentType::Passport, Some(n.clone())),
            Document::IdNumber(n) => (DocumentType::IdCard, Some(n.clone())),
        };
        let missing = rates.id_missing
            + if migrant {
                rates.id_missing_migrant
            } else {
                0.0
            };
        if chance(rng, missing) {
            document_number = None;
            noise.push(Noise::IdMissing);
        } else if let (DocumentType::IdCard, Some(id)) = (document_type, document_number.as_mut()) {
            if p.birth_date.year() < 2000 && chance(rng, rates.id_15_digit) {
                if let Some(old) = noise::fifteen_digit(id) {
                    *id = old;
                    noise.push(Noise::Id15Digit);
                }
            } else if chance(rng, rates.id_typo) {
                *id = noise::digit_typo(rng, id);
                noise.push(Noise::IdTypo);
            } else if chance(rng, rates.id_transposition) {
                *id = noise::transposition(rng, id);
                noise.push(Noise::IdTransposition);
            }
            if id.ends_with('X') && chance(rng, rates.id_lowercase_x) {
                id.pop();
                id.push('x');
                noise.push(Noise::IdLowercaseX);
            }
        }

        // Birth date.
        let mut birth_date = p.birth_date;
        if chance(rng, rates.birth_day_month_swap) {
            if let Some(d) = noise::day_month_swap(birth_date) {
                birth_date = d;
                noise.push(Noise::BirthDayMonthSwap);
            }
        }

        // Phone: own mobile, else the household's; the register and the
        // elderly on ledgers often give the household's.
        let age = p.age_on(reference);
        let prefers_household = match department {
            Department::Governance => chance(rng, 0.4),
            Department::CivilAffairs => age >= 60 && chance(rng, 0.5),
            _ => false,
        };
        let mut phone = if prefers_household {
            h.phone.clone().or_else(|| p.mobile.clone())
        } else {
            p.mobile.clone().or_else(|| h.phone.clone())
        };
        if let Some(old) = &p.previous_mobile {
            if phone == p.mobile && chance(rng, rates.phone_old) {
                phone = Some(old.clone());
                noise.push(Noise::PhoneOld);
            }
        }
        if phone.is_some() && chance(rng, rates.phone_missing) {
            phone = None;
            noise.push(Noise::PhoneMissing);
        }

        // Addresses.
        let mut address = h.address;
        if let Some(old) = h.previous_address {
            if chance(rng, rates.address_old) {
                address = old;
                noise.push(Noise::AddressOld);
            }
        }
        let mut fmt = AddressFormat::CANONICAL;
        if chance(rng, rates.address_variant) {
            fmt = AddressFormat::variant(rng);
            noise.push(Noise::AddressVariant);
        }

        // A second registration always differs somewhere.
        if entry.duplicate && noise.len() == 1 {
            match rng.random_range(0..4) {
                0 if !foreign => {
                    name = noise::space(rng, &name, p.surname_chars);
                    noise.push(Noise::NameSpace);
                }
                1 if document_number.is_some() => {
                    document_number = None;
                    noise.push(Noise::IdMissing);
                }
                2 if phone.is_some() => {
                    phone = None;
                    noise.push(Noise::PhoneMissing);
                }
                _ => {
                    fmt = AddressFormat::variant(rng);
                    noise.push(Noise::AddressVariant);
                }
            }
        }
        let current_address = Some(address.format(&fmt));
        let registered_address = match (&h.registration, department) {
            (_, Department::Hr) => None,
            (super::people::Registration::Home, _) => current_address.clone(),
            (super::people::Registration::Elsewhere(a), _) => Some(a.format(&fmt)),
            _ => h.registered_address(),
        };

        // Dates.
        let (since, window_start) = match department {
            Department::CivilAffairs => (p.birth_date, date(2015, 1, 1)),
            Department::Health => (p.birth_date, date(2010, 1, 1)),
            Department::Hr => (
                p.birth_date
                    .checked_add_days(Days::new(18 * 365 + 5))
                    .unwrap_or(p.birth_date),
                date(2008, 1, 1),
            ),
            Department::Governance => (p.birth_date, date(2019, 1, 1)),
        };
        let created_on = random_date(rng, since.max(window_start), reference);
        let updated_on = random_date(rng, created_on, reference);
        let seconds = rng.random_range(8 * 3600..18 * 3600);
        let updated_at = updated_on.and_time(
            NaiveTime::from_num_seconds_from_midnight_opt(seconds, 0).unwrap_or_default(),
        );

        let details = match department {
            Department::CivilAffairs => {
                let remark = if p.deceased && chance(rng, 0.2) {
                    Some("已故待注销")
                } else if p.moved_out && chance(rng, 0.3) {
                    Some("已迁出")
                } else if chance(rng, 0.03) {
                    Some(*pick(rng, REMARKS))
                } else {
                    None
                };
                Details::CivilAffairs {
                    category: entry.category.unwrap_or(Assistance::Subsistence),
                    disability_grade: p.disability_grade,
                    community: h.address.community_name(),
                    remark,
                }
            }
            Department::Health => {
                let signed = chance(
                    rng,
                    if age >= 65 || p.chronic_disease {
                        0.8
                    } else {
                        0.35
                    },
                );
                let a = h.address;
                let doctor = (usize::from(a.street) * 5
                    + usize::from(a.community) * 3
                    + usize::from(h.grid % 2))
                    % DOCTORS.len();
                Details::Health {
                    chronic_disease: p.chronic_disease,
                    family_doctor: signed.then_some(DOCTORS[doctor]),
                }
            }
            Department::Hr => {
                let insurance_status = if p.deceased {
                    InsuranceStatus::Terminated
                } else if p.moved_out {
                    if chance(rng, 0.6) {
                        InsuranceStatus::Suspended
                    } else {
                        InsuranceStatus::Terminated
                    }
                } else if age < 60 && chance(rng, if p.employer.is_some() { 0.1 } else { 0.3 }) {
                    InsuranceStatus::Suspended
                } else {
                    InsuranceStatus::Paying
                };
                Details::Hr {
                    insurance_status,
                    agricultural: h.agricultural(),
                    employer: p
                        .employer
                        .map(|e| format!("3302{:07}", 100_000 + u64::from(e) * 37)),
                }
            }
            Department::Governance => Details::Governance {
                residence: h.residence,
                household_number: h.number(p.household as usize),
                relation: p.relation,
                grid_code: h.grid_code(),
                community: h.address.community_name(),
                deceased: p.deceased,
            },
        };

        DemoRecord {
            department,
            source_key,
            person: p.id,
            name,
            sex: p.sex,
            birth_date,
            document_type,
            document_number,
            ethnicity: p.ethnicity,
            phone,
            registered_address,
            current_address,
            created_on,
            updated_at,
            noise,
            details,
        }
    }
}

impl Iterator for Records<'_> {
    type Item = DemoRecord;

    fn next(&mut self) -> Option<DemoRecord> {
        let entry = *self.plan.get(self.next)?;
        self.next += 1;
        Some(self.build(entry))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.plan.len() - self.next;
        (left, Some(left))
    }
}

impl ExactSizeIterator for Records<'_> {}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
}

/// A uniform date in `from..=to` (`from` when the range is empty).
fn random_date(rng: &mut DemoRng, from: NaiveDate, to: NaiveDate) -> NaiveDate {
    let span = (to - from).num_days();
    if span <= 0 {
        return from;
    }
    from.checked_add_days(Days::new(rng.random_range(0..=span) as u64))
        .unwrap_or(from)
}

#[cfg(test)]
mod tests {
    use super::super::{generate_population, DemoOptions};
    use super::*;

    #[test]
    fn coverage_is_realistic() {
        let pop = generate_population(&DemoOptions {
            persons: 20_000,
            seed: 11,
        });
        let n = pop.persons.len() as f64;
        let share = |d| {
            records(&pop, d)
                .filter(|r| !r.noise.contains(&Noise::Duplicate))
                .count() as f64
                / n
        };
        let gov = share(Department::Governance);
        let health = share(Department::Health);
        let hr = share(Department::Hr);
        let civil = share(Department::CivilAffairs);
        assert!((0.92..0.97).contains(&gov), "governance {gov}");
        assert!((0.82..0.89).contains(&health), "health {health}");
        assert!((0.48..0.62).contains(&hr), "hr {hr}");
        assert!((0.05..0.11).contains(&civil), "civil affairs {civil}");
    }

    #[test]
    fn keys_are_unique_and_duplicates_marked() {
        let pop = generate_population(&DemoOptions {
            persons: 5_000,
            seed: 2,
        });
        for d in Department::ALL {
            let recs: Vec<DemoRecord> = records(&pop, d).collect();
            let mut keys: Vec<&str> = recs.iter().map(|r| r.source_key.as_str()).collect();
            keys.sort_unstable();
            keys.dedup();
            assert_eq!(keys.len(), recs.len(), "{d:?} keys repeat");
            let dups = recs
                .iter()
                .filter(|r| r.noise.contains(&Noise::Duplicate))
                .count();
            assert_eq!(dups, records(&pop, d).duplicates());
            for r in recs.iter().filter(|r| r.noise.contains(&Noise::Duplicate)) {
                assert!(r.noise.len() >= 2, "duplicate without variation");
            }
        }
    }
}
