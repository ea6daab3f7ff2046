//! The true population of the sample district: persons in households, with the
//! values every department system *should* hold for them.
//!
//! Department records (see `records`) are drawn from these persons and then
//! corrupted; `truth.csv` points each record back at its person.

use std::collections::HashSet;
use std::fmt;
use std::ops::Range;

use chrono::{Datelike, Days, NaiveDate};
use rand::Rng;
use serde::{Serialize, Serializer};

use super::names::{NamePools, NameStyle};
use super::places::{
    self, origin_address, Address, Area, Ethnicity, ETHNICITIES, LOCAL_AREAS, MIGRANT_AREAS,
    STREETS,
};
use super::random::{chance, pick, stream, stream_rng, DemoRng, Weighted};
use super::DemoOptions;
use crate::model::id_number::check_digit;

/// The day the sample is "taken": ages, timestamps and dates are relative to
/// it, never to the clock, so output is reproducible.
pub fn reference_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 1).unwrap_or_default()
}

/// Identifies a true person; written as `P0000001` in `truth.csv`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PersonId(pub u32);

impl fmt::Display for PersonId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "P{:07}", self.0)
    }
}

impl Serialize for PersonId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// GB/T 2261.1 sex.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Sex {
    Male,
    Female,
}

impl Sex {
    /// GB/T 2261.1 code: `1` male, `2` female.
    pub fn code(self) -> &'static str {
        match self {
            Sex::Male => "1",
            Sex::Female => "2",
        }
    }

    /// 男 / 女.
    pub fn label(self) -> &'static str {
        match self {
            Sex::Male => "男",
            Sex::Female => "女",
        }
    }
}

/// GB/T 4761 relationship to the head of household.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Relation {
    Head,
    Spouse,
    Son,
    Daughter,
    SonInLaw,
    DaughterInLaw,
    Grandchild,
    Parent,
    NonRelative,
}

impl Relation {
    /// The GB/T 4761 code (02 户主, 10 配偶, 20 子, 30 女, 28 女婿, 38 儿媳,
    /// 40 孙子女, 50 父母, 99 非亲属).
    pub fn code(self) -> &'static str {
        match self {
            Relation::Head => "02",
            Relation::Spouse => "10",
            Relation::Son => "20",
            Relation::Daughter => "30",
            Relation::SonInLaw => "28",
            Relation::DaughterInLaw => "38",
            Relation::Grandchild => "40",
            Relation::Parent => "50",
            Relation::NonRelative => "99",
        }
    }
}

/// The identity document a person is known by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Document {
    /// A valid 18-digit GB 11643 citizen identity number.
    IdNumber(String),
    /// A foreign national's passport number.
    Passport(String),
}

impl Document {
    /// The document number.
    pub fn number(&self) -> &str {
        match self {
            Document::IdNumber(n) | Document::Passport(n) => n,
        }
    }
}

/// Whether a household is registered here (户籍), migrant (流动) or foreign (境外).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Residence {
    Registered,
    Migrant,
    Foreign,
}

impl Residence {
    /// 户籍 / 流动 / 境外, as the governance register writes it.
    pub fn label(self) -> &'static str {
        match self {
            Residence::Registered => "户籍",
            Residence::Migrant => "流动",
            Residence::Foreign => "境外",
        }
    }
}

/// Where a household's members are registered (户籍地址).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registration {
    /// At the household's current address.
    Home,
    /// Elsewhere in the district (人户分离).
    Elsewhere(Address),
    /// In the migrants' home area; `rural` means an agricultural hukou.
    Origin { address: String, rural: bool },
    /// Foreign nationals have none.
    Abroad,
}

/// Civil-affairs hardship of a household, when it has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Hardship {
    /// 低保: minimum living guarantee.
    Subsistence,
    /// 低边: marginal low income.
    Marginal,
}

/// A household: people sharing an address and usually one phone.
#[derive(Debug, Clone)]
pub struct Household {
    pub residence: Residence,
    pub address: Address,
    /// The address before a move within the district, if it moved recently.
    pub previous_address: Option<Address>,
    pub registration: Registration,
    /// The phone the household is reached at (the head's mobile, else a landline).
    pub phone: Option<String>,
    /// A landline, for households that keep one.
    pub landline: Option<String>,
    /// Grid (网格) number within the community, 1–9.
    pub grid: u8,
    pub hardship: Option<Hardship>,
    /// Indices of the members in [`Population::persons`].
    pub members: Range<u32>,
}

