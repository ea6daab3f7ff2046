//! The text steps of a transform chain (`trim`, `split(;)`, `regex(…)`,
//! `code_table(…)`, `default(…)` …): compiled once, then applied to every
//! row. A value flows through them as nothing, one text or (after `split`)
//! a list; text borrowed from the raw row stays borrowed until a step has to
//! change it, which keeps the common `trim`-only chain allocation-free.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use regex_lite::Regex;

use crate::model::text::{half_width_char, is_blank};

/// A value between steps.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) enum Val<'a> {
    #[default]
    Empty,
    One(Cow<'a, str>),
    Many(Vec<Cow<'a, str>>),
}

impl<'a> Val<'a> {
    /// `One`, or `Empty` when the text is blank.
    pub(crate) fn one(text: Cow<'a, str>) -> Val<'a> {
        if text.chars().all(is_blank) {
            Val::Empty
        } else {
            Val::One(text)
        }
    }

    /// `Many` without blank elements; `Empty` when none is left.
    pub(crate) fn many(items: Vec<Cow<'a, str>>) -> Val<'a> {
        let items: Vec<_> = items
            .into_iter()
            .filter(|t| !t.chars().all(is_blank))
            .collect();
        if items.is_empty() {
            Val::Empty
        } else {
            Val::Many(items)
        }
    }

    /// Applies a text-to-text function to each element; `None` drops it.
    fn map(self, mut f: impl FnMut(Cow<'a, str>) -> Option<Cow<'a, str>>) -> Val<'a> {
        match self {
            Val::Empty => Val::Empty,
            Val::One(t) => f(t).map_or(Val::Empty, Val::one),
            Val::Many(items) => Val::many(items.into_iter().filter_map(f).collect()),
        }
    }
}

/// A compiled text step.
#[derive(Debug, Clone)]
pub(crate) enum Step {
    Trim,
    Upper,
    Lower,
    CollapseWhitespace,
    /// Splits each text on the separator into a list.
    Split(String),
    /// Keeps the first capture group (or the whole match); no match is a
    /// problem and drops the value.
    Regex(Regex),
    /// Replaces a code by its value; an unknown code is a problem and drops
    /// the value.
    CodeTable {
        name: String,
        table: Arc<HashMap<String, String>>,
    },
    /// The value used when there is none (so far) in the chain.
    Default(String),
}

impl Step {
    /// Applies the step; problems (without the field prefix) go to `problems`.
    pub(crate) fn apply<'a>(&self, value: Val<'a>, problems: &mut Vec<String>) -> Val<'a> {
        match self {
            Step::Trim => value.map(|t| Some(trim(t))),
            Step::Upper => value.map(|t| Some(Cow::Owned(t.to_uppercase()))),
            Step::Lower => value.map(|t| Some(Cow::Owned(t.to_lowercase()))),
            Step::CollapseWhitespace => value.map(|t| Some(collapse_whitespace(t))),
            Step::Split(separator) => {
                let pieces = |t: Cow<'a, str>| -> Vec<Cow<'a, str>> {
                    match t {
                        Cow::Borrowed(s) => s
                            .split(separator.as_str())
                            .map(|p| Cow::Borrowed(p.trim_matches(is_blank)))
                            .collect(),
                        Cow::Owned(s) => s
                            .split(separator.as_str())
                            .map(|p| Cow::Owned(p.trim_matches(is_blank).to_owned()))
                            .collect(),
                    }
                };
                match value {
                    Val::Empty => Val::Empty,
                    Val::One(t) => Val::many(pieces(t)),
                    Val::Many(items) => Val::many(items.into_iter().flat_map(pieces).collect()),
                }
            }
            Step::Regex(re) => value.map(|t| {
                let found = re.captures(&t).and_then(|c| {
                    let m = if c.len() > 1 { c.get(1) } else { c.get(0) };
                    m.map(|m| m.range())
                });
                match found {
                    Some(range) => Some(slice(t, range)),
                    None => {
                        problems.push(format!("{:?} does not match /{}/", &*t, re.as_str()));
                        None
                    }
                }
            }),
            Step::CodeTable { name, table } => value.map(|t| {
                let key = t.trim_matches(is_blank);
                match table.get(key) {
                    Some(v) => Some(Cow::Owned(v.clone())),
                    None => {
                        problems.push(format!("unknown code {key:?} in table {name}"));
                        None
                    }
                }
            }),
            Step::Default(text) => match value {
                Val::Empty => Val::one(Cow::Owned(text.clone())),
                v => v,
            },
        }
    }
}

/// Looks `text` up in an inline value map (exact match after trimming
/// blanks); unmapped values pass through unchanged.
pub(crate) fn apply_map<'a>(map: &HashMap<String, String>, value: Val<'a>) -> Val<'a> {
    value.map(|t| match map.get(t.trim_matches(is_blank)) {
        Some(v) => Some(Cow::Owned(v.clone())),
        None => Some(t),
    })
}

