//! `${VAR}` references in configuration values, resolved from the
//! environment, `VAR_FILE` files or systemd credentials, so that secrets never
//! have to be written into files kept with the configuration.

use std::fmt;
use std::path::PathBuf;

/// Where references are looked up. The process environment in production;
/// a fixed map in tests.
pub trait Environment {
    fn var(&self, name: &str) -> Option<String>;
}

/// The real process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl Environment for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl<S: std::hash::BuildHasher> Environment for std::collections::HashMap<String, String, S> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

/// Why a reference could not be resolved.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ExpandError {
    #[error("`${{` without a closing `}}`")]
    Unterminated,
    #[error("`{0}` is not a valid variable name (use A-Z, 0-9 and _)")]
    InvalidName(String),
    #[error(
        "environment variable {0} is not set (nor {0}_FILE, nor a systemd credential named {0})"
    )]
    Unset(String),
    #[error("cannot read {name} from {path}: {reason}")]
    Unreadable {
        name: String,
        path: PathBuf,
        reason: String,
    },
}

/// Replaces every `${NAME}` / `${NAME:-default}` in `template`; `$$` is a
/// literal `$`.
///
/// `NAME` resolves, in order, to the variable `NAME`, the contents of the file
/// named by `NAME_FILE`, the systemd credential `$CREDENTIALS_DIRECTORY/NAME`,
/// and finally the default. File contents lose one trailing newline.
pub fn expand(template: &str, env: &impl Environment) -> Result<String, ExpandError> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        let after = &rest[dollar + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('{') {
            let close = matching_brace(body).ok_or(ExpandError::Unterminated)?;
            let reference = &body[..close];
            let (name, default) = match reference.split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (reference, None),
            };
            out.push_str(&resolve(name, default, env)?);
            rest = &body[close + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Index of the `}` closing a reference whose body starts `body`, allowing
/// references nested in a default (`${A:-${B}}`).
fn matching_brace(body: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in body.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return Some(i),
            '}' => depth -= 1,
            _ => {}
        }
    }
    None
}

/// True when `value` contains a `${…}` reference.
pub fn has_reference(value: &str) -> bool {
    value.contains("${")
}

fn resolve(
    name: &str,
    default: Option<&str>,
    env: &impl Environment,
) -> Result<String, ExpandError> {
    let valid = !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(ExpandError::InvalidName(name.to_string()));
    }
    if let Some(value) = env.var(name) {
        return Ok(value);
    }
    let file_var = format!("{name}_FILE");
    if let Some(path) = env.var(&file_var) {
        return read_secret_file(name, PathBuf::from(path));
    }
    if let Some(dir) = env.var("CREDENTIALS_DIRECTORY") {
        let path = PathBuf::from(dir).join(name);
        if path.exists() {
            return read_secret_file(name, path);
        }
    }
    match default {
        Some(default) => expand(default, env),
        None => Err(ExpandError::Unset(name.to_string())),
    }
}

fn read_secret_file(name: &str, path: PathBuf) -> Result<String, ExpandError> {
    match std::fs::read_to_string(&path) {
        Ok(mut text) => {
            if text.ends_with('\n') {
                text.pop();
                if text.ends_with('\r') {
                    text.pop();
                }
            }
            Ok(text)
        }
        Err(e) => Err(ExpandError::Unreadable {
            name: name.to_string(),
            path,
            reason: e.to_string(),
        }),
    }
}

/// A credential resolved from the environment. Its `Debug` and `Display`
/// never show the value, so it cannot leak through a log line or an error.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Secret(value)
    }

    /// The secret itself; call only where it is sent to the system it is for.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn plain_text_is_untouched() {
        assert_eq!(
            expand("sqlite://var/yici.db", &env(&[])).unwrap(),
            "sqlite://var/yici.db"
        );
        assert_eq!(expand("cost $5", &env(&[])).unwrap(), "cost $5");
        assert_eq!(expand("a$$b", &env(&[])).unwrap(), "a$b");
    }

    #[test]
    fn variables_and_defaults() {
        let e = env(&[("HOST", "db.local"), ("EMPTY", "")]);
        assert_eq!(expand("pg://${HOST}/x", &e).unwrap(), "pg://db.local/x");
        assert_eq!(expand("${MISSING:-fallback}", &e).unwrap(), "fallback");
        assert_eq!(expand("${MISSING:-${HOST}}", &e).unwrap(), "db.local");
        assert_eq!(
            expand("${MISSING:-s://${HOST}/d}/x", &e).unwrap(),
            "s://db.local/d/x"
        );
        assert_eq!(expand("[${EMPTY}]", &e).unwrap(), "[]");
        assert_eq!(
            expand("${MISSING}", &e),
            Err(ExpandError::Unset("MISSING".into()))
        );
        assert_eq!(expand("${OPEN", &e), Err(ExpandError::Unterminated));
        assert_eq!(
            expand("${9X}", &e),
            Err(ExpandError::InvalidName("9X".into()))
        );
    }

    #[test]
    fn file_and_systemd_credentials() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "s3cret\n").unwrap();
        std::fs::write(dir.path().join("HR_SECRET"), "from-credential").unwrap();
        let e = env(&[
            ("TOKEN_FILE", file.to_str().unwrap()),
            ("CREDENTIALS_DIRECTORY", dir.path().to_str().unwrap()),
            ("GONE_FILE", "/nonexistent/yici/secret"),
        ]);
        assert_eq!(expand("${TOKEN}", &e).unwrap(), "s3cret");
        assert_eq!(expand("${HR_SECRET}", &e).unwrap(), "from-credential");
        assert!(matches!(
            expand("${GONE}", &e),
            Err(ExpandError::Unreadable { .. })
        ));
    }

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("hunter2".into());
        assert_eq!(format!("{s:?} {s}"), "Secret(***) ***");
        assert_eq!(s.expose(), "hunter2");
    }
}
