//! The push target of a file source (an Excel ledger, a CSV export): yici
//! cannot write into another system's export, so it keeps a pre-filled
//! ledger per department — every value to fill in or check, with the
//! record it belongs to and where the value came from — that a worker
//! only has to check and enter.
//!
//! `<state_dir>/push/<source>.csv`, UTF-8 with a byte-order mark (so Excel
//! opens it as Chinese text). Each line names its outbox row and which of
//! that row's lines it is (`part` = `1/2`): a row already complete in the
//! file is not written again, and a row a crash left half-written (or a
//! torn last line) is dropped when the ledger is opened and written again.
//! Delivering twice, or again after a crash, changes nothing.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::plan::RecordPush;

/// The ledger's columns.
const HEADER: [&str; 11] = [
    "outbox_id",
    "part",
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
    /// already holds complete; incomplete ones are removed from the file.
    pub fn open(state_dir: &Path, source: &str) -> Result<Ledger, LedgerError> {
        let path = state_dir.join("push").join(format!("{source}.csv"));
        let err = |source| LedgerError {
            path: path.display().to_string(),
            source,
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Ledger {
                    path,
                    written: HashSet::new(),
                })
            }
            Err(e) => return Err(err(e)),
        };
        // Lines per outbox row, and how many it should have.
        let mut seen: HashMap<i64, (usize, usize)> = HashMap::new();
        let complete_text = match text.rfind('\n') {
            Some(end) => &text[..=end],
            None => "",
        };
        for line in complete_text.trim_start_matches('\u{feff}').lines().skip(1) {
            if let Some((id, total)) = parse_part(line) {
                let e = seen.entry(id).or_insert((0, total));
                e.0 += 1;
            }
        }
        let written: HashSet<i64> = seen
            .iter()
            .filter(|(_, (n, total))| n == total)
            .map(|(id, _)| *id)
            .collect();
        if complete_text.len() != text.len() || written.len() != seen.len() {
            // Keep the header and the complete rows only.
            let mut kept = String::new();
            for (i, line) in complete_text.lines().enumerate() {
                let keep = i == 0 || parse_part(line).is_some_and(|(id, _)| written.contains(&id));
                if keep {
                    kept.push_str(line);
                    kept.push('\n');
                }
            }
            std::fs::write(&path, kept).map_err(err)?;
        }
        Ok(Ledger { path, written })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one outbox row's writes (one line per field) unless the
    /// ledger holds it already; returns whether it wrote. Call
    /// [`Ledger::sync`] before recording rows as delivered.
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
        // The whole row in one buffer, written with one call.
        let mut block = csv::WriterBuilder::new().from_writer(Vec::new());
        let io = |e: csv::Error| err(std::io::Error::other(e));
        if fresh {
            block.write_record(HEADER).map_err(io)?;
        }
        let key: Vec<String> = push.key.iter().map(|(c, v)| format!("{c}={v}")).collect();
        let total = push.writes.len();
        for (i, w) in push.writes.iter().enumerate() {
            block
                .write_record([
                    outbox_id.to_string().as_str(),
                    &format!("{}/{total}", i + 1),
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
        let mut bytes = block.into_inner().map_err(|e| err(e.into_error()))?;
        if fresh {
            bytes.splice(0..0, "\u{feff}".bytes());
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(err)?;
        file.write_all(&bytes).map_err(err)?;
        self.written.insert(outbox_id);
        Ok(true)
    }

    /// Makes everything appended so far durable.
    pub fn sync(&self) -> Result<(), LedgerError> {
        let err = |source| LedgerError {
            path: self.path.display().to_string(),
            source,
        };
        match std::fs::File::open(&self.path) {
            Ok(f) => f.sync_all().map_err(err),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(err(e)),
        }
    }
}

/// (outbox id, lines of that row) of a ledger line.
fn parse_part(line: &str) -> Option<(i64, usize)> {
    let mut fields = line.splitn(3, ',');
    let id = fields.next()?.parse().ok()?;
    let (_, total) = fields.next()?.split_once('/')?;
    Some((id, total.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::push::Policy;
    use crate::push::FieldWrite;

    fn push(writes: usize) -> RecordPush {
        RecordPush {
            record: "health:H1".to_owned(),
            key: vec![("GRDAH".to_owned(), "H1".to_owned())],
            base_hash: "h".to_owned(),
            writes: (0..writes)
                .map(|i| FieldWrite {
                    field: if i == 0 { "phones" } else { "id_number" }.to_owned(),
                    column: if i == 0 { "LXDH" } else { "ZJHM" }.to_owned(),
                    policy: Policy::FillMissing,
                    old: None,
                    new: "13812345678".to_owned(),
                    from: Some("governance:9".to_owned()),
                })
                .collect(),
        }
    }

    #[test]
    fn rows_are_written_once_even_across_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let mut ledger = Ledger::open(dir.path(), "health").unwrap();
        assert!(ledger.append(7, "update", &push(1)).unwrap());
        assert!(!ledger.append(7, "update", &push(1)).unwrap());
        ledger.sync().unwrap();
        let mut again = Ledger::open(dir.path(), "health").unwrap();
        assert!(
            !again.append(7, "update", &push(1)).unwrap(),
            "a crash before recording delivery"
        );
        assert!(again.append(8, "update", &push(2)).unwrap());
        let text = std::fs::read_to_string(again.path()).unwrap();
        assert!(text.starts_with('\u{feff}'));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert_eq!(
            lines[1],
            "7,1/1,health:H1,GRDAH=H1,phones,LXDH,fill_missing,,13812345678,governance:9,update"
        );
    }

    #[test]
    fn a_row_torn_by_a_crash_is_written_again() {
        let dir = tempfile::tempdir().unwrap();
        let mut ledger = Ledger::open(dir.path(), "health").unwrap();
        ledger.append(1, "update", &push(1)).unwrap();
        ledger.append(2, "update", &push(2)).unwrap();
        // The crash: row 2 lost its second line and half of its first.
        let text = std::fs::read_to_string(ledger.path()).unwrap();
        let cut = text.find("\n2,1/2").unwrap() + 12;
        std::fs::write(ledger.path(), &text[..cut]).unwrap();
        let mut reopened = Ledger::open(dir.path(), "health").unwrap();
        assert!(!reopened.append(1, "update", &push(1)).unwrap());
        assert!(reopened.append(2, "update", &push(2)).unwrap());
        let text = std::fs::read_to_string(reopened.path()).unwrap();
        assert_eq!(
            text.lines().filter(|l| l.starts_with("2,")).count(),
            2,
            "{text}"
        );
        assert_eq!(text.lines().count(), 4, "{text}");
    }
}
