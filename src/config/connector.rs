//! `connectors/NAME.toml`: what a department system is and how to reach it.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::document::{Document, Locator};
use super::error::ConfigError;
use super::expand::{self, Environment, Secret};
use super::schedule::Schedule;

/// The department that owns a system; decides vocabulary in reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Department {
    CivilAffairs,
    Health,
    Hr,
    Governance,
    Other,
}

impl Department {
    /// The name used in configuration (`civil_affairs`, `health`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Department::CivilAffairs => "civil_affairs",
            Department::Health => "health",
            Department::Hr => "hr",
            Department::Governance => "governance",
            Department::Other => "other",
        }
    }

    /// The name district staff use (民政, 卫健, …).
    pub fn label_zh(self) -> &'static str {
        match self {
            Department::CivilAffairs => "民政",
            Department::Health => "卫健",
            Department::Hr => "人社",
            Department::Governance => "综治",
            Department::Other => "其他",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectorKind {
    Sql,
    Excel,
    Csv,
    Http,
}

impl ConnectorKind {
    fn section(self) -> &'static str {
        match self {
            ConnectorKind::Sql => "sql",
            ConnectorKind::Excel => "excel",
            ConnectorKind::Csv => "csv",
            ConnectorKind::Http => "http",
        }
    }
}

/// A connector file as written. Exactly one of the kind sections is present:
/// the one named by `kind`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectorFile {
    pub description: Option<String>,
    pub department: Department,
    pub kind: ConnectorKind,
    /// Mapping file name (without `.toml`); defaults to the connector's name.
    pub mapping: Option<String>,
    /// Cron expression for pulls by the daemon.
    pub schedule: Option<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
    pub sql: Option<SqlSection>,
    pub excel: Option<ExcelSection>,
    pub csv: Option<CsvSection>,
    pub http: Option<HttpSection>,
}

fn yes() -> bool {
    true
}

/// One name or several, for keys that may be composite.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqlSection {
    /// `postgres://`, `mysql://` or `sqlite://`; put the password in `${VAR}`.
    pub url: String,
    pub table: Option<String>,
    pub query: Option<String>,
    pub key: OneOrMany,
    /// Column for incremental pulls (`>=` the last value seen).
    pub cursor: Option<String>,
    #[serde(default = "default_batch")]
    pub batch_size: usize,
}

