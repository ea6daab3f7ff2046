//! Privacy in logs: a whole run at the most verbose level — the sample
//! district written, pulled, resolved, golden records built, pushed back,
//! then a second cycle — logs no identity number and no mobile number in
//! the clear.

mod support;

use support::workspace::{stderr, Workspace};

/// Valid 18-character identity numbers (area, birth date and check digit)
/// and 11-digit mobiles in `text`; digits after a decimal point (timings
/// such as `0.004646018000000002`) are not numbers of anyone.
fn personal_numbers(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() || (i > 0 && chars[i - 1].is_ascii_digit()) {
            i += 1;
            continue;
        }
        let start = i;
        let fraction = i > 0 && chars[i - 1] == '.';
        while i < chars.len() && chars[i].is_ascii_digit() {
            i += 1;
        }
        if i < chars.len() && matches!(chars[i], 'X' | 'x') && i - start == 17 {
            i += 1;
        }
        if fraction {
            continue;
        }
        let run: String = chars[start..i].iter().collect();
        let is_id = run.len() == 18 && yici::model::id_number::ValidIdNumber::parse(&run).is_ok();
        let is_mobile = run.len() == 11
            && run.starts_with('1')
            && !run.starts_with("10")
            && !run.starts_with("11")
            && !run.starts_with("12");
        if is_id || is_mobile {
            found.push(run);
        }
    }
    found
}

#[test]
fn the_detector_finds_what_it_looks_for() {
    let id = format!(
        "11010519491231002{}",
        yici::model::id_number::check_digit("11010519491231002").unwrap()
    );
    let line = format!(
        "staged {id} with phone 13812345678; masked 110105********002X 138****5678 run 20260101 \
         in 0.004646018000000002 s, 0.13812345678 s"
    );
    assert_eq!(personal_numbers(&line), vec![id, "13812345678".to_owned()]);
}

#[test]
fn a_whole_run_logs_no_identity_number_or_phone() {
    let ws = Workspace::with_shipped_config();
    let mut logs = String::new();
    for args in [
        &["demo", "--persons", "400", "-vv"][..],
        &["sync", "-vv"],
        &["review", "list", "-vv"],
        &["conflicts", "-vv"],
    ] {
        let o = ws.yici(args);
        logs.push_str(&stderr(&o));
        logs.push_str(&support::workspace::stdout(&o));
    }
    assert!(logs.lines().count() > 100, "the run logged at trace level");
    let found = personal_numbers(&logs);
    assert!(
        found.is_empty(),
        "unmasked in the logs: {:?}",
        &found[..found.len().min(5)]
    );
}

#[test]
fn logs_are_json_lines_when_asked_or_under_the_journal() {
    let ws = Workspace::with_shipped_config();
    for args in [
        &["--log-format", "json", "-v", "reconcile"][..],
        &["-v", "reconcile"],
    ] {
        let mut command = ws.command(args);
        if args[0] != "--log-format" {
            // As systemd runs it: stderr to the journal.
            command.env("JOURNAL_STREAM", "8:12345");
        }
        let o = command.output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let text = stderr(&o);
        let lines: Vec<&str> = text.lines().collect();
        assert!(!lines.is_empty(), "{args:?} logged nothing");
        for line in lines {
            let v: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"));
            assert!(
                v["level"].is_string() && v["timestamp"].is_string(),
                "{line}"
            );
        }
    }
    // On a pipe without the journal: human lines.
    let o = ws.yici(&["-v", "reconcile"]);
    assert!(stderr(&o)
        .lines()
        .all(|l| serde_json::from_str::<serde_json::Value>(l).is_err()));
}
