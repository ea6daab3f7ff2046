//! Excel ledgers (台帐) as community workers keep them: `.xlsx`, `.xlsm`,
//! `.xls`, `.ods` (and `.xlsb`), one workbook or a folder of them (one per
//! community) read as one source.
//!
//! A ledger is a report, not a table: a merged title row, a header spread over
//! two merged rows (`基本信息` over 姓名/性别/…), blank rows and subtotal rows
//! (`小计：12人`) between community blocks. This module finds the header,
//! joins the header rows into one name per column (`基本信息/姓名`), skips
//! blank and subtotal rows (counted, see [`ExcelSource::skipped_rows`]) and
//! hands every other row on, numbered as Excel shows it.
//!
//! `.xlsx` sheets are streamed cell by cell; the other formats are loaded a
//! sheet at a time by calamine, which offers nothing else for them.

use std::collections::{HashMap, HashSet};
use std::io::{Cursor, Read, Seek};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use calamine::{
    Data, DataRef, Dimensions, ExcelDateTime, Ods, Range, Reader, Sheet, SheetType, SheetVisible,
    Xls, Xlsx, XlsxCellReader,
};
use serde_json::{Map, Value};

use super::files::{BatchSink, FileReading, FingerprintHasher};
use super::{
    Batch, BoxFuture, ConnectorError, Origin, PullMode, PullRequest, RawRecord, RowProblem, Source,
};
use crate::config::{Connector, Location};

/// File extensions read from a folder source.
pub const EXTENSIONS: [&str; 5] = ["xlsx", "xlsm", "xls", "ods", "xlsb"];

/// How many non-blank rows header detection looks at.
const DETECT_ROWS: usize = 20;

/// More header rows than this are not a header (a stray tall merge).
const MAX_HEADER_ROWS: usize = 5;

/// An Excel source: see the module docs.
pub struct ExcelSource {
    reading: FileReading,
    skipped: Arc<AtomicU64>,
}

/// How the sheets are read; cloned into the reader thread.
#[derive(Debug, Clone)]
struct ExcelOptions {
    sheet: Option<String>,
    sheet_index: Option<usize>,
    header_row: Option<usize>,
    header_rows: usize,
    skip_when_contains: Vec<String>,
}

impl ExcelSource {
    /// Lists the workbooks and compares their fingerprint with
    /// `request.cursor`: unchanged workbooks are not opened at all. Otherwise
    /// reading starts at once on a background thread; problems with the
    /// workbooks themselves (a missing sheet, no header) come from the first
    /// [`Source::next_batch`].
    pub fn open(connector: &Connector, request: PullRequest) -> Result<Self, ConnectorError> {
        let Location::Excel {
            path,
            sheet,
            sheet_index,
            header_row,
            header_rows,
            skip_when_contains,
        } = &connector.location
        else {
            return Err(ConnectorError::Config(format!(
                "connector {} is not an excel connector",
                connector.name
            )));
        };
        let skipped = Arc::new(AtomicU64::new(0));
        let options = ExcelOptions {
            sheet: sheet.clone(),
            sheet_index: *sheet_index,
            header_row: header_row.map(|r| r.max(1)),
            header_rows: (*header_rows).clamp(1, MAX_HEADER_ROWS),
            skip_when_contains: skip_when_contains
                .iter()
                .filter(|w| !w.is_empty())
                .cloned()
                .collect(),
        };
        let counter = Arc::clone(&skipped);
        let reading = FileReading::start(
            &connector.name,
            path,
            &EXTENSIONS,
            &request,
            move |files, sink| {
                let mut hasher = FingerprintHasher::new();
                for file in files {
                    read_workbook(file, &options, &mut hasher, sink, &counter)?;
                }
                Ok(hasher.finish())
            },
        )?;
        Ok(ExcelSource { reading, skipped })
    }

    /// Blank and subtotal rows skipped so far (they are not records). Grows
    /// as batches are read.
    pub fn skipped_rows(&self) -> u64 {
        self.skipped.load(Ordering::Relaxed)
    }
}

impl Source for ExcelSource {
    fn mode(&self) -> PullMode {
        self.reading.mode()
    }

    fn next_batch(&mut self) -> BoxFuture<'_, Result<Option<Batch>, ConnectorError>> {
        Box::pin(self.reading.next())
    }
}

// ---------------------------------------------------------------------------
// Workbooks and sheets
// ---------------------------------------------------------------------------