impl Household {
    /// The household number (户号) used by the governance register.
    pub fn number(&self, index: usize) -> String {
        format!(
            "{}{:03}{:07}",
            places::DISTRICT_CODE,
            self.address.street_code(),
            index + 1
        )
    }

    /// The 15-digit grid code: district, street, community, grid.
    pub fn grid_code(&self) -> String {
        format!(
            "{}{:03}{:03}{:03}",
            places::DISTRICT_CODE,
            self.address.street_code(),
            u16::from(self.address.community) + 1,
            self.grid
        )
    }

    /// The household-registration address as written canonically.
    pub fn registered_address(&self) -> Option<String> {
        match &self.registration {
            Registration::Home => Some(self.address.canonical()),
            Registration::Elsewhere(a) => Some(a.canonical()),
            Registration::Origin { address, .. } => Some(address.clone()),
            Registration::Abroad => None,
        }
    }

    /// Whether members hold an agricultural hukou (户口性质 20).
    pub fn agricultural(&self) -> bool {
        match &self.registration {
            Registration::Origin { rural, .. } => *rural,
            Registration::Home | Registration::Elsewhere(_) => self.address.is_village(),
            Registration::Abroad => false,
        }
    }
}

/// A true person of the sample district.
#[derive(Debug, Clone)]
pub struct Person {
    pub id: PersonId,
    pub name: String,
    /// Characters of `name` that are the surname (0 when the name has none:
    /// dotted minority names, Tibetan and Mongolian names, passports).
    pub surname_chars: u8,
    pub sex: Sex,
    pub birth_date: NaiveDate,
    /// GB 3304 code; `None` for foreign nationals.
    pub ethnicity: Option<u8>,
    pub document: Document,
    /// Index into [`Population::households`].
    pub household: u32,
    pub relation: Relation,
    pub mobile: Option<String>,
    /// A number the person used before, still held by some systems.
    pub previous_mobile: Option<String>,
    /// The other twin, for twins.
    pub twin: Option<PersonId>,
    pub deceased: bool,
    /// Left the district; the governance register no longer lists them.
    pub moved_out: bool,
    /// Disability grade 1–4 (一级 most severe).
    pub disability_grade: Option<u8>,
    pub chronic_disease: bool,
    /// Index of the (current or last) employer.
    pub employer: Option<u32>,
}

impl Person {
    /// The surname, for names that have one.
    pub fn surname(&self) -> Option<&str> {
        if self.surname_chars == 0 {
            return None;
        }
        let end = self
            .name
            .char_indices()
            .nth(usize::from(self.surname_chars))
            .map_or(self.name.len(), |(i, _)| i);
        Some(&self.name[..end])
    }

    /// Whether the name is written `own·father's`.
    pub fn has_dotted_name(&self) -> bool {
        self.name.contains('·')
    }

    /// Completed years of age on `date`.
    pub fn age_on(&self, date: NaiveDate) -> u32 {
        let mut age = date.year() - self.birth_date.year();
        if (date.month(), date.day()) < (self.birth_date.month(), self.birth_date.day()) {
            age -= 1;
        }
        age.max(0) as u32
    }

    /// The valid 18-digit identity number, unless the person is foreign.
    pub fn id_number(&self) -> Option<&str> {
        match &self.document {
            Document::IdNumber(n) => Some(n),
            Document::Passport(_) => None,
        }
    }
}

/// Everyone in the sample district, grouped by household.
#[derive(Debug, Clone)]
pub struct Population {
    pub seed: u64,
    pub persons: Vec<Person>,
    pub households: Vec<Household>,
    /// Number of employers persons' `employer` indices refer to.
    pub employers: u32,
}

/// Headline numbers about a population (written to the summary and README).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PopulationStats {
    pub persons: usize,
    pub households: usize,
    pub migrants: usize,
    pub foreigners: usize,
    pub minorities: usize,
    pub dotted_names: usize,
    pub deceased: usize,
    pub moved_out: usize,
    pub twin_pairs: usize,
}

impl Population {
    /// The household `person` lives in.
    pub fn household_of(&self, person: &Person) -> &Household {
        &self.households[person.household as usize]
    }

    /// Counts for reports.
    pub fn stats(&self) -> PopulationStats {
        let mut s = PopulationStats {
            persons: self.persons.len(),
            households: self.households.len(),
            ..PopulationStats::default()
        };
        for p in &self.persons {
            match self.household_of(p).residence {
                Residence::Migrant => s.migrants += 1,
                Residence::Foreign => s.foreigners += 1,
                Residence::Registered => {}
            }
            s.minorities += usize::from(p.ethnicity.is_some_and(|e| e != 1));
            s.dotted_names += usize::from(p.has_dotted_name());
            s.deceased += usize::from(p.deceased);
            s.moved_out += usize::from(p.moved_out);
            s.twin_pairs += usize::from(p.twin.is_some_and(|t| t > p.id));
        }
        s
    }
}

