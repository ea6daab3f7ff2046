//! CSV and text exports (卫健's GB18030 archive export and the like): a file or
//! a folder of files read as one source, re-read only when their content
//! changed.
//!
//! Bytes are decoded as they stream (never the whole file into one string):
//! UTF-8 is validated in place, GB18030/GBK is decoded with `encoding_rs`. A
//! wrong declared encoding is an error that says which encoding the file looks
//! like, never silent mojibake.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use encoding_rs::{DecoderResult, GB18030};
use serde_json::{Map, Value};

use super::files::{BatchSink, FileReading, FingerprintHasher, HashingReader};
use super::{
    Batch, BoxFuture, ConnectorError, Origin, PullMode, PullRequest, RawRecord, RowProblem, Source,
};
use crate::config::connector::TextEncoding;
use crate::config::{Connector, Location};

/// File extensions read from a folder source.
pub const EXTENSIONS: [&str; 2] = ["csv", "txt"];

/// Bytes read from the file per step.
const CHUNK: usize = 1 << 16;

/// A CSV source: see the module docs.
pub struct CsvSource {
    reading: FileReading,
}

/// How one CSV file is read; cloned into the reader thread.
#[derive(Debug, Clone)]
struct CsvOptions {
    encoding: TextEncoding,
    delimiter: u8,
    header_row: usize,
}

impl CsvSource {
    /// Lists the files and compares their fingerprint with `request.cursor`:
    /// unchanged files are not read at all. Otherwise reading starts at once
    /// on a background thread.
    pub fn open(connector: &Connector, request: PullRequest) -> Result<Self, ConnectorError> {
        let Location::Csv {
            path,
            encoding,
            delimiter,
            header_row,
        } = &connector.location
        else {
            return Err(ConnectorError::Config(format!(
                "connector {} is not a csv connector",
                connector.name
            )));
        };
        let options = CsvOptions {
            encoding: *encoding,
            delimiter: *delimiter,
            header_row: (*header_row).max(1),
        };
        let reading = FileReading::start(
            &connector.name,
            path,
            &EXTENSIONS,
            &request,
            move |files, sink| {
                let mut hasher = FingerprintHasher::new();
                for file in files {
                    hasher = read_file(file, &options, hasher, sink)?;
                }
                Ok(hasher.finish())
            },
        )?;
        Ok(CsvSource { reading })
    }
}

impl Source for CsvSource {
    fn mode(&self) -> PullMode {
        self.reading.mode()
    }

    fn next_batch(&mut self) -> BoxFuture<'_, Result<Option<Batch>, ConnectorError>> {
        Box::pin(self.reading.next())
    }
}

fn open_error(file: &Path, e: io::Error) -> ConnectorError {
    let message = format!("{}: {e}", file.display());
    match e.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied => {
            ConnectorError::Config(message)
        }
        _ => ConnectorError::Transient(message),
    }
}

/// Reads one file into `sink`; returns the hasher with the file's bytes added.
fn read_file(
    file: &Path,
    options: &CsvOptions,
    mut hasher: FingerprintHasher,
    sink: &mut BatchSink,
) -> Result<FingerprintHasher, ConnectorError> {
    let handle = File::open(file).map_err(|e| open_error(file, e))?;
    hasher.begin_file(file);
    let stream = Utf8Stream::new(
        HashingReader::new(handle, hasher),
        options.encoding,
        file.to_path_buf(),
    );
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(options.delimiter)
        // Lines end at `\n` only: with the default (`\r`, `\n` or `\r\n`)
        // the parser reports CRLF records one line early. The `\r` left at
        // the end of the last cell is removed by `cell`.
        .terminator(::csv::Terminator::Any(b'\n'))
        .buffer_capacity(CHUNK)
        .from_reader(stream);
    let mut record = ::csv::ByteRecord::new();
    let mut headers: Option<Headers> = None;
    let mut row = 0usize;
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(csv_error(file, e)),
        }
        row += 1;
        let line = record.position().map_or(0, |p| p.line());
        match &headers {
            // Lines above the header (a title, an export date) are skipped.
            None if line < options.header_row as u64 => {}
            None => headers = Some(Headers::parse(file, line, &record)?),
            // A blank line, or one of delimiters only: not a row.
            Some(_) if record.iter().all(is_blank) => {}
            Some(h) => match h.row(file, line, &record, options.delimiter) {
                Ok(r) => sink.record(r)?,
                Err(p) => sink.problem(p)?,
            },
        }
    }
    if headers.is_none() {
        return Err(ConnectorError::Data(format!(
            "{}: the file has {row} row(s) and no header at or after line {} (header_row); an empty export is refused rather than read as \"everyone is gone\"",
            file.display(),
            options.header_row
        )));
    }
    let mut hasher = reader
        .into_inner()
        .into_inner()
        .finish()
        .map_err(|e| ConnectorError::Transient(format!("{}: {e}", file.display())))?;
    hasher.end_file();
    Ok(hasher)
}

