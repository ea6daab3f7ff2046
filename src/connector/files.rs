//! What file-based sources (Excel, CSV) share: a path that is one file or a
//! folder of them read as one source, and a fingerprint of their content so a
//! file is re-read only when it changed.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{Batch, ConnectorError, PullMode, PullRequest, RawRecord, RowProblem};

/// The files of a source: `path` itself, or the files directly inside the
/// folder `path` whose extension is one of `extensions` (case-insensitive),
/// sorted by name so every pull reads them in the same order. Hidden files and
/// office lock files (`~$…`) are left out.
pub fn list_files(path: &Path, extensions: &[&str]) -> Result<Vec<PathBuf>, ConnectorError> {
    let meta = std::fs::metadata(path)
        .map_err(|e| ConnectorError::Config(format!("{}: {e}", path.display())))?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let entries = std::fs::read_dir(path)
        .map_err(|e| ConnectorError::Config(format!("{}: {e}", path.display())))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
            !name.starts_with('.')
                && !name.starts_with("~$")
                && extensions.iter().any(|x| x.eq_ignore_ascii_case(ext))
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(ConnectorError::Config(format!(
            "{}: folder holds no {} files",
            path.display(),
            extensions.join("/")
        )));
    }
    Ok(files)
}

/// A hash over the names and contents of `files`: the cursor of a file source.
/// Any change to any file (or a file added or removed) changes it.
pub fn fingerprint(files: &[PathBuf]) -> Result<String, ConnectorError> {
    let mut hasher = FingerprintHasher::new();
    for file in files {
        hasher.begin_file(file);
        let mut reader = std::fs::File::open(file)
            .map_err(|e| ConnectorError::Config(format!("{}: {e}", file.display())))?;
        std::io::copy(&mut reader, &mut hasher)
            .map_err(|e| ConnectorError::Transient(format!("{}: {e}", file.display())))?;
        hasher.end_file();
    }
    Ok(hasher.finish())
}

/// Computes [`fingerprint`] from the bytes a reader actually consumed, so the
/// cursor committed after a pull describes exactly the content that was read
/// (a file rewritten between `open` and the read is simply read again next
/// time) and a file is read once, not twice.
#[derive(Clone, Default)]
pub(crate) struct FingerprintHasher {
    hasher: Sha256,
}

impl FingerprintHasher {
    pub(crate) fn new() -> Self {
        FingerprintHasher::default()
    }

    /// Starts the next file; files must come in [`list_files`] order.
    pub(crate) fn begin_file(&mut self, file: &Path) {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        self.hasher.update(name.as_bytes());
        self.hasher.update([0u8]);
    }

    pub(crate) fn update(&mut self, bytes: &[u8]) {
        self.hasher.update(bytes);
    }

    pub(crate) fn end_file(&mut self) {
        self.hasher.update([0u8]);
    }

    pub(crate) fn finish(self) -> String {
        format!("sha256:{:x}", self.hasher.finalize())
    }
}

impl Write for FingerprintHasher {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A reader that feeds every byte it hands out into a [`FingerprintHasher`].
pub(crate) struct HashingReader<R> {
    inner: R,
    hasher: FingerprintHasher,
}

impl<R: Read> HashingReader<R> {
    pub(crate) fn new(inner: R, hasher: FingerprintHasher) -> Self {
        HashingReader { inner, hasher }
    }

