//! The master index: masters (one per resident, stable ids), the link from
//! every staged record to its master, and the append-only event history.
//!
//! These are the storage primitives; the `master` module decides merges,
//! splits and survivorship and records an event for each change.

use chrono::{DateTime, Utc};

use super::{json_text, now_text, Decode, PortableRow, Result, RunId, Store, StoreError};

text_enum! {
    /// Whether a master is live or was merged into another.
    MasterStatus {
        /// Live.
        Active => "active",
        /// Merged; `merged_into` names the survivor.
        Merged => "merged",
    }
}

text_enum! {
    /// Who made a link decision.
    DecidedBy {
        /// The matcher.
        Auto => "auto",
        /// A data steward.
        Manual => "manual",
    }
}

/// A master (reconciled resident) as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Master {
    /// Stable id (ULID/UUIDv7 text chosen by the caller).
    pub id: String,
    /// Active or merged.
    pub status: MasterStatus,
    /// The surviving master, once merged.
    pub merged_into: Option<String>,
    /// The golden record with provenance.
    pub golden: serde_json::Value,
    /// Bumped on each golden-record change; 0 until the golden record is
    /// first built.
    pub golden_version: i64,
    /// The run that created it, if any.
    pub created_run: Option<RunId>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// The master a staged record belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    /// Source name.
    pub source: String,
    /// Key in the source.
    pub source_key: String,
    /// The master.
    pub master_id: String,
    /// Matcher or steward.
    pub decided_by: DecidedBy,
    /// The match weight behind an automatic link.
    pub match_weight: Option<f64>,
    /// The run that made the link.
    pub run_id: Option<RunId>,
    /// When the link was (last) made.
    pub linked_at: DateTime<Utc>,
}

/// An event to append to the history.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// The master it concerns, if any.
    pub master_id: Option<String>,
    /// What happened (`created`, `linked`, `merged`, `split`, …).
    pub kind: String,
    /// Who did it: a steward's name, or the job for automatic changes.
    pub actor: String,
    /// Why, for stewards and auditors.
    pub reason: Option<String>,
    /// Structured details.
    pub detail: serde_json::Value,
    /// The run it happened in.
    pub run_id: Option<RunId>,
}

/// A stored event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Row id; increases with time.
    pub id: i64,
    /// The master it concerns, if any.
    pub master_id: Option<String>,
    /// What happened.
    pub kind: String,
    /// Who did it.
    pub actor: String,
    /// Why.
    pub reason: Option<String>,
    /// Structured details.
    pub detail: serde_json::Value,
    /// The run it happened in.
    pub run_id: Option<RunId>,
    /// When.
    pub created_at: DateTime<Utc>,
}

const MASTER_COLUMNS: &str =
    "id, status, merged_into, golden, golden_version, created_run, created_at, updated_at";
const LINK_COLUMNS: &str =
    "source, source_key, master_id, decided_by, match_weight, run_id, linked_at";
const EVENT_COLUMNS: &str = "id, master_id, kind, actor, reason, detail, run_id, created_at";

fn master_of_row<R: PortableRow>(row: &R, op: &'static str) -> Result<Master> {
    let d = Decode::new(row, op);
    Ok(Master {
        id: d.text("id")?,
        status: d.parse("status")?,
        merged_into: d.opt_text("merged_into")?,
        golden: d.json("golden")?,
        golden_version: d.int("golden_version")?,
        created_run: d.opt_int("created_run")?.map(RunId),
        created_at: d.time("created_at")?,
        updated_at: d.time("updated_at")?,
    })
}

fn link_of_row<R: PortableRow>(row: &R, op: &'static str) -> Result<Link> {
    let d = Decode::new(row, op);
    Ok(Link {
        source: d.text("source")?,
        source_key: d.text("source_key")?,
        master_id: d.text("master_id")?,
        decided_by: d.parse("decided_by")?,
        match_weight: d.opt_float("match_weight")?,
        run_id: d.opt_int("run_id")?.map(RunId),
        linked_at: d.time("linked_at")?,
    })
}

fn event_of_row<R: PortableRow>(row: &R, op: &'static str) -> Result<Event> {
    let d = Decode::new(row, op);
    Ok(Event {
        id: d.int("id")?,
        master_id: d.opt_text("master_id")?,
        kind: d.text("kind")?,
        actor: d.text("actor")?,
        reason: d.opt_text("reason")?,
        detail: d.json("detail")?,
        run_id: d.opt_int("run_id")?.map(RunId),
        created_at: d.time("created_at")?,
    })
}

