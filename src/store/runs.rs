//! Runs: one row per job invocation, so operators can see what happened and a
//! killed run is recognisable afterwards.

use chrono::{DateTime, Utc};

use super::process;
use super::{json_text, now_text, to_i64, Decode, PortableRow, Result, Store, StoreError};

/// Identifier of a run; staged rows, links and events point at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RunId(pub i64);

impl std::fmt::Display for RunId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

text_enum! {
    /// Where a run stands.
    RunStatus {
        /// Started and not finished (or its process died: see
        /// [`Store::mark_interrupted_runs`]).
        Running => "running",
        /// Finished without error.
        Succeeded => "succeeded",
        /// Finished with an error.
        Failed => "failed",
        /// Found still `running` after its process went away.
        Interrupted => "interrupted",
    }
}

/// How a run ended, given to [`Store::finish_run`].
#[derive(Debug, Clone, PartialEq)]
pub struct RunOutcome {
    /// Final status.
    pub status: RunStatus,
    /// Free-form counters (pulled, staged, quarantined, linked, …).
    pub counts: serde_json::Value,
    /// The error that ended a failed run.
    pub error: Option<String>,
}

impl RunOutcome {
    /// How a run that came to `result` ended: succeeded with its report as
    /// counts, interrupted when a stop request `cut_short` it (what it did
    /// stands; the next run goes on), or failed with the error.
    pub fn of<T: serde::Serialize, E: std::fmt::Display>(
        result: &std::result::Result<T, E>,
        cut_short: bool,
    ) -> RunOutcome {
        match result {
            Ok(report) => RunOutcome {
                status: if cut_short {
                    RunStatus::Interrupted
                } else {
                    RunStatus::Succeeded
                },
                counts: serde_json::to_value(report).unwrap_or_default(),
                error: cut_short.then(|| {
                    "stopped at a commit point; the next run goes on from there".to_owned()
                }),
            },
            Err(e) => RunOutcome {
                status: RunStatus::Failed,
                counts: serde_json::json!({}),
                error: Some(format!("{e:#}")),
            },
        }
    }
}

/// One recorded run.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// Its id.
    pub id: RunId,
    /// The job name (`sync`, `sync:civil_affairs`, `push`, …).
    pub job: String,
    /// When it began.
    pub started_at: DateTime<Utc>,
    /// When it ended, if it did.
    pub finished_at: Option<DateTime<Utc>>,
    /// Where it stands.
    pub status: RunStatus,
    /// Counters recorded at the end.
    pub counts: serde_json::Value,
    /// The error of a failed run.
    pub error: Option<String>,
}

const RUN_COLUMNS: &str = "id, job, started_at, finished_at, status, counts, error";

fn run_of<R: PortableRow>(row: &R, op: &'static str) -> Result<Run> {
    let d = Decode::new(row, op);
    Ok(Run {
        id: RunId(d.int("id")?),
        job: d.text("job")?,
        started_at: d.time("started_at")?,
        finished_at: d.opt_time("finished_at")?,
        status: d.parse("status")?,
        counts: d.json("counts")?,
        error: d.opt_text("error")?,
    })
}

impl Store {
    /// Records the start of a run of `job` by this process and returns its
    /// id. Runs left `running` by processes that are gone are first marked
    /// interrupted, so history never shows a dead run as at work.
    pub async fn begin_run(&self, job: &str) -> Result<RunId> {
        const OP: &str = "begin_run";
        self.mark_abandoned_runs(false).await?;
        let now = now_text();
        let runner = process::this_process();
        let id: i64 = on_pool!(self, pool => {
            sqlx::query_scalar(
                "INSERT INTO runs (job, started_at, status, counts, runner) \
                 VALUES ($1, $2, 'running', '{}', $3) RETURNING id",
            )
            .bind(job)
            .bind(&now)
            .bind(&runner)
            .fetch_one(pool)
            .await
        })
        .map_err(StoreError::query(OP))?;
        Ok(RunId(id))
    }

    /// Records how a run ended.
    pub async fn finish_run(&self, id: RunId, outcome: RunOutcome) -> Result<()> {
        const OP: &str = "finish_run";
        let now = now_text();
        let counts = json_text(&outcome.counts);
        let done = on_pool!(self, pool => {
            sqlx::query(
                "UPDATE runs SET finished_at = $2, status = $3, counts = $4, error = $5 \
                 WHERE id = $1",
            )
            .bind(id.0)
            .bind(&now)
            .bind(outcome.status.as_str())
            .bind(&counts)
            .bind(outcome.error.as_deref())
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })
        .map_err(StoreError::query(OP))?;
        if done == 0 {
            return Err(StoreError::NotFound {
                op: OP,
                what: format!("run {id}"),
            });
        }
        Ok(())
    }