    /// Hashes whatever the consumer left unread and hands the hasher back.
    pub(crate) fn finish(mut self) -> std::io::Result<FingerprintHasher> {
        std::io::copy(&mut self.inner, &mut self.hasher)?;
        Ok(self.hasher)
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Rows per batch for file sources: large enough to amortize a store
/// transaction, small enough to keep memory flat on million-row files.
pub const BATCH_ROWS: usize = 5_000;

type Reply = tokio::sync::oneshot::Sender<Result<Option<Batch>, ConnectorError>>;

/// What file sources (CSV, Excel) share once opened: nothing to read when the
/// files are unchanged since the last pull, otherwise a reader thread.
pub(crate) struct FileReading {
    mode: PullMode,
    reader: Option<BatchReader>,
}

impl FileReading {
    /// Lists the files of `path`; when their fingerprint equals
    /// `request.cursor` (and the pull is not `full`) nothing is read at all.
    /// Otherwise `read` starts at once on a thread named after `what`, with
    /// the files in order; it returns the fingerprint of what it read.
    pub(crate) fn start<F>(
        what: &str,
        path: &Path,
        extensions: &[&str],
        request: &PullRequest,
        read: F,
    ) -> Result<Self, ConnectorError>
    where
        F: FnOnce(&[PathBuf], &mut BatchSink) -> Result<String, ConnectorError> + Send + 'static,
    {
        let files = list_files(path, extensions)?;
        if let (Some(cursor), false) = (&request.cursor, request.full) {
            if *cursor == fingerprint(&files)? {
                return Ok(FileReading {
                    mode: PullMode::Unchanged,
                    reader: None,
                });
            }
        }
        let reader = BatchReader::spawn(what, move |sink| read(&files, sink))?;
        Ok(FileReading {
            mode: PullMode::Snapshot,
            reader: Some(reader),
        })
    }

    pub(crate) fn mode(&self) -> PullMode {
        self.mode
    }

    /// The next batch; `None` at the end, or at once when unchanged.
    pub(crate) async fn next(&mut self) -> Result<Option<Batch>, ConnectorError> {
        match &mut self.reader {
            Some(reader) => reader.next().await,
            None => Ok(None),
        }
    }
}

/// The async end of a file reader running on its own thread.
///
/// Parsing is synchronous and CPU-bound, so it runs on a dedicated thread
/// instead of the async runtime. The thread builds a batch only when one has
/// been asked for, and the reader asks for the next batch as soon as it hands
/// one out: the thread parses batch N+1 while the caller stages batch N, and
/// at most one batch exists beyond the caller's. Dropping the reader stops the
/// thread at its next row.
pub(crate) struct BatchReader {
    requests: std::sync::mpsc::Sender<Reply>,
    pending: Option<tokio::sync::oneshot::Receiver<Result<Option<Batch>, ConnectorError>>>,
    done: bool,
    what: String,
}

impl BatchReader {
    /// Starts `work` on a thread named after the source. `work` pushes rows
    /// into the [`BatchSink`] and returns the fingerprint of what it read,
    /// which becomes the cursor of the last batch.
    pub(crate) fn spawn<F>(what: &str, work: F) -> Result<Self, ConnectorError>
    where
        F: FnOnce(&mut BatchSink) -> Result<String, ConnectorError> + Send + 'static,
    {
        let (requests, incoming) = std::sync::mpsc::channel::<Reply>();
        let thread_what = what.to_string();
        std::thread::Builder::new()
            .name(format!(
                "yici-read-{}",
                what.chars().take(20).collect::<String>()
            ))
            .spawn(move || run_reader(&thread_what, incoming, work))
            .map_err(|e| {
                ConnectorError::Transient(format!("{what}: cannot start a reader thread: {e}"))
            })?;
        let mut reader = BatchReader {
            requests,
            pending: None,
            done: false,
            what: what.to_string(),
        };
        // Start reading right away: the first batch is ready sooner.
        reader.pending = Some(reader.request()?);
        Ok(reader)
    }

    fn request(
        &self,
    ) -> Result<tokio::sync::oneshot::Receiver<Result<Option<Batch>, ConnectorError>>, ConnectorError>
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.requests.send(tx).map_err(|_| self.stopped())?;
        Ok(rx)
    }

    fn stopped(&self) -> ConnectorError {
        ConnectorError::Transient(format!(
            "{}: the reader thread stopped unexpectedly",
            self.what
        ))
    }

    /// The next batch, `None` at the end. After an error, always `None`.
    pub(crate) async fn next(&mut self) -> Result<Option<Batch>, ConnectorError> {
        if self.done {
            return Ok(None);
        }
        let rx = match self.pending.take() {
            Some(rx) => rx,
            None => self.request()?,
        };
        let result = rx.await.unwrap_or_else(|_| Err(self.stopped()));
        match &result {
            Ok(Some(_)) => self.pending = self.request().ok(),
            _ => self.done = true,
        }
        result
    }
}

/// The thread's end: collects rows into batches of [`BATCH_ROWS`] and hands
/// each over when asked. A full batch is held until the next row shows up, so
/// the last batch is known to be last and carries the cursor.
pub(crate) struct BatchSink {
    requests: std::sync::mpsc::Receiver<Reply>,
    reply: Option<Reply>,
    batch: Batch,
}

/// What [`BatchSink`] returns when the consumer went away: the work stops.
fn abandoned() -> ConnectorError {
    ConnectorError::Transient("the pull was abandoned".into())
}

impl BatchSink {
    fn len(&self) -> usize {
        self.batch.records.len() + self.batch.problems.len()
    }