fn default_batch() -> usize {
    5000
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExcelSection {
    /// A workbook, or a folder of workbooks (one per community) read as one source.
    pub path: String,
    pub sheet: Option<String>,
    pub sheet_index: Option<usize>,
    /// 1-based row of the (first) header row; detected when absent.
    pub header_row: Option<usize>,
    /// How many header rows to join (`基本信息/姓名`).
    #[serde(default = "one")]
    pub header_rows: usize,
    /// Rows whose any cell contains one of these are skipped (合计, 小计).
    #[serde(default)]
    pub skip_when_contains: Vec<String>,
}

fn one() -> usize {
    1
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TextEncoding {
    Auto,
    #[serde(rename = "utf-8", alias = "utf8")]
    Utf8,
    Gb18030,
    Gbk,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvSection {
    /// A file, or a folder of files read as one source.
    pub path: String,
    #[serde(default = "auto")]
    pub encoding: TextEncoding,
    #[serde(default = "comma")]
    pub delimiter: String,
    #[serde(default = "one")]
    pub header_row: usize,
}

fn auto() -> TextEncoding {
    TextEncoding::Auto
}

fn comma() -> String {
    ",".to_string()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaginationStyle {
    Page,
    Offset,
    Cursor,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaginationSection {
    pub style: PaginationStyle,
    pub page_param: Option<String>,
    pub size_param: Option<String>,
    pub offset_param: Option<String>,
    pub cursor_param: Option<String>,
    /// Path of the next-page token in the response (cursor style).
    pub next_cursor: Option<String>,
    #[serde(default = "default_page_size")]
    pub size: usize,
    #[serde(default = "one")]
    pub first_page: usize,
}

fn default_page_size() -> usize {
    500
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthKind {
    None,
    Bearer,
    Basic,
    HmacSha256,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSection {
    pub kind: AuthKind,
    pub token: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub app_key: Option<String>,
    pub secret: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSection {
    pub url: String,
    /// Dotted path of the record array in each response (`data.list`).
    pub records: String,
    /// Dotted path of the total count, when the API reports one.
    pub total: Option<String>,
    pub pagination: PaginationSection,
    pub auth: Option<AuthSection>,
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    #[serde(default = "default_retries")]
    pub max_retries: u32,
    pub rate_limit_per_sec: Option<f64>,
    /// Query parameter for incremental pulls.
    pub updated_since_param: Option<String>,
    /// Record field whose greatest value becomes the next `updated_since`.
    pub cursor_field: Option<String>,
}

fn default_timeout() -> u64 {
    30
}

fn default_retries() -> u32 {
    5
}

/// Credentials for an HTTP source, resolved from the environment.
#[derive(Debug, Clone)]
pub enum HttpAuth {
    None,
    Bearer { token: Secret },
    Basic { username: String, password: Secret },
    HmacSha256 { app_key: String, secret: Secret },
}

/// Where a source's records live, with every reference expanded.
// Built once per connector and never copied in a loop: the size difference
// between kinds costs nothing, boxing would cost readability.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Location {
    Sql {
        url: Secret,
        table: Option<String>,
        query: Option<String>,
        key: Vec<String>,
        cursor: Option<String>,
        batch_size: usize,
    },
    Excel {
        path: PathBuf,
        sheet: Option<String>,
        sheet_index: Option<usize>,
        header_row: Option<usize>,
        header_rows: usize,
        skip_when_contains: Vec<String>,
    },
    Csv {
        path: PathBuf,
        encoding: TextEncoding,
        delimiter: u8,
        header_row: usize,
    },
    Http {
        url: String,
        records: String,
        total: Option<String>,
        pagination_style: PaginationStyle,
        page_size: usize,
        auth: HttpAuth,
        timeout_secs: u64,
        max_retries: u32,
        rate_limit_per_sec: Option<f64>,
        updated_since_param: Option<String>,
        cursor_field: Option<String>,
        pagination: PaginationSpec,
    },
}

/// Pagination parameters of an HTTP source, checked for its style.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaginationSpec {
    pub page_param: Option<String>,
    pub size_param: Option<String>,
    pub offset_param: Option<String>,
    pub cursor_param: Option<String>,
    pub next_cursor: Option<String>,
    pub first_page: usize,
}

/// A validated connector.
#[derive(Debug, Clone)]
pub struct Connector {
    pub name: String,
    pub file: PathBuf,
    pub description: Option<String>,
    pub department: Department,
    pub kind: ConnectorKind,
    pub mapping: String,
    pub schedule: Option<Schedule>,
    pub enabled: bool,
    pub location: Location,
}

/// True for a plain SQL identifier, optionally schema-qualified. Names from
/// config are checked before they are quoted into SQL.
pub fn is_sql_identifier(name: &str) -> bool {
    let part = |p: &str| {
        !p.is_empty()
            && p.len() <= 63
            && !p.starts_with(|c: char| c.is_ascii_digit())
            && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    match name.split_once('.') {
        Some((schema, table)) => part(schema) && part(table),
        None => part(name),
    }
}

struct Checker<'a, E: Environment> {
    locator: &'a Locator,
    root: &'a Path,
    env: &'a E,
    errors: Vec<ConfigError>,
}

impl<E: Environment> Checker<'_, E> {
    fn expand(&mut self, key: &str, value: &str) -> String {
        expand::expand(value, self.env).unwrap_or_else(|e| {
            self.errors.push(self.locator.error(key, e.to_string()));
            String::new()
        })
    }

    fn secret(&mut self, key: &str, value: &Option<String>) -> Secret {
        match value {
            Some(v) => {
                if !expand::has_reference(v) {
                    self.errors.push(self.locator.error(
                        key,
                        "write secrets as a `${VAR}` reference (environment, VAR_FILE or systemd credential), not inline",
                    ));
                }
                Secret::new(self.expand(key, v))
            }
            None => {
                self.errors
                    .push(self.locator.error(key, "is required for this auth kind"));
                Secret::default()
            }
        }
    }

    fn required(&mut self, key: &str, value: &Option<String>) -> String {
        match value {
            Some(v) => self.expand(key, v),
            None => {
                self.errors
                    .push(self.locator.error(key, "is required for this auth kind"));
                String::new()
            }
        }
    }

    fn path(&mut self, key: &str, value: &str) -> PathBuf {
        let expanded = self.expand(key, value);
        super::settings::under_root(self.root, expanded)
    }

    fn identifier(&mut self, key: &str, name: &str) {
        if !is_sql_identifier(name) {
            self.errors.push(self.locator.error(
                key,
                format!("`{name}` is not a plain SQL identifier (letters, digits, _; optionally schema.name)"),
            ));
        }
    }
}

impl Connector {
    /// Validates a parsed connector file named `name`.
    pub fn resolve(
        name: &str,
        doc: Document<ConnectorFile>,
        root: &Path,
        env: &impl Environment,
    ) -> Result<Connector, Vec<ConfigError>> {
        let Document {
            value: file,
            locator,
        } = doc;
        let mut c = Checker {
            locator: &locator,
            root,
            env,
            errors: Vec::new(),
        };
        let present: Vec<&str> = [
            file.sql.as_ref().map(|_| "sql"),
            file.excel.as_ref().map(|_| "excel"),
            file.csv.as_ref().map(|_| "csv"),
            file.http.as_ref().map(|_| "http"),
        ]
        .into_iter()
        .flatten()
        .collect();
        let wanted = file.kind.section();
        for other in present.iter().filter(|s| **s != wanted) {
            c.errors.push(locator.error(
                other,
                format!("section [{other}] does not belong to a connector of kind \"{wanted}\""),
            ));
        }
        let schedule = file
            .schedule
            .as_deref()
            .and_then(|s| match s.parse::<Schedule>() {
                Ok(s) => Some(s),
                Err(message) => {
                    c.errors.push(locator.error("schedule", message));
                    None
                }
            });
        let location = match file.kind {
            ConnectorKind::Sql => file.sql.as_ref().map(|s| sql_location(&mut c, s)),
            ConnectorKind::Excel => file.excel.as_ref().map(|s| Location::Excel {
                path: c.path("excel.path", &s.path),
                sheet: s.sheet.clone(),
                sheet_index: s.sheet_index,
                header_row: s.header_row,
                header_rows: s.header_rows,
                skip_when_contains: s.skip_when_contains.clone(),
            }),
            ConnectorKind::Csv => file.csv.as_ref().map(|s| csv_location(&mut c, s)),
            ConnectorKind::Http => file.http.as_ref().map(|s| http_location(&mut c, s)),
        };
        if location.is_none() {
            c.errors.push(locator.error(
                "kind",
                format!("a connector of kind \"{wanted}\" needs a [{wanted}] section"),
            ));
        }
        let errors = c.errors;
        match location {
            Some(location) if errors.is_empty() => Ok(Connector {
                name: name.to_string(),
                file: locator.file().to_path_buf(),
                description: file.description,
                department: file.department,
                kind: file.kind,
                mapping: file.mapping.unwrap_or_else(|| name.to_string()),
                schedule,
                enabled: file.enabled,
                location,
            }),
            _ => Err(errors),
        }
    }
}

fn sql_location<E: Environment>(c: &mut Checker<'_, E>, s: &SqlSection) -> Location {
    let url = c.expand("sql.url", &s.url);
    let url = super::settings::absolute_sqlite_url(&url, c.root);
    let scheme_ok = [
        "postgres://",
        "postgresql://",
        "mysql://",
        "mariadb://",
        "sqlite:",
    ]
    .iter()
    .any(|p| url.starts_with(p));
    if !scheme_ok && !url.is_empty() {
        c.errors.push(c.locator.error(
            "sql.url",
            "must start with postgres://, mysql://, mariadb:// or sqlite:",
        ));
    }
    if let Some(table) = &s.table {
        c.identifier("sql.table", table);
    }
    if s.table.is_some() == s.query.is_some() {
        c.errors.push(
            c.locator
                .error("sql", "give exactly one of `table` or `query`"),
        );
    }
    let key = s.key.to_vec();
    for k in &key {
        c.identifier("sql.key", k);
    }
    if let Some(cursor) = &s.cursor {
        c.identifier("sql.cursor", cursor);
    }
    if s.batch_size == 0 {
        c.errors
            .push(c.locator.error("sql.batch_size", "must be at least 1"));
    }
    Location::Sql {
        url: Secret::new(url),
        table: s.table.clone(),
        query: s.query.clone(),
        key,
        cursor: s.cursor.clone(),
        batch_size: s.batch_size,
    }
}

fn csv_location<E: Environment>(c: &mut Checker<'_, E>, s: &CsvSection) -> Location {
    let delimiter = match s.delimiter.as_str() {
        "\\t" | "\t" | "tab" => b'\t',
        d if d.len() == 1 => d.as_bytes()[0],
        d => {
            c.errors.push(c.locator.error(
                "csv.delimiter",
                format!("`{d}` must be a single ASCII character (or \"tab\")"),
            ));
            b','
        }
    };
    if s.header_row == 0 {
        c.errors.push(
            c.locator
                .error("csv.header_row", "rows are numbered from 1"),
        );
    }
    Location::Csv {
        path: c.path("csv.path", &s.path),
        encoding: s.encoding,
        delimiter,
        header_row: s.header_row,
    }
}

fn http_location<E: Environment>(c: &mut Checker<'_, E>, s: &HttpSection) -> Location {
    let url = c.expand("http.url", &s.url);
    let is_http = url.starts_with("http://") || url.starts_with("https://");
    if !url.is_empty() && !is_http {
        c.errors.push(
            c.locator
                .error("http.url", "must start with http:// or https://"),
        );
    }
    let p = &s.pagination;
    let needed: &[(&str, &Option<String>)] = match p.style {
        PaginationStyle::Page => &[("page_param", &p.page_param), ("size_param", &p.size_param)],
        PaginationStyle::Offset => &[
            ("offset_param", &p.offset_param),
            ("size_param", &p.size_param),
        ],
        PaginationStyle::Cursor => &[
            ("cursor_param", &p.cursor_param),
            ("next_cursor", &p.next_cursor),
        ],
    };
    for (key, value) in needed {
        if value.is_none() {
            c.errors.push(c.locator.error(
                &format!("http.pagination.{key}"),
                "is required for this pagination style",
            ));
        }
    }
    if s.updated_since_param.is_some() != s.cursor_field.is_some() {
        c.errors.push(c.locator.error(
            "http.updated_since_param",
            "incremental pulls need both `updated_since_param` and `cursor_field`",
        ));
    }
    if p.size == 0 {
        c.errors.push(
            c.locator
                .error("http.pagination.size", "must be at least 1"),
        );
    }
    let auth = match &s.auth {
        None => HttpAuth::None,
        Some(a) => match a.kind {
            AuthKind::None => HttpAuth::None,
            AuthKind::Bearer => HttpAuth::Bearer {
                token: c.secret("http.auth.token", &a.token),
            },
            AuthKind::Basic => HttpAuth::Basic {
                username: c.required("http.auth.username", &a.username),
                password: c.secret("http.auth.password", &a.password),
            },
            AuthKind::HmacSha256 => HttpAuth::HmacSha256 {
                app_key: c.required("http.auth.app_key", &a.app_key),
                secret: c.secret("http.auth.secret", &a.secret),
            },
        },
    };
    Location::Http {
        url,
        records: s.records.clone(),
        total: s.total.clone(),
        pagination_style: p.style,
        page_size: p.size,
        auth,
        timeout_secs: s.timeout_secs,
        max_retries: s.max_retries,
        rate_limit_per_sec: s.rate_limit_per_sec,
        updated_since_param: s.updated_since_param.clone(),
        cursor_field: s.cursor_field.clone(),
        pagination: PaginationSpec {
            page_param: p.page_param.clone(),
            size_param: p.size_param.clone(),
            offset_param: p.offset_param.clone(),
            cursor_param: p.cursor_param.clone(),
            next_cursor: p.next_cursor.clone(),
            first_page: p.first_page,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn resolve(text: &str, env: &[(&str, &str)]) -> Result<Connector, Vec<ConfigError>> {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let doc = super::super::document::parse(Path::new("connectors/x.toml"), text)
            .map_err(|e| vec![e])?;
        Connector::resolve("x", doc, Path::new("/etc/yici"), &env)
    }

    #[test]
    fn sql_identifiers_are_checked() {
        assert!(is_sql_identifier("rkxx"));
        assert!(is_sql_identifier("public.rkxx"));
        assert!(!is_sql_identifier("rkxx; drop table x"));
        assert!(!is_sql_identifier("1abc"));
        let errs = resolve(
            "department = \"governance\"\nkind = \"sql\"\n[sql]\nurl = \"sqlite://g.db\"\ntable = \"rk xx\"\nkey = \"rkid\"\n",
            &[],
        )
        .unwrap_err();
        assert_eq!(errs[0].line, Some(5));
        assert_eq!(errs[0].key.as_deref(), Some("sql.table"));
    }

    #[test]
    fn inline_secrets_are_refused_and_unset_ones_named() {
        let text = "department = \"hr\"\nkind = \"http\"\n[http]\nurl = \"http://127.0.0.1:1/p\"\nrecords = \"data.list\"\n[http.pagination]\nstyle = \"page\"\npage_param = \"p\"\nsize_param = \"s\"\n[http.auth]\nkind = \"hmac_sha256\"\napp_key = \"k\"\nsecret = \"${HR_SECRET}\"\n";
        let errs = resolve(text, &[]).unwrap_err();
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].line, Some(13));
        assert!(
            errs[0].message.contains("HR_SECRET is not set"),
            "{}",
            errs[0].message
        );
        let ok = resolve(text, &[("HR_SECRET", "topsecret")]).unwrap();
        assert!(!format!("{ok:?}").contains("topsecret"));
        let inline = text.replace("${HR_SECRET}", "topsecret");
        let errs = resolve(&inline, &[]).unwrap_err();
        assert!(errs[0].message.contains("not inline"));
    }

    #[test]
    fn kind_needs_its_section_only() {
        let errs = resolve(
            "department = \"health\"\nkind = \"csv\"\n[excel]\npath = \"a.xlsx\"\n",
            &[],
        )
        .unwrap_err();
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert_eq!(errs[0].key.as_deref(), Some("excel"));
        assert_eq!(errs[1].key.as_deref(), Some("kind"));
    }

    #[test]
    fn paths_follow_the_root() {
        let c = resolve(
            "department = \"health\"\nkind = \"csv\"\n[csv]\npath = \"${D:-sample}/h.csv\"\nencoding = \"gb18030\"\n",
            &[],
        )
        .unwrap();
        match c.location {
            Location::Csv { path, encoding, .. } => {
                assert_eq!(path, Path::new("/etc/yici/sample/h.csv"));
                assert_eq!(encoding, TextEncoding::Gb18030);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