/// Reads one workbook into `sink`. The file is read into memory once: its
/// bytes feed the fingerprint and the workbook parser, so the cursor always
/// describes exactly what was read.
fn read_workbook(
    file: &Path,
    options: &ExcelOptions,
    hasher: &mut FingerprintHasher,
    sink: &mut BatchSink,
    skipped: &AtomicU64,
) -> Result<(), ConnectorError> {
    let bytes = std::fs::read(file).map_err(|e| {
        let message = format!("{}: {e}", file.display());
        match e.kind() {
            std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied => {
                ConnectorError::Config(message)
            }
            _ => ConnectorError::Transient(message),
        }
    })?;
    hasher.begin_file(file);
    hasher.update(&bytes);
    hasher.end_file();
    let ext = file
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let unreadable = |e: &dyn std::fmt::Display| {
        ConnectorError::Data(format!("{}: not a readable workbook: {e}", file.display()))
    };
    let data = Cursor::new(bytes.as_slice());
    let mut sheet_reader = SheetReader {
        file,
        place: String::new(),
        options,
        sink,
        skipped,
    };
    match ext.as_str() {
        "xlsx" | "xlsm" => {
            let mut book: Xlsx<_> = Xlsx::new(data).map_err(|e| unreadable(&e))?;
            let sheet = choose_sheet(file, book.sheets_metadata(), options)?;
            sheet_reader.place = place(file, &sheet);
            let merges = match scan_xlsx_merges(&bytes, &sheet) {
                Some(merges) => merges,
                None => book
                    .merge_cells_by_sheet_name(&sheet)
                    .map_err(|e| unreadable(&e))?,
            };
            let cells = book
                .worksheet_cells_reader(&sheet)
                .map_err(|e| unreadable(&e))?;
            let mut rows = XlsxRows {
                cells,
                pending: None,
                done: false,
            };
            sheet_reader.read(&mut rows, Some(&merges))
        }
        "xls" => {
            let mut book: Xls<_> = Xls::new(data).map_err(|e| unreadable(&e))?;
            let sheet = choose_sheet(file, book.sheets_metadata(), options)?;
            sheet_reader.place = place(file, &sheet);
            let merges = book.merge_cells_by_sheet_name(&sheet).ok();
            let range = book.worksheet_range(&sheet).map_err(|e| unreadable(&e))?;
            sheet_reader.read(&mut RangeRows::new(range), merges.as_deref())
        }
        "ods" => {
            let mut book: Ods<_> = Ods::new(data).map_err(|e| unreadable(&e))?;
            let sheet = choose_sheet(file, book.sheets_metadata(), options)?;
            sheet_reader.place = place(file, &sheet);
            let range = book.worksheet_range(&sheet).map_err(|e| unreadable(&e))?;
            sheet_reader.read(&mut RangeRows::new(range), None)
        }
        _ => {
            let mut book =
                calamine::open_workbook_auto_from_rs(data).map_err(|e| unreadable(&e))?;
            let sheet = choose_sheet(file, book.sheets_metadata(), options)?;
            sheet_reader.place = place(file, &sheet);
            let range = book.worksheet_range(&sheet).map_err(|e| unreadable(&e))?;
            sheet_reader.read(&mut RangeRows::new(range), None)
        }
    }
}

