//! The push target of a file source (an Excel ledger, a CSV export): yici
//! cannot write into another system's export, so it keeps a pre-filled
//! ledger per department — every value to fill in or check, with the
//! record it belongs to and where the value came from — that a worker
//! only has to check and enter.
//!
//! `<state_dir>/push/<source>.csv`, UTF-8 with a byte-order mark (so Excel
//! opens it as Chinese text). Each line names its outbox row, and a row
//! already in the file is not written again: delivering twice, or again
//! after a crash between writing and recording, changes nothing.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::plan::RecordPush;

/// The ledger's columns.
const HEADER: [&str; 10] = [
    "outbox_id",
    "record",
    "key",
    "field",
    "column",
    "policy",
    "current_value",
    "new_value",
    "from",
    "operation",
];

/// A department's ledger file, open for appending.
pub struct Ledger {
    path: PathBuf,
    written: HashSet<i64>,
}

/// Why a ledger could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("ledger {path}: {source}")]
pub struct LedgerError {
    pub path: String,
    #[source]
    pub source: std::io::Error,
}

impl Ledger {
    /// The ledger of `source` under `state_dir`, with the outbox rows it
    /// already holds.
    pub fn open(state_dir: &Path, source: &str) -> Result<Ledger, LedgerError> {
        let path = state_dir.join("push").join(format!("{source}.csv"));
        let err = |source| LedgerError {
            path: path.display().to_string(),
            source,
        };
        let mut written = HashSet::new();
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                for line in text.trim_start_matches('\u{feff}').lines().skip(1) {
                    if let Some(Ok(id)) = line.split(',').next().map(str::parse::<i64>) {
                        written.insert(id);
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(err(e)),
        }
        Ok(Ledger { path, written })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one outbox row's writes (one line per field) unless the
    /// ledger holds it already; returns whether it wrote. The file is
    /// synced before returning, so a row recorded as delivered is on disk.
    pub fn append(
        &mut self,
        outbox_id: i64,
        operation: &str,
        push: &RecordPush,
    ) -> Result<bool, LedgerError> {
        if self.written.contains(&outbox_id) {
            return Ok(false);
        }
        let err = |source| LedgerError {
            path: self.path.display().to_string(),
            source,
        };
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let fresh = !self.path.exists();
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(err)?;
        let mut out = std::io::BufWriter::new(&file);
        if fresh {
            out.write_all("\u{feff}".as_bytes()).map_err(err)?;
        }
        let mut csv = csv::WriterBuilder::new().from_writer(&mut out);
        let io = |e: csv::Error| err(std::io::Error::other(e));
        if fresh {
            csv.write_record(HEADER).map_err(io)?;
        }
        let key: Vec<String> = push.key.iter().map(|(c, v)| format!("{c}={v}")).collect();
        for w in &push.writes {
            csv.write_record([
                outbox_id.to_string().as_str(),
                &push.record,
                &key.join(";"),
                &w.field,
                &w.column,
                w.policy.as_str(),
                w.old.as_deref().unwrap_or(""),
                &w.new,
                w.from.as_deref().unwrap_or(""),
                operation,
            ])
            .map_err(io)?;
        }
        csv.flush().map_err(|e| err(e))?;
        drop(csv);
        out.flush().map_err(err)?;
        drop(out);
        file.sync_all().map_err(err)?;
        self.written.insert(outbox_id);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::push::Policy;
    use crate::push::FieldWrite;

    #[test]
    fn rows_are_written_once_even_across_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let push = RecordPush {
            record: "health:H1".to_owned(),
            key: vec![("GRDAH".to_owned(), "H1".to_owned())],
            base_hash: "h".to_owned(),
            writes: vec![FieldWrite {
                field: "phones".to_owned(),
                column: "LXDH".to_owned(),
                policy: Policy::FillMissing,
                old: None,
                new: "13812345678".to_owned(),
                from: Some("governance:9".to_owned()),
            }],
        };
        let mut ledger = Ledger::open(dir.path(), "health").unwrap();
        assert!(ledger.append(7, "update", &push).unwrap());
        assert!(!ledger.append(7, "update", &push).unwrap());
        let mut again = Ledger::open(dir.path(), "health").unwrap();
        assert!(
            !again.append(7, "update", &push).unwrap(),
            "a crash before recording delivery"
        );
        assert!(again.append(8, "update", &push).unwrap());
        let text = std::fs::read_to_string(again.path()).unwrap();
        assert!(text.starts_with('\u{feff}'));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert_eq!(
            lines[1],
            "7,health:H1,GRDAH=H1,phones,LXDH,fill_missing,,13812345678,governance:9,update"
        );
    }
}