fn csv_error(file: &Path, e: ::csv::Error) -> ConnectorError {
    let line = e.position().map(|p| p.line());
    match e.into_kind() {
        // Decoding problems come out of `Utf8Stream` as complete messages.
        ::csv::ErrorKind::Io(io) if io.kind() == io::ErrorKind::InvalidData => {
            ConnectorError::Data(io.to_string())
        }
        ::csv::ErrorKind::Io(io) => ConnectorError::Transient(format!("{}: {io}", file.display())),
        other => ConnectorError::Data(format!(
            "{}: line {}: cannot parse the CSV: {other:?}",
            file.display(),
            line.map_or_else(|| "?".to_string(), |l| l.to_string())
        )),
    }
}

/// The header of one file: names in column order.
struct Headers {
    names: Vec<String>,
    /// Column indexes in the order of their names.
    order: Vec<usize>,
}

impl Headers {
    /// Names are trimmed; empty names after the last named column are
    /// ignored (spreadsheet programs write trailing delimiters). Empty names
    /// between named columns and duplicate names are errors: the mapping could
    /// not tell the columns apart.
    fn parse(file: &Path, line: u64, record: &::csv::ByteRecord) -> Result<Self, ConnectorError> {
        let mut names: Vec<String> = record
            .iter()
            .map(|b| String::from_utf8_lossy(b).trim().to_string())
            .collect();
        while names.last().is_some_and(|n| n.is_empty()) {
            names.pop();
        }
        if names.is_empty() {
            return Err(ConnectorError::Config(format!(
                "{}: line {line}: the header row is empty; set header_row to the row that holds the column names",
                file.display()
            )));
        }
        let mut problems = Vec::new();
        let empty: Vec<String> = names
            .iter()
            .enumerate()
            .filter(|(_, n)| n.is_empty())
            .map(|(i, _)| (i + 1).to_string())
            .collect();
        if !empty.is_empty() {
            problems.push(format!("column(s) {} have no name", empty.join(", ")));
        }
        let mut seen: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, n) in names.iter().enumerate().filter(|(_, n)| !n.is_empty()) {
            seen.entry(n.as_str()).or_default().push(i + 1);
        }
        let mut duplicates: Vec<(&str, Vec<usize>)> =
            seen.into_iter().filter(|(_, v)| v.len() > 1).collect();
        duplicates.sort_by_key(|(_, v)| v[0]);
        for (name, columns) in duplicates {
            let columns: Vec<String> = columns.iter().map(usize::to_string).collect();
            problems.push(format!(
                "columns {} are all named \"{name}\"",
                columns.join(", ")
            ));
        }
        if !problems.is_empty() {
            return Err(ConnectorError::Config(format!(
                "{}: header row (line {line}): {}; every column needs its own name",
                file.display(),
                problems.join("; ")
            )));
        }
        let mut order: Vec<usize> = (0..names.len()).collect();
        order.sort_by(|&a, &b| names[a].cmp(&names[b]));
        Ok(Headers { names, order })
    }

    /// One data row as a record, or a problem when it cannot be trusted.
    fn row(
        &self,
        file: &Path,
        line: u64,
        record: &::csv::ByteRecord,
        delimiter: u8,
    ) -> Result<RawRecord, RowProblem> {
        // The stream hands the parser valid UTF-8 and the parser splits only
        // at ASCII bytes, so one check per row covers every cell.
        let text = std::str::from_utf8(record.as_slice()).ok();
        let value = |i: usize| {
            let Some(range) = record.range(i) else {
                return Value::Null;
            };
            match text.and_then(|t| t.get(range.clone())) {
                Some(s) => cell(s),
                None => cell(&String::from_utf8_lossy(&record.as_slice()[range])),
            }
        };
        // Names in key order: the map is built in one sorted pass.
        let mut fields: Map<String, Value> = self
            .order
            .iter()
            .map(|&i| (self.names[i].clone(), value(i)))
            .collect();
        let suspicious = if record.as_slice().contains(&b'\n') {
            (0..self.names.len().min(record.len()))
                .find(|&i| swallows_rows(&record[i], delimiter, self.names.len()))
        } else {
            None
        };
        let origin = Origin {
            file: Some(file.to_path_buf()),
            row: Some(line),
            page: None,
        };
        let extra: Vec<usize> = (self.names.len()..record.len())
            .filter(|&i| record.get(i).is_some_and(|b| !is_blank(b)))
            .collect();
        if !extra.is_empty() {
            for i in self.names.len()..record.len() {
                fields.insert(format!("column {}", i + 1), value(i));
            }
            let reason = format!(
                "line {line}: {} cells but the header has {} columns, and cell(s) {} beyond it are not empty; the row may be shifted (an unquoted delimiter inside a value?)",
                record.len(),
                self.names.len(),
                extra
                    .iter()
                    .map(|i| (i + 1).to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            return Err(RowProblem {
                origin,
                fields,
                reason,
            });
        }
        if let Some(i) = suspicious {
            let reason = format!(
                "line {line}: the quoted value of column \"{}\" runs over several lines and holds what look like whole rows; a closing quote (\") is probably missing, and the rows inside it are quarantined with it",
                self.names[i]
            );
            return Err(RowProblem {
                origin,
                fields,
                reason,
            });
        }
        Ok(RawRecord { fields, origin })
    }
}

fn is_blank(bytes: &[u8]) -> bool {
    bytes.iter().all(u8::is_ascii_whitespace)
}

/// A cell's value: `null` when empty, else the text (the `\r` of a CRLF line
/// end removed; everything else is kept for the normalizers).
fn cell(text: &str) -> Value {
    let text = text.trim_end_matches('\r');
    if text.is_empty() {
        Value::Null
    } else {
        Value::String(text.to_owned())
    }
}

/// True when a value holds a line break followed by a line with about as many
/// delimiters as a whole row: the sign of a quote that was never closed.
fn swallows_rows(bytes: &[u8], delimiter: u8, columns: usize) -> bool {
    if columns < 3 || !bytes.contains(&b'\n') {
        return false;
    }
    let threshold = ((columns - 1) * 2).div_ceil(3).max(2);
    bytes
        .split(|&b| b == b'\n')
        .skip(1)
        .any(|line| line.iter().filter(|&&b| b == delimiter).count() >= threshold)
}

// ---------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Auto: only ASCII seen so far, which reads the same in both encodings.
    Undecided,
    Utf8,
    Gb18030,
}

