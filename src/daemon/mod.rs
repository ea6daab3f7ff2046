//! The daemon's clock: which jobs there are (the whole cycle, resolve,
//! push, each source's pull), when each is due, and what happens to slots
//! missed while the daemon was down or a run overran. Pure: the runner
//! (`yici run`) asks and acts.

use chrono::{DateTime, Utc};

use crate::config::schedule::Schedule;
use crate::config::Config;

/// What a scheduled job does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobKind {
    /// Pull → resolve → golden → push.
    Sync,
    Resolve,
    Push,
    /// Pull one source.
    Pull(String),
}

impl JobKind {
    /// The job's name, as in `yici status` (`pull health`).
    pub fn name(&self) -> String {
        match self {
            JobKind::Sync => "sync".to_owned(),
            JobKind::Resolve => "resolve".to_owned(),
            JobKind::Push => "push".to_owned(),
            JobKind::Pull(source) => format!("pull {source}"),
        }
    }

    /// The run name its runs are recorded under.
    pub fn run_name(&self) -> &'static str {
        match self {
            JobKind::Sync | JobKind::Pull(_) => "pull",
            JobKind::Resolve => "resolve",
            JobKind::Push => "push",
        }
    }
}

/// A job and its schedule.
#[derive(Debug, Clone)]
pub struct Job {
    pub kind: JobKind,
    pub schedule: Schedule,
}

/// Every scheduled job of a configuration.
pub fn jobs(config: &Config) -> Vec<Job> {
    let s = &config.settings;
    let mut jobs: Vec<Job> = [
        (JobKind::Sync, &s.sync_schedule),
        (JobKind::Resolve, &s.resolve_schedule),
        (JobKind::Push, &s.push_schedule),
    ]
    .into_iter()
    .filter_map(|(kind, schedule)| schedule.clone().map(|schedule| Job { kind, schedule }))
    .collect();
    for (name, connector) in &config.connectors {
        if let (true, Some(schedule)) = (connector.enabled, &connector.schedule) {
            jobs.push(Job {
                kind: JobKind::Pull(name.clone()),
                schedule: schedule.clone(),
            });
        }
    }
    jobs
}

/// When a job is first due after the daemon starts: now if a slot passed
/// since its last run (slots missed while down run once, not once per
/// slot), else its next slot.
pub fn first_due(
    schedule: &Schedule,
    last_run: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if let Some(missed) = last_run.and_then(|last| schedule.next_after(&last)) {
        if missed <= now {
            return Some(now);
        }
    }
    schedule.next_after(&now)
}

/// When a job is next due after a run that started at `started` and ended
/// at `finished`, and whether the run overran a slot (which is skipped,
/// not made up).
pub fn next_due(
    schedule: &Schedule,
    started: DateTime<Utc>,
    finished: DateTime<Utc>,
) -> (Option<DateTime<Utc>>, bool) {
    let overran = schedule
        .next_after(&started)
        .is_some_and(|slot| slot < finished);
    (schedule.next_after(&finished), overran)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn missed_slots_run_once_at_start() {
        // Every ten minutes; the daemon was down for an hour.
        let every_ten: Schedule = "*/10 * * * *".parse().unwrap();
        let now = at("2026-11-27T12:05:00Z");
        assert_eq!(
            first_due(&every_ten, Some(at("2026-11-27T11:01:00Z")), now),
            Some(now)
        );
        // Last ran in the current slot: wait for the next one.
        assert_eq!(
            first_due(&every_ten, Some(at("2026-11-27T12:01:00Z")), now),
            Some(at("2026-11-27T12:10:00Z"))
        );
        // Never ran: the next slot, not a burst.
        assert_eq!(
            first_due(&every_ten, None, now),
            Some(at("2026-11-27T12:10:00Z"))
        );
    }

    #[test]
    fn an_overrun_skips_the_slots_it_covered() {
        let every_ten: Schedule = "*/10 * * * *".parse().unwrap();
        let (next, overran) = next_due(
            &every_ten,
            at("2026-11-27T12:00:00Z"),
            at("2026-11-27T12:25:00Z"),
        );
        assert!(overran);
        assert_eq!(next, Some(at("2026-11-27T12:30:00Z")));
        let (next, overran) = next_due(
            &every_ten,
            at("2026-11-27T12:00:00Z"),
            at("2026-11-27T12:03:00Z"),
        );
        assert!(!overran);
        assert_eq!(next, Some(at("2026-11-27T12:10:00Z")));
    }
}