/// The merged ranges of an `.xlsx` sheet. They are stored after the cell
/// data, and calamine finds them by parsing the whole sheet's XML a second
/// time (a third of the reading time of a large ledger); a plain text search
/// of the decompressed XML finds them several times faster. `None` when the
/// workbook is laid out in some way this does not understand: the caller
/// then asks calamine.
fn scan_xlsx_merges(bytes: &[u8], sheet: &str) -> Option<Vec<Dimensions>> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).ok()?;
    let mut small = |name: &str| -> Option<String> {
        let mut text = String::new();
        zip.by_name(name).ok()?.read_to_string(&mut text).ok()?;
        Some(text)
    };
    let workbook = small("xl/workbook.xml")?;
    let rels = small("xl/_rels/workbook.xml.rels")?;
    let tags = regex_lite::Regex::new(r"<(?:\w+:)?(?:sheet|Relationship)\s[^>]*>").ok()?;
    let attr = |tag: &str, name: &str| -> Option<String> {
        let re =
            regex_lite::Regex::new(&format!(r#"\s{name}\s*=\s*(?:"([^"]*)"|'([^']*)')"#)).ok()?;
        let c = re.captures(tag)?;
        c.get(1)
            .or_else(|| c.get(2))
            .map(|v| unescape_xml(v.as_str()))
    };
    let id = tags
        .find_iter(&workbook)
        .map(|m| m.as_str())
        .find(|tag| attr(tag, "name").as_deref() == Some(sheet))
        .and_then(|tag| attr(tag, r"(?:\w+:)?id"))?;
    let target = tags
        .find_iter(&rels)
        .map(|m| m.as_str())
        .find(|tag| attr(tag, "Id").as_deref() == Some(id.as_str()))
        .and_then(|tag| attr(tag, "Target"))?;
    let path = match target.strip_prefix('/') {
        Some(absolute) => absolute.to_string(),
        None => format!("xl/{target}"),
    };
    let mut entry = zip.by_name(&path).ok()?;
    // Stream the XML; keep only what follows the start of `<mergeCells`.
    const MARK: &[u8] = b"mergeCells";
    let mut chunk = vec![0u8; 1 << 16];
    let mut window: Vec<u8> = Vec::with_capacity(chunk.len() + MARK.len());
    let mut found: Option<Vec<u8>> = None;
    loop {
        let n = entry.read(&mut chunk).ok()?;
        if n == 0 {
            break;
        }
        if let Some(section) = found.as_mut() {
            section.extend_from_slice(&chunk[..n]);
            continue;
        }
        window.extend_from_slice(&chunk[..n]);
        match window.windows(MARK.len()).position(|w| w == MARK) {
            Some(at) => found = Some(window[at..].to_vec()),
            None => {
                let keep = window.len().saturating_sub(MARK.len());
                window.drain(..keep);
            }
        }
    }
    let Some(section) = found else {
        return Some(Vec::new());
    };
    let section = String::from_utf8_lossy(&section);
    let refs = regex_lite::Regex::new(
        r#"<(?:\w+:)?mergeCell\s[^>]*ref\s*=\s*["']\$?([A-Za-z]+)\$?(\d+)(?::\$?([A-Za-z]+)\$?(\d+))?["']"#,
    )
    .ok()?;
    let mut merges = Vec::new();
    for c in refs.captures_iter(&section) {
        let start = (
            c[2].parse::<u32>().ok()?.checked_sub(1)?,
            column_index(&c[1])?,
        );
        let end = match (c.get(3), c.get(4)) {
            (Some(col), Some(row)) => (
                row.as_str().parse::<u32>().ok()?.checked_sub(1)?,
                column_index(col.as_str())?,
            ),
            _ => start,
        };
        merges.push(Dimensions::new(start, end));
    }
    Some(merges)
}

/// `A` → 0, `AA` → 26.
fn column_index(letters: &str) -> Option<u32> {
    letters
        .bytes()
        .try_fold(0u32, |acc, b| {
            let digit = u32::from(b.to_ascii_uppercase().checked_sub(b'A')?) + 1;
            (digit <= 26).then_some(acc.checked_mul(26)?.checked_add(digit)?)
        })?
        .checked_sub(1)
}

/// Undoes XML escaping in an attribute value (sheet names like `R&D`).
fn unescape_xml(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let Some(end) = rest.find(';') else { break };
        let entity = &rest[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn place(file: &Path, sheet: &str) -> String {
    format!("{}, sheet \"{sheet}\"", file.display())
}

/// The sheet named by `sheet`, else the `sheet_index`-th (0-based, in
/// workbook order), else the first visible worksheet.
fn choose_sheet(
    file: &Path,
    sheets: &[Sheet],
    options: &ExcelOptions,
) -> Result<String, ConnectorError> {
    let listing = || {
        sheets
            .iter()
            .map(|s| format!("\"{}\"", s.name))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let Some(name) = &options.sheet {
        return sheets
            .iter()
            .find(|s| s.name == *name)
            .or_else(|| sheets.iter().find(|s| s.name.trim() == name.trim()))
            .map(|s| s.name.clone())
            .ok_or_else(|| {
                ConnectorError::Config(format!(
                    "{}: no sheet named \"{name}\"; the workbook has {}",
                    file.display(),
                    listing()
                ))
            });
    }
    if let Some(index) = options.sheet_index {
        return sheets.get(index).map(|s| s.name.clone()).ok_or_else(|| {
            ConnectorError::Config(format!(
                "{}: sheet_index = {index} but the workbook has {} sheet(s) (counted from 0): {}",
                file.display(),
                sheets.len(),
                listing()
            ))
        });
    }
    sheets
        .iter()
        .find(|s| s.typ == SheetType::WorkSheet && s.visible == SheetVisible::Visible)
        .or_else(|| sheets.first())
        .map(|s| s.name.clone())
        .ok_or_else(|| {
            ConnectorError::Data(format!("{}: the workbook has no sheets", file.display()))
        })
}

/// One sheet row: its 0-based index in the sheet and its values from column
/// A on (trailing empty cells left out).
#[derive(Debug, Clone, PartialEq)]
struct Row {
    index: u32,
    cells: Vec<Value>,
}

impl Row {
    fn is_blank(&self) -> bool {
        self.cells.iter().all(is_empty)
    }

    fn filled(&self) -> usize {
        self.cells.iter().filter(|v| !is_empty(v)).count()
    }
}

/// Rows of a sheet, in order; rows the file does not store are not returned.
trait Rows {
    fn next_row(&mut self) -> Result<Option<Row>, String>;
}

fn put(cells: &mut Vec<Value>, col: u32, value: Value) {
    if value.is_null() {
        return;
    }
    let col = col as usize;
    if cells.len() <= col {
        cells.resize(col + 1, Value::Null);
    }
    cells[col] = value;
}

/// An `.xlsx` sheet streamed from its XML: one row in memory at a time.
struct XlsxRows<'a, RS: Read + Seek> {
    cells: XlsxCellReader<'a, RS>,
    pending: Option<calamine::Cell<DataRef<'a>>>,
    /// The reader reached the end of the sheet data; it must not be asked
    /// again.
    done: bool,
}

impl<'a, RS: Read + Seek> XlsxRows<'a, RS> {
    fn next_cell(&mut self) -> Result<Option<calamine::Cell<DataRef<'a>>>, String> {
        if self.done {
            return Ok(None);
        }
        let cell = self.cells.next_cell().map_err(|e| e.to_string())?;
        self.done = cell.is_none();
        Ok(cell)
    }
}

impl<RS: Read + Seek> Rows for XlsxRows<'_, RS> {
    fn next_row(&mut self) -> Result<Option<Row>, String> {
        let first = match self.pending.take() {
            Some(cell) => cell,
            None => match self.next_cell()? {
                Some(cell) => cell,
                None => return Ok(None),
            },
        };
        let (index, col) = first.get_position();
        let mut cells = Vec::new();
        put(&mut cells, col, from_data_ref(first.get_value()));
        while let Some(cell) = self.next_cell()? {
            let (row, col) = cell.get_position();
            if row != index {
                self.pending = Some(cell);
                break;
            }
            put(&mut cells, col, from_data_ref(cell.get_value()));
        }
        Ok(Some(Row { index, cells }))
    }
}

/// A sheet calamine loaded whole (`.xls`, `.ods`, `.xlsb`).
struct RangeRows {
    range: Range<Data>,
    next: usize,
}

impl RangeRows {
    fn new(range: Range<Data>) -> Self {
        RangeRows { range, next: 0 }
    }
}

impl Rows for RangeRows {
    fn next_row(&mut self) -> Result<Option<Row>, String> {
        let Some((top, left)) = self.range.start() else {
            return Ok(None);
        };
        loop {
            let Some(values) = self.range.rows().nth(self.next) else {
                return Ok(None);
            };
            let index = top + self.next as u32;
            self.next += 1;
            let mut cells = Vec::new();
            for (j, value) in values.iter().enumerate() {
                put(&mut cells, left + j as u32, from_data(value));
            }
            if !cells.is_empty() {
                return Ok(Some(Row { index, cells }));
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Cell values
// ---------------------------------------------------------------------------

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        _ => false,
    }
}

fn text(s: &str) -> Value {
    let s = s.trim_end_matches('\r');
    if s.is_empty() {
        Value::Null
    } else {
        Value::String(s.to_owned())
    }
}

/// Integral numbers become JSON integers: a phone typed into a number cell
/// must stay `13812345678`, not `1.3812345678e10`.
fn number(f: f64) -> Value {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
        Value::from(f as i64)
    } else {
        serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
    }
}

/// A date cell as `YYYY-MM-DD`, with ` HH:MM:SS` when it has a time, or
/// `HH:MM:SS` for a time of day alone.
fn date(dt: &ExcelDateTime) -> Value {
    let serial = dt.as_f64();
    if dt.is_duration() || !serial.is_finite() {
        return number(serial);
    }
    let (y, mo, d, h, mi, s, _) = dt.to_ymd_hms_milli();
    Value::String(if (0.0..1.0).contains(&serial) {
        format!("{h:02}:{mi:02}:{s:02}")
    } else if h == 0 && mi == 0 && s == 0 {
        format!("{y:04}-{mo:02}-{d:02}")
    } else {
        format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}")
    })
}

/// An ISO date (`.ods`): `2024-03-05T00:00:00` → `2024-03-05`,
/// `2024-03-05T08:30:00.000` → `2024-03-05 08:30:00`.
fn iso_date(s: &str) -> Value {
    let Some((day, time)) = s.split_once('T') else {
        return text(s);
    };
    let time = time.split('.').next().unwrap_or(time);
    if time.trim_matches(|c| c == '0' || c == ':').is_empty() {
        text(day)
    } else {
        Value::String(format!("{day} {time}"))
    }
}

fn from_data_ref(d: &DataRef<'_>) -> Value {
    match d {
        DataRef::Int(i) => Value::from(*i),
        DataRef::Float(f) => number(*f),
        DataRef::String(s) => text(s),
        DataRef::SharedString(s) => text(s),
        DataRef::Bool(b) => Value::Bool(*b),
        DataRef::DateTime(dt) => date(dt),
        DataRef::DateTimeIso(s) => iso_date(s),
        DataRef::DurationIso(s) => text(s),
        DataRef::Error(_) | DataRef::Empty => Value::Null,
    }
}

fn from_data(d: &Data) -> Value {
    match d {
        Data::Int(i) => Value::from(*i),
        Data::Float(f) => number(*f),
        Data::String(s) => text(s),
        Data::Bool(b) => Value::Bool(*b),
        Data::DateTime(dt) => date(dt),
        Data::DateTimeIso(s) => iso_date(s),
        Data::DurationIso(s) => text(s),
        Data::Error(_) | Data::Empty => Value::Null,
    }
}

/// Excel's column letters: 0 → A, 26 → AA.
fn column_letter(mut col: usize) -> String {
    let mut letters = Vec::new();
    loop {
        letters.push(b'A' + (col % 26) as u8);
        if col < 26 {
            break;
        }
        col = col / 26 - 1;
    }
    letters.reverse();
    String::from_utf8(letters).unwrap_or_default()
}

// ---------------------------------------------------------------------------
// Headers and data rows
// ---------------------------------------------------------------------------

struct SheetReader<'a> {
    file: &'a Path,
    /// `file, sheet "name"`, for messages.
    place: String,
    options: &'a ExcelOptions,
    sink: &'a mut BatchSink,
    skipped: &'a AtomicU64,
}