/// Household sizes 1–6, weighted like a Chinese urban district.
const SIZE_WEIGHTS: [u32; 6] = [22, 30, 24, 13, 7, 4];
/// Share of households of foreign nationals.
const FOREIGN_HOUSEHOLDS: f64 = 0.0008;
/// Share of Han households that are migrants (minorities: [`MINORITY_MIGRANTS`]);
/// together about 30% of persons.
const HAN_MIGRANTS: f64 = 0.27;
const MINORITY_MIGRANTS: f64 = 0.7;
/// Chance that a family planned with two children of about the same age
/// has twins; overall about 0.8% of deliveries are twin deliveries.
const TWINS: f64 = 0.2;
/// Share of adults who moved out of the district.
const MOVED_OUT: f64 = 0.035;
/// Share of households that moved within the district recently.
const MOVED_WITHIN: f64 = 0.06;
/// Share of registered households registered at another address (人户分离).
const REGISTERED_ELSEWHERE: f64 = 0.12;
/// Hardship shares of registered households (低保, 低边).
const SUBSISTENCE: f64 = 0.065;
const MARGINAL: f64 = 0.045;
/// Mobile prefixes (3 digits) with weights.
#[rustfmt::skip]
const MOBILE_PREFIXES: [(&str, u32); 20] = [
    ("138", 9), ("139", 9), ("137", 6), ("136", 6), ("135", 6), ("134", 4), ("133", 4),
    ("130", 4), ("131", 4), ("132", 3), ("150", 4), ("151", 4), ("152", 3), ("158", 5),
    ("159", 5), ("186", 4), ("187", 4), ("188", 3), ("189", 4), ("199", 2),
];

/// Builds the true population for `opts` (deterministic for the seed).
pub fn generate_population(opts: &DemoOptions) -> Population {
    let mut g = Generator::new(opts.seed);
    while g.persons.len() < opts.persons {
        let remaining = opts.persons - g.persons.len();
        g.household(remaining);
    }
    Population {
        seed: opts.seed,
        employers: g.employers,
        persons: g.persons,
        households: g.households,
    }
}

/// A planned household member before names and numbers are drawn.
struct Slot {
    relation: Relation,
    sex: Sex,
    age: u32,
    /// Same birth date as the previous slot.
    twin_of_previous: bool,
    surname: SurnameRule,
}

/// Where a member's surname comes from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SurnameRule {
    /// Own, random (head, spouse, in-laws, non-relatives, head's mother).
    Own,
    /// The family's (husband's) surname; 5% take the mother's.
    Family,
    /// The head's surname (head's father).
    Head,
    /// The last child-in-law's surname if the child is a daughter.
    Grandchild,
}

struct Generator {
    rng: DemoRng,
    pools: NamePools,
    issued: HashSet<u64>,
    persons: Vec<Person>,
    households: Vec<Household>,
    employers: u32,
    sizes: Weighted,
    streets: Weighted,
    locals: Weighted,
    migrants: Weighted,
    ethnicities: Weighted,
    mobiles: Weighted,
    reference: NaiveDate,
}

impl Generator {
    fn new(seed: u64) -> Self {
        Generator {
            rng: stream_rng(seed, stream::POPULATION),
            pools: NamePools::new(),
            issued: HashSet::new(),
            persons: Vec::new(),
            households: Vec::new(),
            employers: 0,
            sizes: Weighted::new(SIZE_WEIGHTS.map(u64::from)),
            streets: Weighted::new(STREETS.iter().map(|s| u64::from(s.weight))),
            locals: Weighted::new(LOCAL_AREAS.iter().map(|a| u64::from(a.weight))),
            migrants: Weighted::new(MIGRANT_AREAS.iter().map(|a| u64::from(a.weight))),
            ethnicities: Weighted::new(ETHNICITIES.iter().map(|e| u64::from(e.weight))),
            mobiles: Weighted::of(&MOBILE_PREFIXES),
            reference: reference_date(),
        }
    }