/// A reader that turns the file's bytes into UTF-8 as they stream, checking
/// them against the declared encoding. Errors come out as
/// `io::ErrorKind::InvalidData` carrying the complete operator message.
struct Utf8Stream<R> {
    inner: R,
    declared: TextEncoding,
    file: PathBuf,
    mode: Mode,
    /// GB18030 declared: the first non-ASCII bytes have not been checked for
    /// being UTF-8 yet.
    check_gb: bool,
    decoder: encoding_rs::Decoder,
    /// Bytes read but not yet converted (an incomplete UTF-8 sequence).
    raw: Vec<u8>,
    /// File offset of `raw[0]`.
    offset: u64,
    out: Vec<u8>,
    out_pos: usize,
    started: bool,
    eof: bool,
}

impl<R: Read> Utf8Stream<R> {
    fn new(inner: R, declared: TextEncoding, file: PathBuf) -> Self {
        let mode = match declared {
            TextEncoding::Auto => Mode::Undecided,
            TextEncoding::Utf8 => Mode::Utf8,
            TextEncoding::Gb18030 | TextEncoding::Gbk => Mode::Gb18030,
        };
        Utf8Stream {
            inner,
            declared,
            file,
            mode,
            check_gb: mode == Mode::Gb18030,
            decoder: GB18030.new_decoder_without_bom_handling(),
            raw: Vec::with_capacity(CHUNK + 4),
            offset: 0,
            out: Vec::with_capacity(CHUNK * 2),
            out_pos: 0,
            started: false,
            eof: false,
        }
    }