impl SheetReader<'_> {
    fn read(
        &mut self,
        rows: &mut dyn Rows,
        merges: Option<&[Dimensions]>,
    ) -> Result<(), ConnectorError> {
        let place = self.place.clone();
        let mut next = || {
            rows.next_row()
                .map_err(|e| ConnectorError::Data(format!("{place}: cannot read the sheet: {e}")))
        };
        // Rows up to and including the header block.
        let mut buffer: Vec<Row> = Vec::new();
        let header_start = match self.options.header_row {
            Some(row) => (row - 1) as u32,
            None => {
                let mut ended = false;
                let mut filled = 0;
                while filled < DETECT_ROWS {
                    match next()? {
                        Some(row) => {
                            filled += usize::from(!row.is_blank());
                            buffer.push(row);
                        }
                        None => {
                            ended = true;
                            break;
                        }
                    }
                }
                let candidates: Vec<&Row> = buffer.iter().filter(|r| !r.is_blank()).collect();
                let skip = &self.options.skip_when_contains;
                let Some(k) = detect_header(&candidates, merges, skip, ended) else {
                    return Err(ConnectorError::Config(format!(
                        "{}: found no header row in the first {DETECT_ROWS} rows (a row of distinct column names above the data); set header_row",
                        self.place
                    )));
                };
                candidates[k].index
            }
        };
        let count = header_count(header_start, self.options.header_rows, merges);
        let header_end = header_start + count as u32 - 1;
        while buffer.last().is_none_or(|r| r.index <= header_end) {
            match next()? {
                Some(row) => buffer.push(row),
                None => break,
            }
        }
        let mut header_rows = vec![Vec::new(); count];
        for row in buffer
            .iter()
            .filter(|r| (header_start..=header_end).contains(&r.index))
        {
            header_rows[(row.index - header_start) as usize] = row.cells.clone();
        }
        // A workbook without any merged cell says nothing about its groups:
        // read its header like one from a format without merge information.
        let header_merges = merges.filter(|m| !m.is_empty());
        let names = header_names(&self.place, &header_rows, header_start, header_merges)?;
        let mut data = DataRows::new(names, header_end, merges, &self.options.skip_when_contains);
        for row in buffer.into_iter().filter(|r| r.index > header_end) {
            self.take(&mut data, row)?;
        }
        while let Some(row) = next()? {
            self.take(&mut data, row)?;
        }
        tracing::debug!(
            file = %self.place,
            blank = data.blank,
            subtotal = data.subtotal,
            "skipped blank and subtotal rows"
        );
        Ok(())
    }

    fn take(&mut self, data: &mut DataRows, row: Row) -> Result<(), ConnectorError> {
        match data.take(row, self.file) {
            Taken::Record(r) => self.sink.record(r),
            Taken::Problem(p) => self.sink.problem(p),
            Taken::Skipped => {
                self.skipped.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
        }
    }
}

