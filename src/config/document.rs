//! Reading one TOML file into a typed struct, keeping enough of the source to
//! place any later validation error at its line and key.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::error::ConfigError;
use super::suggest;

/// A parsed configuration file: its typed value and a map from dotted key
/// paths to where they stand in the text.
#[derive(Debug)]
pub struct Document<T> {
    pub value: T,
    pub locator: Locator,
}

/// Finds the line and column of a dotted key path (`http.auth.secret`,
/// `examples[0].raw`) in the file it was built from.
#[derive(Debug, Clone)]
pub struct Locator {
    file: PathBuf,
    line_starts: Vec<usize>,
    spans: BTreeMap<String, Range<usize>>,
}

impl Locator {
    fn new(file: &Path, text: &str) -> Self {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Locator {
            file: file.to_path_buf(),
            line_starts,
            spans: BTreeMap::new(),
        }
    }

    /// The file this locator describes.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// 1-based (line, column) of a byte offset.
    fn position(&self, offset: usize) -> (usize, usize) {
        let line = self.line_starts.partition_point(|&start| start <= offset);
        let column = offset - self.line_starts[line.saturating_sub(1)] + 1;
        (line, column)
    }

    /// An error at `key` (the nearest enclosing key that exists in the file).
    pub fn error(&self, key: &str, message: impl Into<String>) -> ConfigError {
        let mut probe = key;
        let span = loop {
            if let Some(span) = self.spans.get(probe) {
                break Some(span.clone());
            }
            match probe.rfind(['.', '[']) {
                Some(cut) => probe = &probe[..cut],
                None => break None,
            }
        };
        let key = (!key.is_empty()).then(|| key.to_string());
        self.error_at_span(span, key, message.into())
    }

    fn error_at_span(
        &self,
        span: Option<Range<usize>>,
        key: Option<String>,
        message: String,
    ) -> ConfigError {
        let (line, column) = match span {
            Some(span) => {
                let (l, c) = self.position(span.start);
                (Some(l), Some(c))
            }
            None => (None, None),
        };
        ConfigError {
            file: self.file.clone(),
            line,
            column,
            key,
            message,
        }
    }

    fn index_table(&mut self, prefix: &str, table: &DeTable<'_>) {
        for (key, value) in table {
            let path = if prefix.is_empty() {
                key.get_ref().to_string()
            } else {
                format!("{prefix}.{}", key.get_ref())
            };
            self.spans.insert(path.clone(), key.span());
            self.index_value(&path, value);
        }
    }

    fn index_value(&mut self, path: &str, value: &Spanned<DeValue<'_>>) {
        match value.get_ref() {
            DeValue::Table(table) => self.index_table(path, table),
            DeValue::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let item_path = format!("{path}[{i}]");
                    self.spans.insert(item_path.clone(), item.span());
                    self.index_value(&item_path, item);
                }
            }
            _ => {}
        }
    }
}

/// Reads and parses `path` into `T`, rejecting unknown keys (the structs use
/// `deny_unknown_fields`) with the key's position and a suggestion.
pub fn read<T: DeserializeOwned>(path: &Path) -> Result<Document<T>, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::file(path, format!("cannot read file: {e}")))?;
    parse(path, &text)
}

/// Parses TOML `text` that was read from `path`.
pub fn parse<T: DeserializeOwned>(path: &Path, text: &str) -> Result<Document<T>, ConfigError> {
    let mut locator = Locator::new(path, text);
    let root = DeTable::parse(text).map_err(|e| {
        locator.error_at_span(
            e.span(),
            None,
            format!("invalid TOML: {}", e.message().trim()),
        )
    })?;
    locator.index_table("", root.get_ref());
    let deserializer = toml::Deserializer::from(root);
    match serde_path_to_error::deserialize::<_, T>(deserializer) {
        Ok(value) => Ok(Document { value, locator }),
        Err(error) => {
            let path = error.path().to_string();
            let inner = error.into_inner();
            let (key, message) = describe(&path, inner.message());
            let span = inner.span().or_else(|| locator.spans.get(&key).cloned());
            Err(locator.error_at_span(
                span,
                (!key.is_empty() && key != ".").then_some(key),
                message,
            ))
        }
    }
}

/// Turns serde's message into one naming the full key, with a suggestion for
/// unknown fields.
fn describe(path: &str, message: &str) -> (String, String) {
    let message = message.trim();
    if let Some(rest) = message.strip_prefix("unknown field `") {
        if let Some((field, expected)) = rest.split_once('`') {
            let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
            let key = if path.is_empty() || path == "." {
                field.to_string()
            } else if path.ends_with(field) {
                path.to_string()
            } else {
                format!("{path}.{field}")
            };
            let hint = suggest::did_you_mean(field, candidates.iter().copied());
            let allowed = if candidates.is_empty() {
                String::new()
            } else {
                format!(" (allowed: {})", candidates.join(", "))
            };
            return (key, format!("unknown key `{field}`{hint}{allowed}"));
        }
    }
    if let Some(rest) = message.strip_prefix("unknown variant `") {
        if let Some((variant, expected)) = rest.split_once('`') {
            let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
            let hint = suggest::did_you_mean(variant, candidates.iter().copied());
            return (
                path.to_string(),
                format!(
                    "unknown value `{variant}`{hint} (allowed: {})",
                    candidates.join(", ")
                ),
            );
        }
    }
    (path.to_string(), message.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Root {
        store: Store,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Store {
        url: String,
        #[serde(default)]
        pool_size: u32,
    }

    fn parse_root(text: &str) -> Result<Document<Root>, ConfigError> {
        parse(Path::new("config/yici.toml"), text)
    }

    #[test]
    fn unknown_key_names_line_key_and_suggestion() {
        let err = parse_root("[store]\nurl = \"sqlite://x\"\npool_sise = 3\n").unwrap_err();
        assert_eq!(err.line, Some(3));
        assert_eq!(err.key.as_deref(), Some("store.pool_sise"));
        assert!(
            err.message.contains("did you mean `pool_size`"),
            "{}",
            err.message
        );
    }

    #[test]
    fn wrong_type_names_the_key() {
        let err = parse_root("[store]\nurl = \"x\"\npool_size = \"three\"\n").unwrap_err();
        assert_eq!(err.line, Some(3));
        assert_eq!(err.key.as_deref(), Some("store.pool_size"));
    }

    #[test]
    fn syntax_error_has_a_line() {
        let err = parse_root("[store]\nurl = \n").unwrap_err();
        assert_eq!(err.line, Some(2));
        assert!(err.message.starts_with("invalid TOML"), "{}", err.message);
    }

    #[test]
    fn locator_places_nested_keys() {
        let doc = parse_root("# c\n[store]\nurl = \"x\"\n").unwrap();
        let err = doc.locator.error("store.url", "bad");
        assert_eq!((err.line, err.column), (Some(3), Some(1)));
        let err = doc.locator.error("store.url.deeper", "bad");
        assert_eq!(err.line, Some(3));
        assert_eq!(
            err.to_string(),
            "config/yici.toml:3:1: key `store.url.deeper`: bad"
        );
    }
}