    fn into_inner(self) -> R {
        self.inner
    }

    fn declared_name(&self) -> &'static str {
        match self.declared {
            TextEncoding::Gbk => "GBK",
            _ => "GB18030",
        }
    }

    /// Reads more bytes into `raw`; sets `eof` at the end.
    fn fill(&mut self) -> io::Result<()> {
        let start = self.raw.len();
        self.raw.resize(start + CHUNK, 0);
        let n = loop {
            match self.inner.read(&mut self.raw[start..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.raw.truncate(start);
                    return Err(e);
                }
            }
        };
        self.raw.truncate(start + n);
        self.eof = n == 0;
        Ok(())
    }

    /// Converts what `raw` holds into `out`.
    fn convert(&mut self) -> io::Result<()> {
        self.out.clear();
        self.out_pos = 0;
        if !self.started {
            while self.raw.len() < 3 && !self.eof {
                self.fill()?;
            }
            self.started = true;
            if self.raw.starts_with(b"\xEF\xBB\xBF") {
                if self.mode == Mode::Gb18030 {
                    return Err(self.invalid(format!(
                        "{}: starts with a UTF-8 byte-order mark, so it is UTF-8, not {}: set encoding = \"utf-8\"",
                        self.file.display(),
                        self.declared_name()
                    )));
                }
                self.raw.drain(..3);
                self.offset += 3;
                self.mode = Mode::Utf8;
            }
        }
        if self.mode == Mode::Undecided || self.check_gb {
            self.decide()?;
        }
        match self.mode {
            Mode::Undecided => {
                // All ASCII so far: identical in both encodings.
                self.out.extend_from_slice(&self.raw);
                self.offset += self.raw.len() as u64;
                self.raw.clear();
            }
            Mode::Utf8 => self.convert_utf8()?,
            Mode::Gb18030 => self.convert_gb()?,
        }
        Ok(())
    }

    /// At the first non-ASCII bytes: settles Auto, and checks that a file
    /// declared GB18030 is not in fact UTF-8.
    fn decide(&mut self) -> io::Result<()> {
        let Some(first) = self.raw.iter().position(|b| !b.is_ascii()) else {
            return Ok(());
        };
        let is_utf8 = loop {
            match std::str::from_utf8(&self.raw[first..]) {
                Ok(_) => break true,
                // Cut off at the end of what was read: read on to decide.
                Err(e) if e.error_len().is_none() && !self.eof => {
                    if e.valid_up_to() > 0 {
                        break true;
                    }
                    self.fill()?;
                }
                Err(_) => break false,
            }
        };
        if self.check_gb {
            self.check_gb = false;
            if is_utf8 {
                let at = self.offset + first as u64;
                let (line, byte) = locate(&self.file, at);
                return Err(self.invalid(format!(
                    "{}: not {} text at line {line} (byte {byte}): the file is UTF-8; set encoding = \"utf-8\"",
                    self.file.display(),
                    self.declared_name()
                )));
            }
        } else {
            self.mode = if is_utf8 { Mode::Utf8 } else { Mode::Gb18030 };
        }
        Ok(())
    }

    fn convert_utf8(&mut self) -> io::Result<()> {
        match std::str::from_utf8(&self.raw) {
            Ok(_) => {
                std::mem::swap(&mut self.out, &mut self.raw);
                self.offset += self.out.len() as u64;
                self.raw.clear();
            }
            Err(e) if e.error_len().is_none() && !self.eof => {
                // An incomplete sequence at the end: keep it for the next read.
                let valid = e.valid_up_to();
                self.out.extend_from_slice(&self.raw[..valid]);
                self.raw.drain(..valid);
                self.offset += valid as u64;
            }
            Err(e) => {
                let at = self.offset + e.valid_up_to() as u64;
                let (line, byte) = locate(&self.file, at);
                let hint = if self.declared == TextEncoding::Auto {
                    "the text before it was UTF-8, so the file mixes encodings; fix the file or set encoding = \"gb18030\" if most of it is GB18030".to_string()
                } else if looks_like_gb18030(&self.raw) {
                    "the file looks like GB18030: set encoding = \"gb18030\"".to_string()
                } else {
                    "check the file's encoding".to_string()
                };
                return Err(self.invalid(format!(
                    "{}: not valid UTF-8 at line {line} (byte {byte}); {hint}",
                    self.file.display()
                )));
            }
        }
        Ok(())
    }

    fn convert_gb(&mut self) -> io::Result<()> {
        let mut consumed = 0;
        loop {
            let src = &self.raw[consumed..];
            let need = self
                .decoder
                .max_utf8_buffer_length_without_replacement(src.len())
                .unwrap_or(src.len() * 3 + 16);
            let start = self.out.len();
            self.out.resize(start + need, 0);
            let (result, read, written) = self.decoder.decode_to_utf8_without_replacement(
                src,
                &mut self.out[start..],
                self.eof,
            );
            self.out.truncate(start + written);
            consumed += read;
            match result {
                DecoderResult::InputEmpty => break,
                DecoderResult::OutputFull => continue,
                DecoderResult::Malformed(bad, extra) => {
                    let at = (self.offset + consumed as u64)
                        .saturating_sub(u64::from(bad) + u64::from(extra));
                    let (line, byte) = locate(&self.file, at);
                    let name = if self.declared == TextEncoding::Auto {
                        "GB18030 (detected)"
                    } else {
                        self.declared_name()
                    };
                    let hint = if std::str::from_utf8(&self.raw).is_ok() {
                        "the file looks like UTF-8: set encoding = \"utf-8\""
                    } else {
                        "check the file's encoding"
                    };
                    return Err(self.invalid(format!(
                        "{}: not valid {name} at line {line} (byte {byte}); {hint}",
                        self.file.display()
                    )));
                }
            }
        }
        self.offset += self.raw.len() as u64;
        self.raw.clear();
        Ok(())
    }

    fn invalid(&self, message: String) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, message)
    }
}