/// One name per column, the header rows joined with `/`. A merged cell
/// lends its text to every cell it covers in the header rows above the
/// last (a group over its columns) and to the rows below its first (a
/// column name standing over several header rows); a name repeated down
/// the rows is kept once (`序号`, not `序号/序号`). Without merge
/// information (`.ods`), an empty cell above a named one continues the
/// group to its left. Columns without any name are `None`.
fn header_names(
    place: &str,
    rows: &[Vec<Value>],
    start: u32,
    merges: Option<&[Dimensions]>,
) -> Result<Vec<Option<String>>, ConnectorError> {
    let count = rows.len();
    let width = rows.iter().map(Vec::len).max().unwrap_or(0);
    let cell = |r: usize, c: usize| {
        rows.get(r)
            .and_then(|row| row.get(c))
            .map_or_else(String::new, header_text)
    };
    let mut names = Vec::with_capacity(width);
    for c in 0..width {
        let mut parts: Vec<String> = Vec::new();
        for r in 0..count {
            let mut name = cell(r, c);
            if name.is_empty() {
                let at = start + r as u32;
                match merges {
                    Some(merges) => {
                        if let Some(m) = merges.iter().find(|m| m.contains(at, c as u32)) {
                            let from_above = at > m.start.0;
                            if m.start.0 >= start && (from_above || r + 1 < count) {
                                name = cell((m.start.0 - start) as usize, m.start.1 as usize);
                            }
                        }
                    }
                    None if r + 1 < count
                        && (r + 1..count).any(|below| !cell(below, c).is_empty()) =>
                    {
                        // The nearest name to the left heads a group when
                        // it has names under it too.
                        if let Some(left) = (0..c).rev().find(|&l| !cell(r, l).is_empty()) {
                            if (r + 1..count).any(|below| !cell(below, left).is_empty()) {
                                name = cell(r, left);
                            }
                        }
                    }
                    None => {}
                }
            }
            if !name.is_empty() && parts.last() != Some(&name) {
                parts.push(name);
            }
        }
        names.push((!parts.is_empty()).then(|| parts.join("/")));
    }
    while names.last().is_some_and(Option::is_none) {
        names.pop();
    }
    let rows_label = if count == 1 {
        format!("header row {}", start + 1)
    } else {
        format!("header rows {}–{}", start + 1, start as usize + count)
    };
    if names.is_empty() {
        return Err(ConnectorError::Config(format!(
            "{}: {rows_label} is empty; set header_row to the row that holds the column names",
            place
        )));
    }
    let mut seen: HashMap<&str, Vec<usize>> = HashMap::new();
    for (c, name) in names.iter().enumerate() {
        if let Some(name) = name {
            seen.entry(name.as_str()).or_default().push(c);
        }
    }
    let mut duplicates: Vec<_> = seen
        .into_iter()
        .filter(|(_, cols)| cols.len() > 1)
        .collect();
    if !duplicates.is_empty() {
        duplicates.sort_by_key(|(_, cols)| cols[0]);
        let list: Vec<String> = duplicates
            .iter()
            .map(|(name, cols)| {
                let cols: Vec<String> = cols.iter().map(|&c| column_letter(c)).collect();
                format!("columns {} are all named \"{name}\"", cols.join(", "))
            })
            .collect();
        return Err(ConnectorError::Config(format!(
            "{} ({rows_label}): {}; every column needs its own name (check header_row and header_rows)",
            place,
            list.join("; ")
        )));
    }
    Ok(names)
}

