//! Blocking: which pairs are worth comparing at all. A list of rules, OR-ed;
//! a pair found by an earlier rule is not produced again by a later one.
//! Each rule turns a record into keys; records sharing a key form a block.
//! Blocks larger than a cap (a care home's shared phone, a placeholder
//! identity number) are skipped, counted and reported with masked keys.

use serde::{Deserialize, Serialize};

use super::features::Features;
use crate::model::mask::{mask_digits_in_text, mask_id_number, mask_name, mask_phone};

/// One blocking rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockingRule {
    /// The identity number as recorded.
    IdNumber,
    /// Its first 17 characters: survives a wrong check digit.
    #[serde(rename = "id_number_17")]
    IdNumber17,
    /// Each recognized phone.
    Phone,
    /// Toneless pinyin of the full name and the birth year.
    PinyinBirthYear,
    /// Surname (simplified) and the full birth date.
    SurnameBirthDate,
    /// Birth date, sex and community.
    BirthDateSexCommunity,
    /// Simplified full name and birth month: catches day typos.
    NameBirthMonth,
    /// The full birth date alone: for small or Latin-script data where
    /// names are too unreliable to block on (blocks get large on big data).
    BirthDate,
    /// The toneless pinyin of the name alone: catches records whose birth
    /// date is missing or broken (blocks get large on big data).
    Name,
}

impl BlockingRule {
    /// The defaults: they survive the common errors of each field.
    pub const DEFAULTS: [BlockingRule; 6] = [
        BlockingRule::IdNumber,
        BlockingRule::IdNumber17,
        BlockingRule::Phone,
        BlockingRule::PinyinBirthYear,
        BlockingRule::SurnameBirthDate,
        BlockingRule::BirthDateSexCommunity,
    ];

    /// Every rule, for config validation and suggestions.
    pub const ALL: [BlockingRule; 9] = [
        BlockingRule::IdNumber,
        BlockingRule::IdNumber17,
        BlockingRule::Phone,
        BlockingRule::PinyinBirthYear,
        BlockingRule::SurnameBirthDate,
        BlockingRule::BirthDateSexCommunity,
        BlockingRule::NameBirthMonth,
        BlockingRule::BirthDate,
        BlockingRule::Name,
    ];

    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            BlockingRule::IdNumber => "id_number",
            BlockingRule::IdNumber17 => "id_number_17",
            BlockingRule::Phone => "phone",
            BlockingRule::PinyinBirthYear => "pinyin_birth_year",
            BlockingRule::SurnameBirthDate => "surname_birth_date",
            BlockingRule::BirthDateSexCommunity => "birth_date_sex_community",
            BlockingRule::NameBirthMonth => "name_birth_month",
            BlockingRule::BirthDate => "birth_date",
            BlockingRule::Name => "name",
        }
    }

    /// Parses the config spelling.
    pub fn parse(s: &str) -> Option<BlockingRule> {
        BlockingRule::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The record's keys under this rule (none when a part is missing).
    pub fn keys(self, f: &Features, out: &mut Vec<String>) {
        out.clear();
        let mut buf = String::new();
        self.each_key(f, &mut buf, &mut |k| {
            if !out.iter().any(|o| o == k) {
                out.push(k.to_owned());
            }
        });
    }

    /// Calls `emit` with each key, written into the reused `buf` (the pair
    /// loop hashes keys without allocating them).
    pub fn each_key(self, f: &Features, buf: &mut String, emit: &mut dyn FnMut(&str)) {
        use std::fmt::Write;
        buf.clear();
        match self {
            BlockingRule::IdNumber => {
                if let Some(id) = &f.id {
                    emit(&id.number);
                }
            }
            BlockingRule::IdNumber17 => {
                if let Some(id) = f.id.as_ref().filter(|id| id.other_document.is_none()) {
                    if let Some(prefix) = id.number.get(..17).filter(|_| id.number.len() == 18) {
                        emit(prefix);
                    }
                }
            }
            BlockingRule::Phone => f.phones.iter().for_each(|p| emit(p)),
            BlockingRule::PinyinBirthYear => {
                if let (Some(n), Some(b)) = (&f.name, f.birth) {
                    if !n.pinyin.is_empty() {
                        let _ = write!(buf, "{}|{}", n.pinyin, b.year);
                        emit(buf);
                    }
                }
            }
            BlockingRule::SurnameBirthDate => {
                if let (Some(n), Some(b)) = (&f.name, f.birth) {
                    if let Some(day) = b.day {
                        let _ = write!(buf, "{}|{:04}{:02}{day:02}", n.surname, b.year, b.month);
                        emit(buf);
                    }
                }
            }
            BlockingRule::BirthDateSexCommunity => {
                let (Some(b), Some(sex)) = (f.birth, f.sex) else {
                    return;
                };
                let Some(day) = b.day else { return };
                for community in f.addresses.iter().filter_map(|a| a.community.as_deref()) {
                    buf.clear();
                    let _ = write!(
                        buf,
                        "{:04}{:02}{day:02}|{}|{community}",
                        b.year,
                        b.month,
                        sex.code()
                    );
                    emit(buf);
                }
            }
            BlockingRule::NameBirthMonth => {
                if let (Some(n), Some(b)) = (&f.name, f.birth) {
                    let _ = write!(buf, "{}|{:04}{:02}", n.folded, b.year, b.month);
                    emit(buf);
                }
            }
            BlockingRule::Name => {
                if let Some(n) = f.name.as_ref().filter(|n| !n.pinyin.is_empty()) {
                    emit(&n.pinyin);
                }
            }
            BlockingRule::BirthDate => {
                if let Some(day) = f.birth.and_then(|b| b.day.map(|d| (b, d))) {
                    let (b, d) = day;
                    let _ = write!(buf, "{:04}{:02}{d:02}", b.year, b.month);
                    emit(buf);
                }
            }
        }
    }

    /// A key as it may be shown: digits of identity numbers and phones
    /// masked.
    pub fn mask_key(self, key: &str) -> String {
        match self {
            BlockingRule::IdNumber | BlockingRule::IdNumber17 => mask_id_number(key),
            BlockingRule::Phone => mask_phone(key),
            BlockingRule::Name => mask_name(key),
            BlockingRule::PinyinBirthYear | BlockingRule::NameBirthMonth => {
                // A name is personal too: its first letter (or character) only.
                let (name, rest) = key.split_once('|').unwrap_or((key, ""));
                format!("{}|{}", mask_name(name), mask_digits_in_text(rest))
            }
            _ => mask_digits_in_text(key),
        }
    }
}

