//! A fresh configuration root per test, holding a copy of the shipped
//! example configuration, and the `yici` binary run inside it the way an
//! operator runs it.
#![allow(dead_code)] // each test binary uses a different part

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    /// A copy of the repository's `config/`, `connectors/` and `mappings/`.
    pub fn with_shipped_config() -> Workspace {
        let dir = tempfile::tempdir().expect("temp dir");
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        for folder in ["config", "connectors", "mappings"] {
            let to = dir.path().join(folder);
            std::fs::create_dir_all(&to).unwrap();
            for entry in std::fs::read_dir(repo.join(folder)).unwrap() {
                let entry = entry.unwrap();
                std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
            }
        }
        Workspace { dir }
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    /// Writes `text` to `relative`, creating folders.
    pub fn write(&self, relative: &str, text: &str) {
        let path = self.path(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    pub fn remove(&self, relative: &str) {
        std::fs::remove_file(self.path(relative)).unwrap();
    }

    /// Replaces `from` by `to` in one file, failing loudly if `from` is absent
    /// (so a test cannot silently stop testing anything).
    pub fn edit(&self, relative: &str, from: &str, to: &str) {
        let path = self.path(relative);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{relative} does not contain {from:?}");
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    }

    /// Points the configuration's store at `url` (e.g. a throwaway
    /// PostgreSQL database) instead of the embedded SQLite file.
    pub fn use_store(&self, url: &str) {
        self.edit(
            "config/yici.toml",
            "url = \"${YICI_STORE_URL:-sqlite://var/yici.db}\"",
            &format!("url = \"{url}\""),
        );
    }

    /// `yici ARGS` in this workspace with a clean environment.
    pub fn command(&self, args: &[&str]) -> Command {
        yici_command(self.dir.path(), args)
    }

    pub fn yici(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run yici")
    }

    /// `yici ARGS --json`, asserting exit code `code`, parsed.
    pub fn json(&self, args: &[&str], code: i32) -> serde_json::Value {
        let mut all = args.to_vec();
        all.push("--json");
        let o = self.yici(&all);
        assert_eq!(
            o.status.code(),
            Some(code),
            "yici {args:?}: {}{}",
            stdout(&o),
            stderr(&o)
        );
        serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("yici {args:?}: {e}: {}", stdout(&o)))
    }
}

/// The `yici` binary in `dir`, without any inherited yici settings.
pub fn yici_command(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_yici"));
    command
        .current_dir(dir)
        .args(args)
        .env_remove("YICI_CONFIG_DIR")
        .env_remove("YICI_STORE_URL")
        .env_remove("YICI_SAMPLE_DIR")
        .env_remove("YICI_STATE_DIR")
        .env_remove("YICI_HR_APP_SECRET")
        .env_remove("YICI_LOG");
    command
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