/// A header cell's text: trimmed, line breaks inside it removed (`联系\n电话`
/// is `联系电话`; between Latin words they become a space).
fn header_text(value: &Value) -> String {
    let raw = match value {
        Value::Null => return String::new(),
        Value::String(s) => s.as_str(),
        other => return other.to_string(),
    };
    let mut out = String::new();
    for part in raw
        .split(['\r', '\n'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let joins_words = out
            .chars()
            .last()
            .is_some_and(|c| c.is_ascii_alphanumeric())
            && part
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric());
        if joins_words {
            out.push(' ');
        }
        out.push_str(part);
    }
    out
}

/// How many rows the header spans: as configured, or more when a cell of the
/// first header row is merged down over more rows (`序号` over two rows says
/// the header has two).
fn header_count(start: u32, configured: usize, merges: Option<&[Dimensions]>) -> usize {
    let merged = merges
        .unwrap_or(&[])
        .iter()
        .filter(|m| m.start.0 == start)
        .map(|m| (m.end.0 - m.start.0) as usize + 1)
        .max()
        .unwrap_or(1);
    configured.max(merged).clamp(1, MAX_HEADER_ROWS)
}

/// Text that reads as a number or a date, which a column name never is.
fn looks_numeric(s: &str) -> bool {
    let s = s.trim();
    !s.is_empty()
        && s.chars().all(|c| {
            c.is_ascii_digit() || matches!(c, '-' | '/' | ':' | '.' | ' ' | '+' | 'e' | 'E')
        })
}

/// The first row among `rows` (non-blank, in order) that reads as a header:
/// at least two non-empty cells, covering at least a third of the sheet's
/// width (so a title is passed over), mostly short text, mostly distinct, not
/// `label：value` pairs (a `填报单位：…` line), no subtotal marker, and followed
/// by more rows unless the sheet ends there.
fn detect_header(
    rows: &[&Row],
    merges: Option<&[Dimensions]>,
    skip_words: &[String],
    ended: bool,
) -> Option<usize> {
    let coverage = |row: &&Row| {
        let spans: usize = merges
            .unwrap_or(&[])
            .iter()
            .filter(|m| m.start.0 == row.index)
            .filter(|m| {
                row.cells
                    .get(m.start.1 as usize)
                    .is_some_and(|v| !is_empty(v))
            })
            .map(|m| (m.end.1 - m.start.1) as usize)
            .sum();
        row.filled() + spans
    };
    let width = rows.iter().map(coverage).max().unwrap_or(0);
    rows.iter().enumerate().position(|(k, row)| {
        let values: Vec<&Value> = row.cells.iter().filter(|v| !is_empty(v)).collect();
        if values.len() < 2 || coverage(row) * 3 < width {
            return false;
        }
        let texts: Vec<&str> = values
            .iter()
            .filter_map(|v| v.as_str())
            .map(str::trim)
            .filter(|s| s.chars().count() <= 40 && !looks_numeric(s))
            .collect();
        if texts.len() * 5 < values.len() * 4 {
            return false;
        }
        let distinct: HashSet<&str> = texts.iter().copied().collect();
        if distinct.len() * 10 < texts.len() * 9 {
            return false;
        }
        if texts
            .iter()
            .any(|t| skip_words.iter().any(|w| t.contains(w.as_str())))
        {
            return false;
        }
        // `填报单位：西门街道  日期：2024-01-01` labels values; names do not.
        let labelled = texts.iter().filter(|t| t.contains(['：', ':'])).count();
        if labelled * 2 >= texts.len() {
            return false;
        }
        k + 1 < rows.len() || ended
    })
}

enum Taken {
    Record(RawRecord),
    Problem(RowProblem),
    Skipped,
}

/// Turns data rows into records.
struct DataRows<'a> {
    names: Vec<Option<String>>,
    named: usize,
    skip_words: &'a [String],
    /// Merged cells spanning several data rows, by first row: (column, last row).
    merges_from: HashMap<u32, Vec<(usize, u32)>>,
    /// Merged values in force: (column, last row, value).
    active: Vec<(usize, u32, Value)>,
    blank: u64,
    subtotal: u64,
}

impl<'a> DataRows<'a> {
    fn new(
        names: Vec<Option<String>>,
        header_end: u32,
        merges: Option<&[Dimensions]>,
        skip_words: &'a [String],
    ) -> Self {
        let mut merges_from: HashMap<u32, Vec<(usize, u32)>> = HashMap::new();
        for m in merges.unwrap_or(&[]) {
            if m.start.0 > header_end && m.end.0 > m.start.0 {
                merges_from
                    .entry(m.start.0)
                    .or_default()
                    .push((m.start.1 as usize, m.end.0));
            }
        }
        let named = names.iter().filter(|n| n.is_some()).count();
        DataRows {
            names,
            named,
            skip_words,
            merges_from,
            active: Vec::new(),
            blank: 0,
            subtotal: 0,
        }
    }