/// Blank-trims, keeping borrowed text borrowed.
pub(crate) fn trim(t: Cow<'_, str>) -> Cow<'_, str> {
    match t {
        Cow::Borrowed(s) => Cow::Borrowed(s.trim_matches(is_blank)),
        Cow::Owned(s) => {
            let trimmed = s.trim_matches(is_blank);
            if trimmed.len() == s.len() {
                Cow::Owned(s)
            } else {
                Cow::Owned(trimmed.to_owned())
            }
        }
    }
}

fn slice(t: Cow<'_, str>, range: std::ops::Range<usize>) -> Cow<'_, str> {
    match t {
        Cow::Borrowed(s) => Cow::Borrowed(s.get(range).unwrap_or_default()),
        Cow::Owned(s) => Cow::Owned(s.get(range).unwrap_or_default().to_owned()),
    }
}

/// Runs of blanks (including U+3000 and zero-width characters) become one
/// ASCII space; leading and trailing blanks go.
fn collapse_whitespace(t: Cow<'_, str>) -> Cow<'_, str> {
    let mut out = String::with_capacity(t.len());
    let mut pending = false;
    for c in t.chars() {
        if is_blank(half_width_char(c)) {
            pending = !out.is_empty();
        } else {
            if pending {
                out.push(' ');
                pending = false;
            }
            out.push(c);
        }
    }
    if out == *t {
        t
    } else {
        Cow::Owned(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run<'a>(step: &Step, value: Val<'a>) -> (Val<'a>, Vec<String>) {
        let mut problems = Vec::new();
        let v = step.apply(value, &mut problems);
        (v, problems)
    }

    fn one(s: &str) -> Val<'_> {
        Val::One(Cow::Borrowed(s))
    }

    fn many<'a>(items: &[&'a str]) -> Val<'a> {
        Val::Many(items.iter().map(|s| Cow::Borrowed(*s)).collect())
    }

    #[test]
    fn trim_and_case() {
        assert_eq!(run(&Step::Trim, one("\u{3000} a b \u{200B}")).0, one("a b"));
        assert_eq!(run(&Step::Trim, one("  ")).0, Val::Empty);
        assert_eq!(run(&Step::Upper, one("x1")).0, one("X1"));
        assert_eq!(run(&Step::Lower, many(&["A", "B"])).0, many(&["a", "b"]));
        assert_eq!(run(&Step::Upper, Val::Empty).0, Val::Empty);
    }

    #[test]
    fn collapse() {
        assert_eq!(
            run(&Step::CollapseWhitespace, one("  a \u{3000}\t b  ")).0,
            one("a b")
        );
        assert!(matches!(
            run(&Step::CollapseWhitespace, one("ab")).0,
            Val::One(Cow::Borrowed("ab"))
        ));
    }

    #[test]
    fn split() {
        let step = Step::Split("；".into());
        assert_eq!(run(&step, one("138；；139 ； ")).0, many(&["138", "139"]));
        assert_eq!(
            run(&Step::Split("/".into()), many(&["a/b", "c"])).0,
            many(&["a", "b", "c"])
        );
        assert_eq!(run(&step, one("；")).0, Val::Empty);
    }

    #[test]
    fn regex() {
        let group = Step::Regex(Regex::new(r"(\d{11})").unwrap());
        assert_eq!(
            run(&group, one("电话:13812345678 张")).0,
            one("13812345678")
        );
        let whole = Step::Regex(Regex::new(r"\d+").unwrap());
        assert_eq!(run(&whole, one("第12组")).0, one("12"));
        let (v, problems) = run(&whole, one("无号"));
        assert_eq!(v, Val::Empty);
        assert_eq!(problems, vec![r#""无号" does not match /\d+/"#]);
        // An optional group that did not take part falls back to nothing.
        let optional = Step::Regex(Regex::new(r"a(\d)?").unwrap());
        assert_eq!(run(&optional, one("xa")).0, Val::Empty);
    }

    #[test]
    fn code_table() {
        let table = Arc::new(HashMap::from([("1".to_owned(), "paying".to_owned())]));
        let step = Step::CodeTable {
            name: "status".into(),
            table,
        };
        assert_eq!(run(&step, one(" 1 ")).0, one("paying"));
        let (v, problems) = run(&step, one("x"));
        assert_eq!(v, Val::Empty);
        assert_eq!(problems, vec![r#"unknown code "x" in table status"#]);
    }

    #[test]
    fn default_fills_only_empty() {
        let step = Step::Default("汉族".into());
        assert_eq!(run(&step, Val::Empty).0, one("汉族"));
        assert_eq!(run(&step, one("回族")).0, one("回族"));
    }

    #[test]
    fn inline_map() {
        let map = HashMap::from([("Y".to_owned(), "true".to_owned())]);
        assert_eq!(apply_map(&map, one(" Y ")), one("true"));
        assert_eq!(apply_map(&map, one("N")), one("N"));
    }
}
