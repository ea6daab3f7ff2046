//! The shipped systemd unit: valid for `systemd-analyze verify` (pointing
//! at the built binary) and hardened to an exposure of at most 2.0, where
//! systemd-analyze is installed.

use std::process::Command;

fn analyze(args: &[&str]) -> Option<std::process::Output> {
    Command::new("systemd-analyze").args(args).output().ok()
}

#[test]
fn the_unit_verifies_and_is_hardened() {
    let Some(version) = analyze(&["--version"]) else {
        eprintln!("SKIPPED: systemd-analyze is not installed");
        return;
    };
    assert!(version.status.success());
    let unit =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/systemd/yici.service"))
            .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("yici.service");
    std::fs::write(
        &path,
        unit.replace("/usr/local/bin/yici", env!("CARGO_BIN_EXE_yici")),
    )
    .unwrap();
    let path = path.to_str().unwrap();

    let verify = analyze(&["verify", path]).unwrap();
    let said = String::from_utf8_lossy(&verify.stderr).into_owned();
    // Only this unit is judged (the host's own units may have warnings).
    let ours: Vec<&str> = said
        .lines()
        .filter(|l| l.contains("yici.service"))
        .collect();
    assert!(verify.status.success() && ours.is_empty(), "{said}");

    let security = analyze(&["security", "--offline=true", path]).unwrap();
    let text = String::from_utf8_lossy(&security.stdout).into_owned();
    let exposure: f64 = text
        .lines()
        .find_map(|l| l.split("Overall exposure level for yici.service:").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in:\n{text}"));
    assert!(exposure <= 2.0, "exposure {exposure}:\n{text}");
}