    fn household(&mut self, remaining: usize) {
        let foreign = chance(&mut self.rng, FOREIGN_HOUSEHOLDS);
        let ethnicity: Option<&'static Ethnicity> =
            (!foreign).then(|| &ETHNICITIES[self.ethnicities.sample(&mut self.rng)]);
        let residence = match ethnicity {
            None => Residence::Foreign,
            Some(e) => {
                let p = if e.code == 1 {
                    HAN_MIGRANTS
                } else {
                    MINORITY_MIGRANTS
                };
                if chance(&mut self.rng, p) {
                    Residence::Migrant
                } else {
                    Residence::Registered
                }
            }
        };
        let mut size = self.sizes.sample(&mut self.rng) + 1;
        if foreign {
            size = size.min(2);
        }
        let size = size.min(remaining);
        let slots = self.plan(size, residence);

        // Where the household lives and is registered.
        let street = self.streets.sample(&mut self.rng);
        let address = Address::random(&mut self.rng, street);
        let previous_address = chance(&mut self.rng, MOVED_WITHIN).then(|| {
            let s = self.streets.sample(&mut self.rng);
            Address::random(&mut self.rng, s)
        });
        let origin: &'static Area = match (residence, ethnicity) {
            (Residence::Migrant, Some(e)) if !e.home.is_empty() => {
                &MIGRANT_AREAS[places::migrant_area(e.home).unwrap_or(0)]
            }
            (Residence::Migrant, _) => &MIGRANT_AREAS[self.migrants.sample(&mut self.rng)],
            _ => &LOCAL_AREAS[self.locals.sample(&mut self.rng)],
        };
        let registration = match residence {
            Residence::Foreign => Registration::Abroad,
            Residence::Migrant => Registration::Origin {
                address: origin_address(&mut self.rng, origin),
                rural: chance(&mut self.rng, 0.6),
            },
            Residence::Registered if chance(&mut self.rng, REGISTERED_ELSEWHERE) => {
                let s = self.streets.sample(&mut self.rng);
                Registration::Elsewhere(Address::random(&mut self.rng, s))
            }
            Residence::Registered => Registration::Home,
        };
        let hardship = if residence != Residence::Registered {
            None
        } else if chance(&mut self.rng, SUBSISTENCE) {
            Some(Hardship::Subsistence)
        } else if chance(&mut self.rng, MARGINAL) {
            Some(Hardship::Marginal)
        } else {
            None
        };

        let household = self.households.len() as u32;
        let first = self.persons.len() as u32;
        let head_surname = self.surname(ethnicity);
        let spouse_surname = self.surname(ethnicity);
        let head_is_male = slots.first().is_some_and(|s| s.sex == Sex::Male);
        let family_surname =
            if head_is_male || !slots.iter().any(|s| s.relation == Relation::Spouse) {
                head_surname
            } else {
                spouse_surname
            };
        let mother_surname = if head_is_male {
            spouse_surname
        } else {
            head_surname
        };
        // Dotted names carry the father's given name after the separator.
        let mut father_given: Option<&'static str> = None;
        let mut child_in_law_surname = family_surname;
        let mut last_child_sex = Sex::Male;
        let mut twin_names: Option<(&'static str, &'static str)> = None;
        let head_age = slots.first().map_or(30, |s| s.age);