impl std::fmt::Display for BlockingRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A block too large to compare, as reported (key masked).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LargeBlock {
    pub rule: BlockingRule,
    pub key: String,
    pub records: usize,
}

/// What one rule produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleReport {
    pub rule: BlockingRule,
    /// Pairs this rule produced that no earlier rule had.
    pub pairs: u64,
    /// Blocks with at least two records.
    pub blocks: u64,
    /// Blocks over the cap, skipped.
    pub skipped_blocks: u64,
    /// The largest blocks (compared or not), biggest first.
    pub largest: Vec<LargeBlock>,
}

/// Candidate pairs (index pairs into the record slice, smaller first) and
/// what each rule contributed.
#[derive(Debug, Clone, Default)]
pub struct Candidates {
    pub pairs: Vec<(u32, u32)>,
    pub rules: Vec<RuleReport>,
}

/// How blocking runs.
#[derive(Debug, Clone)]
pub struct BlockingOptions {
    pub rules: Vec<BlockingRule>,
    /// Blocks with more records than this are skipped.
    pub max_block_size: usize,
    /// How many of the largest blocks to keep per rule for the report.
    pub report_largest: usize,
}

impl Default for BlockingOptions {
    fn default() -> Self {
        BlockingOptions {
            rules: BlockingRule::DEFAULTS.to_vec(),
            max_block_size: 500,
            report_largest: 5,
        }
    }
}