impl<R: Read> Read for Utf8Stream<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.out_pos < self.out.len() {
                let n = buf.len().min(self.out.len() - self.out_pos);
                buf[..n].copy_from_slice(&self.out[self.out_pos..self.out_pos + n]);
                self.out_pos += n;
                return Ok(n);
            }
            if self.eof && self.raw.is_empty() {
                return Ok(0);
            }
            if !self.eof {
                self.fill()?;
            }
            self.convert()?;
            if self.eof && self.out.is_empty() && !self.raw.is_empty() {
                // Cannot happen (the converters consume everything at the
                // end), but never spin.
                self.raw.clear();
            }
        }
    }
}

/// True when `bytes` decode as GB18030 without errors (an incomplete
/// character at the end is allowed).
fn looks_like_gb18030(bytes: &[u8]) -> bool {
    let mut decoder = GB18030.new_decoder_without_bom_handling();
    let mut out = vec![0u8; bytes.len() * 3 + 16];
    let (result, _, _) = decoder.decode_to_utf8_without_replacement(bytes, &mut out, false);
    matches!(result, DecoderResult::InputEmpty)
}

/// The 1-based line and the 1-based byte within that line of file offset
/// `at`, found by reading the file again (only on the error path).
fn locate(file: &Path, at: u64) -> (u64, u64) {
    let Ok(handle) = File::open(file) else {
        return (0, at + 1);
    };
    let mut line = 1u64;
    let mut line_start = 0u64;
    let mut pos = 0u64;
    let mut buf = vec![0u8; CHUNK];
    let mut handle = io::BufReader::new(handle);
    while pos < at {
        let n = match handle.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let take = n.min((at - pos) as usize);
        for (i, b) in buf[..take].iter().enumerate() {
            if *b == b'\n' {
                line += 1;
                line_start = pos + i as u64 + 1;
            }
        }
        pos += take as u64;
    }
    (line, at - line_start + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8], declared: TextEncoding) -> Result<String, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.csv");
        std::fs::write(&path, bytes).unwrap();
        let mut stream = Utf8Stream::new(File::open(&path).unwrap(), declared, path);
        let mut out = String::new();
        stream
            .read_to_string(&mut out)
            .map(|_| out)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn auto_detects_each_encoding() {
        let text = "XM,DZ\r\n张三,浙江省宁波市\r\n";
        let (gb, _, _) = GB18030.encode(text);
        assert_eq!(decode(&gb, TextEncoding::Auto).unwrap(), text);
        assert_eq!(decode(text.as_bytes(), TextEncoding::Auto).unwrap(), text);
        let bom = [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat();
        assert_eq!(decode(&bom, TextEncoding::Auto).unwrap(), text);
        assert_eq!(decode(&bom, TextEncoding::Utf8).unwrap(), text);
        assert_eq!(decode(&gb, TextEncoding::Gbk).unwrap(), text);
        assert_eq!(decode(b"", TextEncoding::Auto).unwrap(), "");
        assert_eq!(decode(b"a", TextEncoding::Gb18030).unwrap(), "a");
    }

    #[test]
    fn long_files_decode_across_chunks() {
        let line = "33020300300000002,欧阳翠花,浙江省宁波市海曙区西门街道宝兴社区望春路64号\n";
        let text = line.repeat(5_000);
        let (gb, _, _) = GB18030.encode(&text);
        assert_eq!(decode(&gb, TextEncoding::Auto).unwrap(), text);
        assert_eq!(decode(text.as_bytes(), TextEncoding::Utf8).unwrap(), text);
    }

    #[test]
    fn wrong_encodings_are_named() {
        let text = "XM,DZ\n张三,宁波\n";
        let (gb, _, _) = GB18030.encode(text);
        let err = decode(&gb, TextEncoding::Utf8).unwrap_err();
        assert!(
            err.ends_with("a.csv: not valid UTF-8 at line 2 (byte 1); the file looks like GB18030: set encoding = \"gb18030\""),
            "{err}"
        );
        let err = decode(text.as_bytes(), TextEncoding::Gb18030).unwrap_err();
        assert!(
            err.ends_with("a.csv: not GB18030 text at line 2 (byte 1): the file is UTF-8; set encoding = \"utf-8\""),
            "{err}"
        );
        let bom = [b"\xEF\xBB\xBF".as_slice(), b"a,b\n"].concat();
        let err = decode(&bom, TextEncoding::Gbk).unwrap_err();
        assert!(err.contains("byte-order mark"), "{err}");
        assert!(err.contains("not GBK"), "{err}");
    }

    #[test]
    fn locate_counts_lines_and_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.csv");
        std::fs::write(&path, "ab\ncdef\ng").unwrap();
        assert_eq!(locate(&path, 0), (1, 1));
        assert_eq!(locate(&path, 5), (2, 3));
        assert_eq!(locate(&path, 8), (3, 1));
    }

    #[test]
    fn swallowed_rows_are_recognized() {
        assert!(swallows_rows(b"x\na,b,c,d\ne,f,g,h", b',', 5));
        assert!(!swallows_rows(b"Room 5,\nBlock 2", b',', 5));
        assert!(!swallows_rows(b"no newline,,,,", b',', 5));
    }
}