    fn take(&mut self, mut row: Row, file: &Path) -> Taken {
        if !self.active.is_empty() {
            self.active.retain(|(_, last, _)| *last >= row.index);
        }
        if let Some(starts) = self.merges_from.get(&row.index) {
            for &(col, last) in starts {
                if let Some(value) = row.cells.get(col).filter(|v| !v.is_null()) {
                    self.active.push((col, last, value.clone()));
                }
            }
        }
        if row.is_blank() {
            self.blank += 1;
            return Taken::Skipped;
        }
        let origin = Origin {
            file: Some(file.to_path_buf()),
            row: Some(u64::from(row.index) + 1),
            page: None,
        };
        let marker = self.skip_words.iter().find(|w| {
            row.cells
                .iter()
                .any(|v| v.as_str().is_some_and(|s| s.contains(w.as_str())))
        });
        if let Some(marker) = marker {
            let filled = row.filled();
            if filled * 2 <= self.named.max(1) {
                self.subtotal += 1;
                return Taken::Skipped;
            }
            // Too full for a subtotal line: a real row that mentions the word
            // (e.g. in a remark) must not vanish.
            let reason = format!(
                "row {}: contains \"{marker}\" (a subtotal marker, skip_when_contains) but {filled} of {} columns are filled, so it looks like data; kept for review instead of skipped",
                row.index + 1,
                self.named
            );
            let fields = self.fields(row.cells);
            return Taken::Problem(RowProblem {
                origin,
                fields,
                reason,
            });
        }
        for (col, _, value) in &self.active {
            if row.cells.len() <= *col {
                row.cells.resize(col + 1, Value::Null);
            }
            if row.cells[*col].is_null() {
                row.cells[*col] = value.clone();
            }
        }
        Taken::Record(RawRecord {
            fields: self.fields(row.cells),
            origin,
        })
    }