/// FNV-1a: fixed (so keys, and therefore pair order, are the same in
/// every run) and cheap on the short keys blocking makes.
fn key_hash(key: &str) -> u64 {
    key.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Every record's sorted key hashes under one rule, in one flat array.
struct RuleKeys {
    /// `hashes[start[i]..start[i + 1]]` are record i's.
    start: Vec<u32>,
    hashes: Vec<u64>,
}

impl RuleKeys {
    fn of(&self, i: u32) -> &[u64] {
        &self.hashes[self.start[i as usize] as usize..self.start[i as usize + 1] as usize]
    }
}

/// Finds candidate pairs among `records`. With `focus`, only pairs with at
/// least one focused record are produced (incremental resolution).
pub fn candidate_pairs<F: std::borrow::Borrow<Features>>(
    records: &[F],
    options: &BlockingOptions,
    focus: Option<&[bool]>,
) -> Candidates {
    let rules = &options.rules;
    // keys[rule]: each record's sorted hashed keys under that rule.
    let mut keys: Vec<RuleKeys> = Vec::with_capacity(rules.len());
    // Hashes of skipped (oversized) blocks per rule: sharing such a key
    // produced no pair, so it must not suppress a later rule's pair.
    let mut skipped: Vec<std::collections::HashSet<u64>> = Vec::with_capacity(rules.len());
    let mut out = Candidates::default();
    let mut buf = Vec::new();
    let mut text = String::new();
    for (r, &rule) in rules.iter().enumerate() {
        let mut rule_keys = RuleKeys {
            start: Vec::with_capacity(records.len() + 1),
            hashes: Vec::with_capacity(records.len()),
        };
        let mut entries: Vec<(u64, u32)> = Vec::with_capacity(records.len());
        for (i, f) in records.iter().enumerate() {
            rule_keys.start.push(rule_keys.hashes.len() as u32);
            let from = rule_keys.hashes.len();
            rule.each_key(f.borrow(), &mut text, &mut |k| {
                rule_keys.hashes.push(key_hash(k))
            });
            let mine = &mut rule_keys.hashes[from..];
            mine.sort_unstable();
            let mut kept = from;
            for k in from..rule_keys.hashes.len() {
                if k == from || rule_keys.hashes[k] != rule_keys.hashes[kept - 1] {
                    rule_keys.hashes[kept] = rule_keys.hashes[k];
                    kept += 1;
                }
            }
            rule_keys.hashes.truncate(kept);
            entries.extend(rule_keys.hashes[from..].iter().map(|&h| (h, i as u32)));
        }
        rule_keys.start.push(rule_keys.hashes.len() as u32);
        entries.sort_unstable();
        let mut report = RuleReport {
            rule,
            pairs: 0,
            blocks: 0,
            skipped_blocks: 0,
            largest: Vec::new(),
        };
        let mut skipped_here = std::collections::HashSet::new();
        let mut sizes: Vec<(usize, u64, u32)> = Vec::new();
        for block in entries.chunk_by(|a, b| a.0 == b.0) {
            if block.len() < 2 {
                continue;
            }
            report.blocks += 1;
            let hash = block[0].0;
            sizes.push((block.len(), hash, block[0].1));
            if block.len() > options.max_block_size {
                report.skipped_blocks += 1;
                skipped_here.insert(hash);
                continue;
            }
            if let Some(focus) = focus {
                if !block.iter().any(|&(_, i)| focus[i as usize]) {
                    continue;
                }
            }
            for (x, &(_, i)) in block.iter().enumerate() {
                for &(_, j) in &block[x + 1..] {
                    if let Some(focus) = focus {
                        if !focus[i as usize] && !focus[j as usize] {
                            continue;
                        }
                    }
                    // Produced already: by this rule under a smaller key,
                    // or by an earlier rule.
                    if shares_key_below(rule_keys.of(i), rule_keys.of(j), hash) {
                        continue;
                    }
                    if (0..r)
                        .any(|e| shares_compared_key(keys[e].of(i), keys[e].of(j), &skipped[e]))
                    {
                        continue;
                    }
                    out.pairs.push((i.min(j), i.max(j)));
                    report.pairs += 1;
                }
            }
        }
        sizes.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        for &(size, hash, example) in sizes.iter().take(options.report_largest) {
            rule.keys(records[example as usize].borrow(), &mut buf);
            let key = buf
                .iter()
                .find(|k| key_hash(k) == hash)
                .map(|k| rule.mask_key(k))
                .unwrap_or_default();
            report.largest.push(LargeBlock {
                rule,
                key,
                records: size,
            });
        }
        for block in report
            .largest
            .iter()
            .filter(|b| b.records > options.max_block_size)
        {
            tracing::warn!(
                rule = %rule,
                key = %block.key,
                records = block.records,
                cap = options.max_block_size,
                "blocking key shared by too many records; block skipped"
            );
        }
        keys.push(rule_keys);
        skipped.push(skipped_here);
        out.rules.push(report);
    }
    out
}

/// Whether two sorted key lists share a key smaller than `hash`.
fn shares_key_below(a: &[u64], b: &[u64], hash: u64) -> bool {
    a.iter()
        .take_while(|&&k| k < hash)
        .any(|k| b.binary_search(k).is_ok())
}

/// Whether two sorted key lists share a key whose block was compared.
fn shares_compared_key(a: &[u64], b: &[u64], skipped: &std::collections::HashSet<u64>) -> bool {
    a.iter()
        .any(|k| b.binary_search(k).is_ok() && !skipped.contains(k))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matching::testing::{features, id};

    #[test]
    fn keys_survive_common_errors() {
        let f = features(serde_json::json!({
            "id_document": id("11010519491231002X"), "name": "張偉", "sex": "female",
            "phones": ["13812345678"], "current_address": "鼓楼街道中山社区23幢502室"
        }));
        let keys = |rule: BlockingRule| {
            let mut out = Vec::new();
            rule.keys(&f, &mut out);
            out
        };
        assert_eq!(keys(BlockingRule::IdNumber), ["11010519491231002X"]);
        assert_eq!(keys(BlockingRule::IdNumber17), ["11010519491231002"]);
        assert_eq!(keys(BlockingRule::Phone), ["13812345678"]);
        assert_eq!(keys(BlockingRule::PinyinBirthYear), ["zhangwei|1949"]);
        assert_eq!(keys(BlockingRule::SurnameBirthDate), ["张|19491231"]);
        assert_eq!(
            keys(BlockingRule::BirthDateSexCommunity),
            ["19491231|2|中山社区"]
        );
        assert_eq!(keys(BlockingRule::NameBirthMonth), ["张伟|194912"]);
    }

    #[test]
    fn each_pair_is_produced_once_by_its_first_rule() {
        let r = |idn: &str, phone: &str| {
            features(serde_json::json!({"id_document": id(idn), "name": "张伟", "phones": [phone]}))
        };
        let records = vec![
            r("11010519491231002X", "13800000001"),
            r("11010519491231002X", "13800000001"),
            r("330203198001011234", "13800000001"),
        ];
        let options = BlockingOptions {
            rules: vec![BlockingRule::IdNumber, BlockingRule::Phone],
            ..BlockingOptions::default()
        };
        let c = candidate_pairs(&records, &options, None);
        let mut pairs = c.pairs.clone();
        pairs.sort_unstable();
        assert_eq!(pairs, vec![(0, 1), (0, 2), (1, 2)]);
        assert_eq!(c.rules[0].pairs, 1);
        assert_eq!(c.rules[1].pairs, 2);
    }

    #[test]
    fn multi_valued_keys_do_not_repeat_pairs() {
        let r = || {
            features(serde_json::json!({"name": "张伟", "phones": ["13800000001", "13800000002"]}))
        };
        let records = vec![r(), r()];
        let options = BlockingOptions {
            rules: vec![BlockingRule::Phone],
            ..BlockingOptions::default()
        };
        assert_eq!(
            candidate_pairs(&records, &options, None).pairs,
            vec![(0, 1)]
        );
    }

    #[test]
    fn oversized_blocks_are_skipped_and_reported_masked() {
        let mut records: Vec<Features> = (0..6)
            .map(|_| features(serde_json::json!({"name": "张伟", "phones": ["13812345678"]})))
            .collect();
        records.push(features(
            serde_json::json!({"name": "李娜", "phones": ["13900000000"]}),
        ));
        records.push(features(
            serde_json::json!({"name": "李娜", "phones": ["13900000000"]}),
        ));
        let options = BlockingOptions {
            rules: vec![BlockingRule::Phone],
            max_block_size: 5,
            report_largest: 5,
        };
        let c = candidate_pairs(&records, &options, None);
        assert_eq!(c.pairs, vec![(6, 7)]);
        let report = &c.rules[0];
        assert_eq!((report.blocks, report.skipped_blocks), (2, 1));
        assert_eq!(report.largest[0].records, 6);
        assert!(
            !report.largest[0].key.contains("12345678"),
            "{:?}",
            report.largest
        );
    }

    #[test]
    fn a_skipped_block_does_not_hide_a_later_rule() {
        let records: Vec<Features> = (0..4)
            .map(|i| {
                features(serde_json::json!({
                    "name": if i < 2 { "张伟" } else { "李娜" },
                    "birth_date": "1980-01-01",
                    "phones": ["13812345678"]
                }))
            })
            .collect();
        let options = BlockingOptions {
            rules: vec![BlockingRule::Phone, BlockingRule::PinyinBirthYear],
            max_block_size: 3,
            report_largest: 1,
        };
        let mut pairs = candidate_pairs(&records, &options, None).pairs;
        pairs.sort_unstable();
        assert_eq!(pairs, vec![(0, 1), (2, 3)]);
    }

    #[test]
    fn focus_limits_pairs_to_changed_records() {
        let records: Vec<Features> = (0..3)
            .map(|_| features(serde_json::json!({"name": "张伟", "phones": ["13812345678"]})))
            .collect();
        let options = BlockingOptions {
            rules: vec![BlockingRule::Phone],
            ..BlockingOptions::default()
        };
        let focus = [false, false, true];
        let mut pairs = candidate_pairs(&records, &options, Some(&focus)).pairs;
        pairs.sort_unstable();
        assert_eq!(pairs, vec![(0, 2), (1, 2)]);
    }
}
