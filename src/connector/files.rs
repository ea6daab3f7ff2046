//! What file-based sources (Excel, CSV) share: a path that is one file or a
//! folder of them read as one source, and a fingerprint of their content so a
//! file is re-read only when it changed.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::ConnectorError;

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
    let mut hasher = Sha256::new();
    for file in files {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        hasher.update(name.as_bytes());
        hasher.update([0u8]);
        let mut reader = std::fs::File::open(file)
            .map_err(|e| ConnectorError::Config(format!("{}: {e}", file.display())))?;
        std::io::copy(&mut reader, &mut hasher)
            .map_err(|e| ConnectorError::Transient(format!("{}: {e}", file.display())))?;
        hasher.update([0u8]);
    }
    Ok(format!("sha256:{:x}", hasher.finalize()))
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