        let mut previous_birth = self.reference;
        for (i, slot) in slots.iter().enumerate() {
            let birth_date = if slot.twin_of_previous {
                previous_birth
            } else {
                self.birth_date(slot.age)
            };
            previous_birth = birth_date;
            let surname = match slot.surname {
                SurnameRule::Own if i == 0 => head_surname,
                SurnameRule::Own if slot.relation == Relation::Spouse => spouse_surname,
                SurnameRule::Own => {
                    let s = self.surname(ethnicity);
                    if matches!(slot.relation, Relation::SonInLaw | Relation::DaughterInLaw) {
                        child_in_law_surname = s;
                    }
                    s
                }
                SurnameRule::Head => head_surname,
                SurnameRule::Family => {
                    if chance(&mut self.rng, 0.05) {
                        mother_surname
                    } else {
                        family_surname
                    }
                }
                SurnameRule::Grandchild if last_child_sex == Sex::Female => child_in_law_surname,
                SurnameRule::Grandchild => family_surname,
            };
            if matches!(slot.relation, Relation::Son | Relation::Daughter) {
                last_child_sex = slot.sex;
            }
            let twin_next = slots.get(i + 1).is_some_and(|s| s.twin_of_previous);
            // Twins never share a name; redraw when a pool gives the same one.
            let mut attempts = 0;
            let (name, surname_chars) = loop {
                let candidate = if foreign {
                    let shared =
                        (i > 0).then(|| self.persons[first as usize].name.split(' ').next());
                    (
                        self.pools
                            .foreign(&mut self.rng, slot.sex, shared.flatten()),
                        0,
                    )
                } else {
                    let style = ethnicity.map_or(NameStyle::Chinese, |e| e.style);
                    let twin_given = if twin_next {
                        let pair = self.pools.twin_given(&mut self.rng);
                        twin_names = Some(pair);
                        Some(pair.0)
                    } else if slot.twin_of_previous {
                        twin_names.map(|p| p.1)
                    } else {
                        None
                    };
                    self.name(
                        style,
                        slot,
                        birth_date,
                        surname,
                        twin_given,
                        &mut father_given,
                        i == 0 || slot.relation == Relation::Spouse,
                        head_is_male,
                    )
                };
                attempts += 1;
                let clash = slot.twin_of_previous
                    && self.persons.last().is_some_and(|p| p.name == candidate.0);
                if !clash || attempts >= 50 {
                    break candidate;
                }
            };
            let area: &Area = match residence {
                Residence::Registered if i > 0 && chance(&mut self.rng, 0.2) => {
                    &LOCAL_AREAS[self.locals.sample(&mut self.rng)]
                }
                Residence::Migrant
                    if slot.relation == Relation::Spouse && chance(&mut self.rng, 0.25) =>
                {
                    &MIGRANT_AREAS[self.migrants.sample(&mut self.rng)]
                }
                _ => origin,
            };
            let document = if foreign {
                Document::Passport(self.passport())
            } else {
                Document::IdNumber(self.id_number(area.code, birth_date, slot.sex))
            };
            let age = slot.age;
            let mobile = chance(&mut self.rng, mobile_share(age)).then(|| self.mobile());
            let previous_mobile =
                (mobile.is_some() && chance(&mut self.rng, 0.15)).then(|| self.mobile());
            let deceased = chance(&mut self.rng, death_share(age));
            let moved_out = !deceased && age >= 16 && chance(&mut self.rng, MOVED_OUT);
            let disability_grade = chance(&mut self.rng, if age >= 60 { 0.05 } else { 0.02 })
                .then(|| [1u8, 2, 2, 3, 3, 3, 4, 4, 4, 4][self.rng.random_range(0..10)]);
            let chronic_disease = chance(
                &mut self.rng,
                match age {
                    60.. => 0.45,
                    40..60 => 0.18,
                    _ => 0.02,
                },
            );
            let employer = (age >= 18 && chance(&mut self.rng, if age < 60 { 0.8 } else { 0.7 }))
                .then(|| {
                    // Roughly one employer per 25 people, new ones appearing as we go.
                    if self.employers == 0 || chance(&mut self.rng, 0.04) {
                        self.employers += 1;
                    }
                    self.rng.random_range(0..self.employers)
                });
            let id = PersonId(self.persons.len() as u32 + 1);
            let twin = if slot.twin_of_previous {
                Some(PersonId(id.0 - 1))
            } else if twin_next {
                Some(PersonId(id.0 + 1))
            } else {
                None
            };
            self.persons.push(Person {
                id,
                name,
                surname_chars,
                sex: slot.sex,
                birth_date,
                ethnicity: ethnicity.map(|e| e.code),
                document,
                household,
                relation: slot.relation,
                mobile,
                previous_mobile,
                twin,
                deceased,
                moved_out,
                disability_grade,
                chronic_disease,
                employer,
            });
        }
        let members = first..self.persons.len() as u32;
        let landline = chance(&mut self.rng, if head_age >= 60 { 0.35 } else { 0.12 })
            .then(|| self.landline());
        let phone = members
            .clone()
            .filter_map(|i| {
                let p = &self.persons[i as usize];
                (p.relation == Relation::Head || p.relation == Relation::Spouse)
                    .then(|| p.mobile.clone())
                    .flatten()
            })
            .next()
            .or_else(|| landline.clone());
        let grid = self.rng.random_range(1..=9);
        self.households.push(Household {
            residence,
            address,
            previous_address,
            registration,
            phone,
            landline,
            grid,
            hardship,
            members,
        });
    }

    /// Plans members: relation, sex, age; the head comes first.
    fn plan(&mut self, size: usize, residence: Residence) -> Vec<Slot> {
        let rng = &mut self.rng;
        let mut slots = Vec::with_capacity(size);
        let random_sex = |rng: &mut DemoRng, male: f64| {
            if chance(rng, male) {
                Sex::Male
            } else {
                Sex::Female
            }
        };
        let slot = |relation, sex, age, surname| Slot {
            relation,
            sex,
            age,
            twin_of_previous: false,
            surname,
        };
        let opposite = |s: Sex| {
            if s == Sex::Male {
                Sex::Female
            } else {
                Sex::Male
            }
        };
        let spouse_age = |rng: &mut DemoRng, head_sex: Sex, head_age: u32| {
            let d = rng.random_range(0..=4);
            if head_sex == Sex::Male {
                head_age.saturating_sub(d).max(20)
            } else {
                (head_age + d).min(100)
            }
        };
        let child_age = |rng: &mut DemoRng, parent_age: u32| {
            parent_age.saturating_sub(rng.random_range(22..=38.min(parent_age.max(22))))
        };
        let couple = |rng: &mut DemoRng, slots: &mut Vec<Slot>, ages: Range<u32>| {
            let sex = random_sex(rng, 0.8);
            let age = rng.random_range(ages);
            slots.push(slot(Relation::Head, sex, age, SurnameRule::Own));
            slots.push(slot(
                Relation::Spouse,
                opposite(sex),
                spouse_age(rng, sex, age),
                SurnameRule::Own,
            ));
            age
        };
        let children = |rng: &mut DemoRng, slots: &mut Vec<Slot>, head_age: u32, n: usize| {
            let first = child_age(rng, head_age);
            let twins = n >= 2 && chance(rng, TWINS);
            for k in 0..n {
                let sex = random_sex(rng, 0.515);
                let relation = if sex == Sex::Male {
                    Relation::Son
                } else {
                    Relation::Daughter
                };
                let age = if k == 0 || twins {
                    first
                } else {
                    first.saturating_sub(rng.random_range(1..=7))
                };
                let mut s = slot(relation, sex, age, SurnameRule::Family);
                s.twin_of_previous = twins && k == 1;
                slots.push(s);
            }
            first
        };
        let parents = |rng: &mut DemoRng, slots: &mut Vec<Slot>, head_age: u32, n: usize| {
            let age = (head_age + rng.random_range(22..=35)).min(100);
            if n == 2 {
                slots.push(slot(Relation::Parent, Sex::Male, age, SurnameRule::Head));
                slots.push(slot(
                    Relation::Parent,
                    Sex::Female,
                    age.saturating_sub(rng.random_range(0..=4)),
                    SurnameRule::Own,
                ));
            } else {
                let sex = random_sex(rng, 0.4);
                let rule = if sex == Sex::Male {
                    SurnameRule::Head
                } else {
                    SurnameRule::Own
                };
                slots.push(slot(Relation::Parent, sex, age, rule));
            }
        };
        let three_generations = |rng: &mut DemoRng, slots: &mut Vec<Slot>, grandchildren: usize| {
            let head_age = couple(rng, slots, 50..73);
            let age = child_age(rng, head_age).max(20);
            let sex = random_sex(rng, 0.6);
            let (child, in_law) = if sex == Sex::Male {
                (Relation::Son, Relation::DaughterInLaw)
            } else {
                (Relation::Daughter, Relation::SonInLaw)
            };
            slots.push(slot(child, sex, age, SurnameRule::Family));
            slots.push(slot(
                in_law,
                opposite(sex),
                age + rng.random_range(0..=3),
                SurnameRule::Own,
            ));
            let g_age = child_age(rng, age);
            let twins = grandchildren == 2 && chance(rng, TWINS);
            for k in 0..grandchildren {
                let mut s = slot(
                    Relation::Grandchild,
                    random_sex(rng, 0.515),
                    if k == 0 || twins {
                        g_age
                    } else {
                        g_age.saturating_sub(rng.random_range(1..=6))
                    },
                    SurnameRule::Grandchild,
                );
                s.twin_of_previous = twins && k == 1;
                slots.push(s);
            }
        };
        match size {
            1 => {
                let age = if chance(rng, 0.5) {
                    rng.random_range(20..46)
                } else {
                    rng.random_range(55..96)
                };
                slots.push(slot(
                    Relation::Head,
                    random_sex(rng, 0.5),
                    age,
                    SurnameRule::Own,
                ));
            }
            2 => {
                let roll = rng.random::<f64>();
                if roll < 0.7 {
                    couple(rng, &mut slots, 22..89);
                } else if roll < 0.9 || residence != Residence::Migrant {
                    let age = rng.random_range(28..70);
                    slots.push(slot(
                        Relation::Head,
                        random_sex(rng, 0.35),
                        age,
                        SurnameRule::Own,
                    ));
                    children(rng, &mut slots, age, 1);
                } else {
                    let age = rng.random_range(20..50);
                    slots.push(slot(
                        Relation::Head,
                        random_sex(rng, 0.5),
                        age,
                        SurnameRule::Own,
                    ));
                    let other = (age + rng.random_range(0..=6)).saturating_sub(3);
                    slots.push(slot(
                        Relation::NonRelative,
                        random_sex(rng, 0.5),
                        other,
                        SurnameRule::Own,
                    ));
                }
            }
            3 => {
                if chance(rng, 0.85) {
                    let age = couple(rng, &mut slots, 25..61);
                    children(rng, &mut slots, age, 1);
                } else {
                    let age = couple(rng, &mut slots, 30..61);
                    parents(rng, &mut slots, age, 1);
                }
            }
            4 => {
                if chance(rng, 0.55) {
                    let age = couple(rng, &mut slots, 28..56);
                    children(rng, &mut slots, age, 2);
                } else {
                    let age = couple(rng, &mut slots, 28..61);
                    children(rng, &mut slots, age, 1);
                    parents(rng, &mut slots, age, 1);
                }
            }
            5 => {
                let roll = rng.random::<f64>();
                if roll < 0.45 {
                    let age = couple(rng, &mut slots, 28..56);
                    children(rng, &mut slots, age, 1);
                    parents(rng, &mut slots, age, 2);
                } else if roll < 0.75 {
                    let age = couple(rng, &mut slots, 28..56);
                    children(rng, &mut slots, age, 2);
                    parents(rng, &mut slots, age, 1);
                } else {
                    three_generations(rng, &mut slots, 1);
                }
            }
            _ => {
                if chance(rng, 0.5) {
                    let age = couple(rng, &mut slots, 30..53);
                    children(rng, &mut slots, age, 2);
                    parents(rng, &mut slots, age, 2);
                } else {
                    three_generations(rng, &mut slots, 2);
                }
            }
        }
        slots
    }

    fn surname(&mut self, ethnicity: Option<&Ethnicity>) -> &'static str {
        let bias = ethnicity.map_or(&[][..], |e| e.surnames);
        self.pools.surname_biased(&mut self.rng, bias)
    }

    /// Builds a name in `style`; returns it with the surname length.
    #[allow(clippy::too_many_arguments)]
    fn name(
        &mut self,
        style: NameStyle,
        slot: &Slot,
        birth_date: NaiveDate,
        surname: &str,
        twin_given: Option<&str>,
        father_given: &mut Option<&'static str>,
        adult_of_couple: bool,
        head_is_male: bool,
    ) -> (String, u8) {
        let chinese = |g: &mut Self| {
            let given = match twin_given {
                Some(t) => t.to_string(),
                None => g.pools.given(&mut g.rng, slot.sex, birth_date.year()),
            };
            (format!("{surname}{given}"), surname.chars().count() as u8)
        };
        match style {
            NameStyle::Chinese => chinese(self),
            NameStyle::Mongolian if chance(&mut self.rng, 0.5) => chinese(self),
            NameStyle::Mongolian => (self.pools.mongolian(&mut self.rng, slot.sex).to_string(), 0),
            NameStyle::Tibetan => (self.pools.tibetan(&mut self.rng, slot.sex), 0),
            NameStyle::Dotted => {
                let own = self.pools.dotted_given(&mut self.rng, slot.sex);
                let is_child = matches!(slot.relation, Relation::Son | Relation::Daughter);
                let father = match (*father_given, is_child) {
                    (Some(f), true) => f,
                    _ => self.pools.dotted_given(&mut self.rng, Sex::Male),
                };
                // The children's father is the male of the couple.
                if adult_of_couple
                    && slot.sex == Sex::Male
                    && (head_is_male || slot.relation == Relation::Spouse)
                {
                    *father_given = Some(own);
                }
                (format!("{own}·{father}"), 0)
            }
        }
    }

    fn birth_date(&mut self, age: u32) -> NaiveDate {
        let age = age.min(100);
        let days = u64::from(age) * 365 + u64::from(age / 4) + self.rng.random_range(0..365);
        let earliest = NaiveDate::from_ymd_opt(1926, 11, 2).unwrap_or_default();
        self.reference
            .checked_sub_days(Days::new(days))
            .unwrap_or(earliest)
            .max(earliest)
    }

    /// A valid, unique 18-digit identity number (odd sequence for men).
    fn id_number(&mut self, area: &str, birth: NaiveDate, sex: Sex) -> String {
        let date = format!("{:04}{:02}{:02}", birth.year(), birth.month(), birth.day());
        let mut attempts = 0u32;
        loop {
            let k = self.rng.random_range(0..500u32);
            let seq = match sex {
                Sex::Male => k * 2 + 1,
                Sex::Female => (k * 2).max(2),
            };
            let first17 = format!("{area}{date}{seq:03}");
            let key: u64 = first17.parse().unwrap_or(0);
            attempts += 1;
            // 500 sequence numbers per area, day and sex; a clash is only
            // possible after them all are used, far beyond any sample size.
            if self.issued.insert(key) || attempts > 10_000 {
                let check = check_digit(&first17).unwrap_or('0');
                return format!("{first17}{check}");
            }
        }
    }

    fn passport(&mut self) -> String {
        let letter = *pick(&mut self.rng, &['E', 'G', 'K', 'M', 'P', 'X']);
        format!("{letter}{:08}", self.rng.random_range(0..100_000_000u32))
    }

    fn mobile(&mut self) -> String {
        let prefix = MOBILE_PREFIXES[self.mobiles.sample(&mut self.rng)].0;
        format!("{prefix}{:08}", self.rng.random_range(0..100_000_000u32))
    }

    fn landline(&mut self) -> String {
        let first = *pick(&mut self.rng, &[8, 8, 8, 8, 2, 5, 6]);
        format!("0574-{first}{:07}", self.rng.random_range(0..10_000_000u32))
    }
}

