//! Dotted paths into a JSON response (`data.list`, `result.items[0].rows`),
//! the small JSONPath subset REST gateways need to point at a record array, a
//! total or a next-page token.
//!
//! Syntax: keys separated by `.`, array indexes as `[n]` or as a numeric key
//! (`items.0.rows`); a leading `$` or `$.` is allowed; `$` or `.` alone is
//! the whole response (an API that returns a bare array). Keys containing
//! `.` or `[` cannot be written.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

/// A parsed path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPath {
    text: String,
    steps: Vec<Step>,
}

impl JsonPath {
    /// Parses `text`; the error says what is wrong with it.
    pub fn parse(text: &str) -> Result<JsonPath, String> {
        let trimmed = text.trim();
        let body = trimmed
            .strip_prefix("$.")
            .or_else(|| trimmed.strip_prefix('$'))
            .unwrap_or(trimmed);
        let mut steps = Vec::new();
        if !body.is_empty() && body != "." {
            for segment in body.split('.') {
                parse_segment(segment, &mut steps)
                    .map_err(|why| format!("`{trimmed}` is not a valid path: {why}"))?;
            }
        }
        Ok(JsonPath {
            text: trimmed.to_string(),
            steps,
        })
    }

    /// The path as written, for messages.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The value at this path, if every step exists.
    pub fn get<'v>(&self, mut value: &'v Value) -> Option<&'v Value> {
        for step in &self.steps {
            value = match (step, value) {
                (Step::Key(k), Value::Object(map)) => map.get(k)?,
                (Step::Key(k), Value::Array(items)) => items.get(k.parse::<usize>().ok()?)?,
                (Step::Index(i), Value::Array(items)) => items.get(*i)?,
                (Step::Index(i), Value::Object(map)) => map.get(&i.to_string())?,
                _ => return None,
            };
        }
        Some(value)
    }

    /// Moves the value at this path out of `value` (leaving `null`), so a
    /// page's records are not copied.
    pub fn take(&self, mut value: &mut Value) -> Option<Value> {
        for step in &self.steps {
            value = match (step, value) {
                (Step::Key(k), Value::Object(map)) => map.get_mut(k)?,
                (Step::Key(k), Value::Array(items)) => items.get_mut(k.parse::<usize>().ok()?)?,
                (Step::Index(i), Value::Array(items)) => items.get_mut(*i)?,
                (Step::Index(i), Value::Object(map)) => map.get_mut(&i.to_string())?,
                _ => return None,
            };
        }
        Some(value.take())
    }
}

fn parse_segment(segment: &str, steps: &mut Vec<Step>) -> Result<(), String> {
    let (key, mut rest) = match segment.find('[') {
        Some(at) => (&segment[..at], &segment[at..]),
        None => (segment, ""),
    };
    if key.is_empty() && rest.is_empty() {
        return Err("empty key between dots".into());
    }
    if key.contains(']') {
        return Err(format!("unexpected `]` in `{segment}`"));
    }
    if !key.is_empty() {
        steps.push(Step::Key(key.to_string()));
    }
    while !rest.is_empty() {
        let inner = rest
            .strip_prefix('[')
            .ok_or_else(|| format!("expected `[` in `{segment}`"))?;
        let close = inner
            .find(']')
            .ok_or_else(|| format!("`[` without `]` in `{segment}`"))?;
        let index = inner[..close]
            .trim()
            .parse::<usize>()
            .map_err(|_| format!("`[{}]` is not an array index", &inner[..close]))?;
        steps.push(Step::Index(index));
        rest = &inner[close + 1..];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dotted_keys_and_indexes() {
        let v = json!({"data": {"list": [1, 2], "total": 2},
                       "result": {"items": [{"rows": ["a"]}]}});
        let get = |p: &str| JsonPath::parse(p).unwrap().get(&v).cloned();
        assert_eq!(get("data.list"), Some(json!([1, 2])));
        assert_eq!(get("$.data.total"), Some(json!(2)));
        assert_eq!(get("result.items[0].rows"), Some(json!(["a"])));
        assert_eq!(get("result.items.0.rows[0]"), Some(json!("a")));
        assert_eq!(get("result.items[1].rows"), None);
        assert_eq!(get("data.list.x"), None);
        assert_eq!(get("$"), Some(v.clone()));
    }

    #[test]
    fn take_moves_the_value_out() {
        let mut v = json!({"data": {"list": [1, 2]}});
        let p = JsonPath::parse("data.list").unwrap();
        assert_eq!(p.take(&mut v), Some(json!([1, 2])));
        assert_eq!(v, json!({"data": {"list": null}}));
    }

    #[test]
    fn bad_paths_are_explained() {
        for bad in ["data..list", "a[x]", "a[1", "a]b", "a[0]x"] {
            let e = JsonPath::parse(bad).unwrap_err();
            assert!(e.contains(bad), "{e}");
        }
    }
}