    /// Named columns always appear (`null` when empty); a value under no
    /// name is kept as `column F`, never dropped.
    fn fields(&self, cells: Vec<Value>) -> Map<String, Value> {
        let mut fields = Map::new();
        let mut cells = cells.into_iter();
        for (c, name) in self.names.iter().enumerate() {
            let value = cells.next().unwrap_or(Value::Null);
            match name {
                Some(name) => {
                    fields.insert(name.clone(), value);
                }
                None if !value.is_null() => {
                    fields.insert(format!("column {}", column_letter(c)), value);
                }
                None => {}
            }
        }
        for (c, value) in cells.enumerate() {
            if !value.is_null() {
                fields.insert(
                    format!("column {}", column_letter(self.names.len() + c)),
                    value,
                );
            }
        }
        fields
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(index: u32, cells: &[&str]) -> Row {
        Row {
            index,
            cells: cells.iter().map(|s| text(s)).collect(),
        }
    }

    #[test]
    fn numbers_and_dates_read_as_people_typed_them() {
        assert_eq!(number(13_812_345_678.0), Value::from(13_812_345_678_i64));
        assert_eq!(number(1.5), serde_json::json!(1.5));
        assert_eq!(number(f64::NAN), Value::Null);
        let day = ExcelDateTime::new(45_366.0, calamine::ExcelDateTimeType::DateTime, false);
        assert_eq!(date(&day), Value::from("2024-03-15"));
        let noon = ExcelDateTime::new(45_366.5, calamine::ExcelDateTimeType::DateTime, false);
        assert_eq!(date(&noon), Value::from("2024-03-15 12:00:00"));
        assert_eq!(iso_date("2024-03-15T00:00:00"), Value::from("2024-03-15"));
        assert_eq!(
            iso_date("2024-03-15T08:30:00.000"),
            Value::from("2024-03-15 08:30:00")
        );
        assert_eq!(text(""), Value::Null);
    }

    #[test]
    fn column_letters() {
        assert_eq!(column_letter(0), "A");
        assert_eq!(column_letter(25), "Z");
        assert_eq!(column_letter(26), "AA");
        assert_eq!(column_letter(27), "AB");
        assert_eq!(column_letter(701), "ZZ");
        assert_eq!(column_letter(702), "AAA");
        for col in [0, 25, 26, 701, 702, 16_383] {
            assert_eq!(column_index(&column_letter(col)), Some(col as u32));
        }
        assert_eq!(column_index("a"), Some(0));
        assert_eq!(column_index("1"), None);
        assert_eq!(
            unescape_xml("R&amp;D &#x4E00;&#19968; &bogus"),
            "R&D 一一 &bogus"
        );
    }

    #[test]
    fn merges_are_found_without_calamine_and_agree_with_it() {
        use rust_xlsxwriter::{Format, Workbook};
        let mut book = Workbook::new();
        book.add_worksheet().set_name("说明").unwrap();
        let sheet = book.add_worksheet();
        sheet.set_name("R&D's 台帐").unwrap();
        let f = Format::new();
        sheet.merge_range(0, 0, 0, 14, "标题", &f).unwrap();
        sheet.merge_range(1, 0, 2, 0, "序号", &f).unwrap();
        sheet.merge_range(1, 2, 1, 6, "基本信息", &f).unwrap();
        sheet.merge_range(40, 27, 45, 27, "AB", &f).unwrap();
        let bytes = book.save_to_buffer().unwrap();
        let mut found = scan_xlsx_merges(&bytes, "R&D's 台帐").expect("scanned");
        let mut calamine: Xlsx<_> = Xlsx::new(Cursor::new(bytes.as_slice())).unwrap();
        let mut expected = calamine.merge_cells_by_sheet_name("R&D's 台帐").unwrap();
        found.sort();
        expected.sort();
        assert_eq!(found, expected);
        assert_eq!(found.len(), 4);
        assert_eq!(scan_xlsx_merges(&bytes, "说明"), Some(Vec::new()));
        assert_eq!(scan_xlsx_merges(&bytes, "missing"), None);
    }

    fn cells(values: &[&str]) -> Vec<Value> {
        values.iter().map(|s| text(s)).collect()
    }

    #[test]
    fn two_row_headers_join_with_and_without_merge_information() {
        // Rows 2–3 of a ledger: 序号 and 社区 stand over both rows, groups
        // over their columns.
        let rows = [
            cells(&["序号", "基本信息", "", "联系信息", "", "社区"]),
            cells(&["", "姓名", "性别", "电话", "住址", ""]),
        ];
        let expected = [
            "序号",
            "基本信息/姓名",
            "基本信息/性别",
            "联系信息/电话",
            "联系信息/住址",
            "社区",
        ];
        let merges = [
            Dimensions::new((1, 0), (2, 0)),
            Dimensions::new((1, 1), (1, 2)),
            Dimensions::new((1, 3), (1, 4)),
            Dimensions::new((1, 5), (2, 5)),
        ];
        for merges in [Some(&merges[..]), None] {
            let names = header_names("x", &rows, 1, merges).unwrap();
            let names: Vec<_> = names.iter().map(|n| n.as_deref().unwrap()).collect();
            assert_eq!(names, expected, "merges: {}", merges.is_some());
        }
        // With merge information, a blank upper cell outside any merge is
        // just blank.
        let names = header_names("x", &rows, 1, Some(&merges[..1])).unwrap();
        assert_eq!(names[2].as_deref(), Some("性别"));
        // Single-row header: a horizontally merged name is not repeated.
        let one = [cells(&["姓名", "", "性别"])];
        let merged = [Dimensions::new((0, 0), (0, 1))];
        let names = header_names("x", &one, 0, Some(&merged)).unwrap();
        assert_eq!(
            names,
            [Some("姓名".to_string()), None, Some("性别".to_string())]
        );
        // Duplicates name their columns.
        let dup = [cells(&["姓名", "电话", "姓名"])];
        let err = header_names("a.xlsx, sheet \"S\"", &dup, 0, None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "a.xlsx, sheet \"S\" (header row 1): columns A, C are all named \"姓名\"; every column needs its own name (check header_row and header_rows)"
        );
    }

    #[test]
    fn header_text_joins_broken_lines() {
        assert_eq!(header_text(&Value::from(" 联系\n电话 ")), "联系电话");
        assert_eq!(header_text(&Value::from("Phone\r\nNumber")), "Phone Number");
        assert_eq!(header_text(&Value::from(2024)), "2024");
    }

    #[test]
    fn detection_passes_over_titles_and_subtitles() {
        let rows = [
            row(0, &["海曙区救助对象台帐"]),
            row(1, &["填报单位：西门街道", "", "", "", "日期：2024-01-01"]),
            row(2, &["序号", "姓名", "性别", "身份证号码", "联系电话"]),
            row(3, &["1", "张三", "男", "330203199001011234", "13812345678"]),
        ];
        let rows: Vec<&Row> = rows.iter().collect();
        assert_eq!(detect_header(&rows, None, &[], true), Some(2));
        assert_eq!(detect_header(&rows[..1], None, &[], true), None);
    }

    #[test]
    fn subtotals_are_skipped_but_data_mentioning_the_word_is_kept() {
        let names = ["序号", "姓名", "性别", "备注"]
            .iter()
            .map(|s| Some(s.to_string()))
            .collect();
        let words = vec!["合计".to_string()];
        let mut data = DataRows::new(names, 0, None, &words);
        let file = Path::new("a.xlsx");
        assert!(matches!(
            data.take(row(5, &["合计：3人"]), file),
            Taken::Skipped
        ));
        assert!(matches!(
            data.take(row(6, &["", " "]), file),
            Taken::Skipped
        ));
        assert!(matches!(
            data.take(row(7, &["4", "李四", "男", "合计两人同住"]), file),
            Taken::Problem(_)
        ));
        match data.take(row(8, &["5", "王五", "", "", "多出来"]), file) {
            Taken::Record(r) => {
                assert_eq!(r.fields["性别"], Value::Null);
                assert_eq!(r.fields["column E"], Value::from("多出来"));
                assert_eq!(r.origin.row, Some(9));
            }
            _ => panic!("expected a record"),
        }
        assert_eq!((data.blank, data.subtotal), (1, 1));
    }
}