    /// Runs newest first, optionally only failed (or interrupted) ones, or
    /// only those of one job.
    pub async fn runs(&self, limit: u64, failed_only: bool, job: Option<&str>) -> Result<Vec<Run>> {
        const OP: &str = "runs";
        let limit = to_i64(OP, limit)?;
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM runs \
             WHERE ($1 = 0 OR status IN ('failed', 'interrupted')) \
               AND (CAST($2 AS TEXT) IS NULL OR job = CAST($2 AS TEXT)) \
             ORDER BY id DESC LIMIT $3"
        );
        on_pool!(self, pool => {
            sqlx::query(&sql)
                .bind(i64::from(failed_only))
                .bind(job)
                .bind(limit)
                .fetch_all(pool)
                .await
                .map_err(StoreError::query(OP))?
                .iter()
                .map(|row| run_of(row, OP))
                .collect()
        })
    }

    /// When each job last succeeded (its finish time), by job name.
    pub async fn last_success_per_job(&self) -> Result<Vec<(String, DateTime<Utc>)>> {
        const OP: &str = "last_success_per_job";
        on_pool!(self, pool => {
            sqlx::query(
                "SELECT job, MAX(finished_at) AS finished_at FROM runs \
                 WHERE status = 'succeeded' AND finished_at IS NOT NULL GROUP BY job ORDER BY job",
            )
            .fetch_all(pool)
            .await
            .map_err(StoreError::query(OP))?
            .iter()
            .map(|row| {
                let d = Decode::new(row, OP);
                Ok((d.text("job")?, d.time("finished_at")?))
            })
            .collect()
        })
    }

    /// The latest run of every job, by job name.
    pub async fn last_run_per_job(&self) -> Result<Vec<Run>> {
        const OP: &str = "last_run_per_job";
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE id IN (SELECT MAX(id) FROM runs GROUP BY job) ORDER BY job"
        );
        on_pool!(self, pool => {
            sqlx::query(&sql)
                .fetch_all(pool)
                .await
                .map_err(StoreError::query(OP))?
                .iter()
                .map(|row| run_of(row, OP))
                .collect()
        })
    }

    /// The latest `limit` runs, newest first.
    pub async fn recent_runs(&self, limit: u64) -> Result<Vec<Run>> {
        const OP: &str = "recent_runs";
        let limit = to_i64(OP, limit)?;
        let sql = format!("SELECT {RUN_COLUMNS} FROM runs ORDER BY id DESC LIMIT $1");
        on_pool!(self, pool => {
            sqlx::query(&sql)
                .bind(limit)
                .fetch_all(pool)
                .await
                .map_err(StoreError::query(OP))?
                .iter()
                .map(|row| run_of(row, OP))
                .collect()
        })
    }

    /// One run by id.
    pub async fn run(&self, id: RunId) -> Result<Option<Run>> {
        const OP: &str = "run";
        let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = $1");
        on_pool!(self, pool => {
            sqlx::query(&sql)
                .bind(id.0)
                .fetch_optional(pool)
                .await
                .map_err(StoreError::query(OP))?
                .map(|row| run_of(&row, OP))
                .transpose()
        })
    }

    /// Marks runs of `job` still `running` as `interrupted` and returns how
    /// many. Their process was killed; the work they committed stands (it
    /// is batched), the rest is redone by the next run.
    ///
    /// Call it while holding `job`'s lock (see [`Store::try_acquire_lock`]):
    /// with several processes sharing one PostgreSQL store, a `running` row
    /// is only known to be dead when no live process can own it. That is why
    /// [`Store::open`] does not do this itself. `None` marks every job's
    /// running runs, for single-process use (e.g. the embedded SQLite store).
    pub async fn mark_interrupted_runs(&self, job: Option<&str>) -> Result<u64> {
        const OP: &str = "mark_interrupted_runs";
        let now = now_text();
        let marked = on_pool!(self, pool => {
            sqlx::query(
                "UPDATE runs SET status = 'interrupted', finished_at = $1, \
                     error = COALESCE(error, 'process ended before the run finished') \
                 WHERE status = 'running' AND ($2 IS NULL OR job = $2)",
            )
            .bind(&now)
            .bind(job)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })
        .map_err(StoreError::query(OP))?;
        if marked > 0 {
            tracing::warn!(marked, job, "marked runs left running as interrupted");
        }
        Ok(marked)
    }

    /// Marks as `interrupted` the runs still `running` whose process is gone
    /// (see [`process::is_gone`]) and, with `mine`, this process's own: a
    /// run that could not record its end (the store went away mid-run) or
    /// that was abandoned at shutdown. Returns how many.
    pub async fn mark_abandoned_runs(&self, mine: bool) -> Result<u64> {
        const OP: &str = "mark_abandoned_runs";
        let running: Vec<(i64, String)> = on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT id, runner FROM runs WHERE status = 'running' AND runner IS NOT NULL",
            )
            .fetch_all(pool)
            .await
        })
        .map_err(StoreError::query(OP))?;
        let me = process::this_process();
        let now = now_text();
        let mut marked = 0;
        for (id, runner) in running {
            let reason = if runner == me {
                if !mine {
                    continue;
                }
                "the run was abandoned before it recorded its end"
            } else if process::is_gone(&runner) {
                "process ended before the run finished"
            } else {
                continue;
            };
            marked += on_pool!(self, pool => {
                sqlx::query(
                    "UPDATE runs SET status = 'interrupted', finished_at = $2, \
                         error = COALESCE(error, $3) \
                     WHERE id = $1 AND status = 'running'",
                )
                .bind(id)
                .bind(&now)
                .bind(reason)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
            })
            .map_err(StoreError::query(OP))?;
        }
        if marked > 0 {
            tracing::warn!(marked, "marked runs left running as interrupted");
        }
        Ok(marked)
    }
}