/// Chance that a person of `age` has a mobile of their own.
fn mobile_share(age: u32) -> f64 {
    match age {
        0..14 => 0.0,
        14..18 => 0.7,
        18..70 => 0.97,
        70..80 => 0.75,
        _ => 0.45,
    }
}

/// Chance that a person of `age` has died (but is still in some registers).
fn death_share(age: u32) -> f64 {
    match age {
        85.. => 0.16,
        75..85 => 0.06,
        60..75 => 0.015,
        _ => 0.002,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn population(persons: usize, seed: u64) -> Population {
        generate_population(&DemoOptions { persons, seed })
    }

    #[test]
    fn exact_person_count_and_contiguous_households() {
        for n in [1, 7, 50, 333] {
            let pop = population(n, 9);
            assert_eq!(pop.persons.len(), n);
            let mut next = 0;
            for h in &pop.households {
                assert_eq!(h.members.start, next);
                assert!(!h.members.is_empty() && h.members.len() <= 6);
                next = h.members.end;
            }
            assert_eq!(next as usize, n);
        }
    }

    #[test]
    fn identity_numbers_are_valid_unique_and_consistent() {
        let pop = population(5_000, 1);
        let mut seen = HashSet::new();
        for p in &pop.persons {
            let Some(id) = p.id_number() else { continue };
            assert_eq!(id.len(), 18, "{id}");
            assert_eq!(check_digit(&id[..17]), id.chars().last(), "{id}");
            let birth = format!(
                "{:04}{:02}{:02}",
                p.birth_date.year(),
                p.birth_date.month(),
                p.birth_date.day()
            );
            assert_eq!(&id[6..14], birth);
            let seq: u32 = id[14..17].parse().unwrap();
            assert_eq!(seq % 2 == 1, p.sex == Sex::Male, "{id}");
            let province: u32 = id[..2].parse().unwrap();
            assert!(matches!(province, 11..=15 | 21..=23 | 31..=37 | 41..=46 | 50..=54 | 61..=65));
            assert!(seen.insert(id.to_string()), "duplicate {id}");
            assert!(p.age_on(reference_date()) <= 100);
        }
    }

    #[test]
    fn shape_of_the_population() {
        let pop = population(20_000, 5);
        let s = pop.stats();
        let share = |n: usize| n as f64 / s.persons as f64;
        assert!(
            (0.24..0.36).contains(&share(s.migrants)),
            "migrants {}",
            share(s.migrants)
        );
        assert!(
            (0.005..0.02).contains(&share(s.deceased)),
            "deceased {}",
            share(s.deceased)
        );
        assert!(
            (0.015..0.045).contains(&share(s.moved_out)),
            "moved out {}",
            share(s.moved_out)
        );
        assert!(
            (0.01..0.03).contains(&share(s.dotted_names)),
            "dotted {}",
            share(s.dotted_names)
        );
        assert!(
            (0.06..0.12).contains(&share(s.minorities)),
            "minorities {}",
            share(s.minorities)
        );
        assert!(s.twin_pairs > 0);
        // Heads share their mobile with the household.
        let shared = pop.households.iter().filter(|h| h.phone.is_some()).count();
        assert!(shared as f64 / s.households as f64 > 0.9);
    }
}