    fn make_room(&mut self) -> Result<(), ConnectorError> {
        if self.len() >= BATCH_ROWS {
            let batch = std::mem::take(&mut self.batch);
            self.send(Ok(Some(batch)))?;
            // Build the next batch only once it is asked for.
            self.reply = Some(self.requests.recv().map_err(|_| abandoned())?);
        }
        Ok(())
    }

    fn send(
        &mut self,
        message: Result<Option<Batch>, ConnectorError>,
    ) -> Result<(), ConnectorError> {
        let reply = self.reply.take().ok_or_else(abandoned)?;
        reply.send(message).map_err(|_| abandoned())
    }

    /// Adds a record; blocks while a full batch waits to be asked for.
    pub(crate) fn record(&mut self, record: RawRecord) -> Result<(), ConnectorError> {
        self.make_room()?;
        if self.batch.records.capacity() == 0 {
            // One allocation per batch instead of a dozen reallocations.
            self.batch.records.reserve_exact(BATCH_ROWS);
        }
        self.batch.records.push(record);
        Ok(())
    }

    /// Adds a row that could not be read as a record (quarantined later).
    pub(crate) fn problem(&mut self, problem: RowProblem) -> Result<(), ConnectorError> {
        self.make_room()?;
        self.batch.problems.push(problem);
        Ok(())
    }
}

fn run_reader<F>(what: &str, incoming: std::sync::mpsc::Receiver<Reply>, work: F)
where
    F: FnOnce(&mut BatchSink) -> Result<String, ConnectorError>,
{
    let Ok(first) = incoming.recv() else {
        return;
    };
    let mut sink = BatchSink {
        requests: incoming,
        reply: Some(first),
        batch: Batch::default(),
    };
    // A panic inside a format library on a malformed file must not take the
    // caller down with a dropped channel and no message.
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(&mut sink)))
        .unwrap_or_else(|panic| {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(ConnectorError::Data(format!(
                "{what}: the file could not be read (reader failed: {message})"
            )))
        });
    match outcome {
        Ok(cursor) => {
            let mut last = std::mem::take(&mut sink.batch);
            last.cursor = Some(cursor);
            if sink.send(Ok(Some(last))).is_ok() {
                if let Ok(reply) = sink.requests.recv() {
                    let _ = reply.send(Ok(None));
                }
            }
        }
        Err(e) => {
            let _ = sink.send(Err(e));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_lists_matching_files_in_order() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b.csv", "a.CSV", "c.txt", ".hidden.csv", "~$lock.csv"] {
            std::fs::write(dir.path().join(name), "x").unwrap();
        }
        let files = list_files(dir.path(), &["csv"]).unwrap();
        let names: Vec<_> = files
            .iter()
            .map(|f| f.file_name().unwrap().to_str().unwrap())
            .collect();
        assert_eq!(names, ["a.CSV", "b.csv"]);
        assert!(list_files(&dir.path().join("missing"), &["csv"]).is_err());
        assert!(list_files(dir.path(), &["xlsx"]).is_err());
    }

    #[test]
    fn fingerprint_follows_content() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.csv");
        std::fs::write(&f, "one").unwrap();
        let first = fingerprint(std::slice::from_ref(&f)).unwrap();
        assert_eq!(first, fingerprint(std::slice::from_ref(&f)).unwrap());
        std::fs::write(&f, "two").unwrap();
        assert_ne!(first, fingerprint(&[f]).unwrap());
    }
}