impl Store {
    /// Creates an active master with golden version 1. Fails if `id` exists:
    /// ids are never reused.
    pub async fn create_master(
        &self,
        id: &str,
        golden: &serde_json::Value,
        run_id: Option<RunId>,
    ) -> Result<()> {
        const OP: &str = "create_master";
        let now = now_text();
        let golden = json_text(golden);
        on_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO masters (id, status, golden, golden_version, created_run, created_at, updated_at) \
                 VALUES ($1, 'active', $2, 1, $3, $4, $4)",
            )
            .bind(id)
            .bind(&golden)
            .bind(run_id.map(|r| r.0))
            .bind(&now)
            .execute(pool)
            .await
            .map(|_| ())
        })
        .map_err(StoreError::query(OP))
    }

    /// One master by id.
    pub async fn master(&self, id: &str) -> Result<Option<Master>> {
        const OP: &str = "master";
        let sql = format!("SELECT {MASTER_COLUMNS} FROM masters WHERE id = $1");
        on_pool!(self, pool => {
            sqlx::query(&sql)
                .bind(id)
                .fetch_optional(pool)
                .await
                .map_err(StoreError::query(OP))?
                .map(|row| master_of_row(&row, OP))
                .transpose()
        })
    }

    /// Links a staged record to a master, replacing its previous link (a
    /// record belongs to exactly one master).
    pub async fn link_record(
        &self,
        source: &str,
        source_key: &str,
        master_id: &str,
        decided_by: DecidedBy,
        match_weight: Option<f64>,
        run_id: Option<RunId>,
    ) -> Result<()> {
        const OP: &str = "link_record";
        let now = now_text();
        on_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO links (source, source_key, master_id, decided_by, match_weight, run_id, linked_at, record_id) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, \
                    (SELECT id FROM staged_records WHERE source = $1 AND source_key = $2)) \
                 ON CONFLICT (source, source_key) DO UPDATE SET \
                    master_id = excluded.master_id, decided_by = excluded.decided_by, \
                    match_weight = excluded.match_weight, run_id = excluded.run_id, \
                    linked_at = excluded.linked_at",
            )
            .bind(source)
            .bind(source_key)
            .bind(master_id)
            .bind(decided_by.as_str())
            .bind(match_weight)
            .bind(run_id.map(|r| r.0))
            .bind(&now)
            .execute(pool)
            .await
            .map(|_| ())
        })
        .map_err(StoreError::query(OP))
    }

    /// The link of one staged record, if it has been resolved.
    pub async fn master_of(&self, source: &str, source_key: &str) -> Result<Option<Link>> {
        const OP: &str = "master_of";
        let sql = format!("SELECT {LINK_COLUMNS} FROM links WHERE source = $1 AND source_key = $2");
        on_pool!(self, pool => {
            sqlx::query(&sql)
                .bind(source)
                .bind(source_key)
                .fetch_optional(pool)
                .await
                .map_err(StoreError::query(OP))?
                .map(|row| link_of_row(&row, OP))
                .transpose()
        })
    }

    /// Every record linked to a master.
    pub async fn links_of_master(&self, master_id: &str) -> Result<Vec<Link>> {
        const OP: &str = "links_of_master";
        let sql = format!(
            "SELECT {LINK_COLUMNS} FROM links WHERE master_id = $1 ORDER BY source, source_key"
        );
        on_pool!(self, pool => {
            sqlx::query(&sql)
                .bind(master_id)
                .fetch_all(pool)
                .await
                .map_err(StoreError::query(OP))?
                .iter()
                .map(|row| link_of_row(row, OP))
                .collect()
        })
    }

    /// Appends an event to the history and returns its id.
    pub async fn append_event(&self, event: &NewEvent) -> Result<i64> {
        const OP: &str = "append_event";
        let now = now_text();
        let sql = format!("{} RETURNING id", super::INSERT_EVENT);
        on_pool!(self, pool => {
            bind_event!(sqlx::query_scalar(&sql), event, &now)
                .fetch_one(pool)
                .await
        })
        .map_err(StoreError::query(OP))
    }

    /// A master's history, oldest first.
    pub async fn events_for_master(&self, master_id: &str) -> Result<Vec<Event>> {
        const OP: &str = "events_for_master";
        let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE master_id = $1 ORDER BY id");
        on_pool!(self, pool => {
            sqlx::query(&sql)
                .bind(master_id)
                .fetch_all(pool)
                .await
                .map_err(StoreError::query(OP))?
                .iter()
                .map(|row| event_of_row(row, OP))
                .collect()
        })
    }
}
