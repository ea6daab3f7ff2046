//! Term frequencies: agreeing on 张伟 is weak evidence, on 欧阳翠花 strong.
//! Counted from the records being resolved, optionally overridden by an
//! operator's table (a district is a skewed sample of the country's names).

use std::collections::HashMap;
use std::path::Path;

use super::features::Features;
use super::InputFileError;

/// How often values occur among the records.
#[derive(Debug, Clone, Default)]
pub struct TermFrequencies {
    names: HashMap<String, u32>,
    named_records: u32,
    phones: HashMap<String, u32>,
    phoned_records: u32,
    name_table: HashMap<String, f64>,
}

impl TermFrequencies {
    /// Counts names (simplified form) and phones over `records`.
    pub fn count(records: &[Features]) -> TermFrequencies {
        let mut tf = TermFrequencies::default();
        for f in records {
            if let Some(name) = &f.name {
                *tf.names.entry(name.folded.clone()).or_default() += 1;
                tf.named_records += 1;
            }
            for phone in &f.phones {
                *tf.phones.entry(phone.clone()).or_default() += 1;
            }
            tf.phoned_records += u32::from(!f.phones.is_empty());
        }
        tf
    }

    /// Uses the operator's frequencies for the names the table lists.
    pub fn with_name_table(mut self, table: HashMap<String, f64>) -> TermFrequencies {
        self.name_table = table;
        self
    }

    /// Relative frequency of a (simplified) name, at least one record's.
    pub fn name(&self, folded: &str) -> f64 {
        if let Some(&f) = self.name_table.get(folded) {
            return f;
        }
        relative(self.names.get(folded).copied(), self.named_records)
    }

    /// Relative frequency of a phone among records that have one.
    pub fn phone(&self, canonical: &str) -> f64 {
        relative(self.phones.get(canonical).copied(), self.phoned_records)
    }

    /// How many records carry this phone.
    pub fn phone_count(&self, canonical: &str) -> u32 {
        self.phones.get(canonical).copied().unwrap_or(0)
    }
}

fn relative(count: Option<u32>, total: u32) -> f64 {
    let total = f64::from(total.max(1));
    f64::from(count.unwrap_or(1).max(1)) / total
}

/// Reads `name,frequency` lines (a header line is allowed; frequency is a
/// proportion in (0, 1]; names are folded to simplified characters).
pub fn load_name_table(path: &Path) -> Result<HashMap<String, f64>, InputFileError> {
    let text = std::fs::read_to_string(path).map_err(|error| InputFileError::Io {
        path: path.to_owned(),
        error,
    })?;
    let mut table = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |problem: String| InputFileError::Line {
            path: path.to_owned(),
            line: i as u64 + 1,
            problem,
        };
        let Some((name, freq)) = line.split_once(',') else {
            return Err(bad("expected `name,frequency`".to_owned()));
        };
        let freq = freq.trim();
        let value: f64 = match freq.parse() {
            Ok(v) => v,
            Err(_) if i == 0 => continue, // header
            Err(_) => return Err(bad(format!("frequency `{freq}` is not a number"))),
        };
        if !(value > 0.0 && value <= 1.0) {
            return Err(bad(format!("frequency {value} is not in (0, 1]")));
        }
        let name = crate::model::name::PersonName::parse(name)
            .map_err(|e| bad(format!("name `{name}`: {e}")))?;
        table.insert(name.folded().to_owned(), value);
    }
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matching::testing::features;

    fn named(name: &str, phone: &str) -> Features {
        features(serde_json::json!({"name": name, "phones": [phone]}))
    }

    #[test]
    fn common_values_are_frequent() {
        let records = vec![
            named("张伟", "13800000001"),
            named("張偉", "13800000001"),
            named("张伟", "13800000001"),
            named("欧阳翠花", "13800000002"),
        ];
        let tf = TermFrequencies::count(&records);
        assert_eq!(tf.name("张伟"), 0.75);
        assert_eq!(tf.name("欧阳翠花"), 0.25);
        // Unseen values count as one record, never zero.
        assert_eq!(tf.name("李娜"), 0.25);
        assert_eq!(tf.phone("13800000001"), 0.75);
        assert_eq!(tf.phone_count("13800000002"), 1);
    }

    #[test]
    fn operator_table_overrides_counts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("names.csv");
        std::fs::write(&path, "name,frequency\n張偉,0.002\n").unwrap();
        let table = load_name_table(&path).unwrap();
        let tf = TermFrequencies::count(&[named("张伟", "13800000001")]).with_name_table(table);
        assert_eq!(tf.name("张伟"), 0.002);

        std::fs::write(&path, "name,frequency\n张伟,2\n").unwrap();
        let err = load_name_table(&path).unwrap_err().to_string();
        assert!(
            err.ends_with("names.csv:2: frequency 2 is not in (0, 1]"),
            "{err}"
        );
    }
}
