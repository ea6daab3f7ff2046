//! What a resolve run reads and writes: the active staged records in
//! comparison order, the current links with the content hash each was
//! decided on, and — in one transaction — the run's new masters, merges,
//! links, events and review pairs. A run killed before the commit leaves
//! the index as it was; the next run recomputes the same changes.

use std::collections::HashMap;

use sqlx::QueryBuilder;

use super::master_index::{DecidedBy, NewEvent};
use super::review::{MatchRule, NewReview};
use super::{json_text, now_text, Decode, Result, RunId, Store, StoreError, WritePool};

/// A page of active staged records, packed by the database into one text
/// (one result row per page instead of one per record: the driver's
/// per-row cost dominated reading). Records are separated by `\x1e`,
/// fields by `\x1f`: id, source, source key (a JSON string, so any
/// character is safe), content hash, match key (JSON, may be empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackedPage {
    /// The highest row id in the page (where the next page starts).
    pub last_id: i64,
    pub text: String,
}

/// One record of a [`PackedPage`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackedRecord<'a> {
    pub id: i64,
    pub source: &'a str,
    pub source_key: String,
    pub content_hash: &'a str,
    /// Empty when staging stored none (rows staged before match keys).
    pub match_key: &'a str,
}

impl PackedPage {
    /// The records of the page, each as its own text (for splitting
    /// across threads).
    pub fn records(&self) -> impl Iterator<Item = &str> {
        self.text.split('\x1e').filter(|r| !r.is_empty())
    }
}

/// Unpacks one record of a [`PackedPage`].
pub fn unpack_record(text: &str) -> Result<PackedRecord<'_>> {
    let corrupt = |detail: String| StoreError::Corrupt {
        op: "active_records",
        detail,
    };
    let mut fields = text.splitn(5, '\x1f');
    let mut next = || {
        fields
            .next()
            .ok_or_else(|| corrupt(format!("short packed record `{text}`")))
    };
    let id = next()?;
    let (source, key, content_hash, match_key) = (next()?, next()?, next()?, next()?);
    Ok(PackedRecord {
        id: id.parse().map_err(|_| corrupt(format!("bad id `{id}`")))?,
        source,
        source_key: serde_json::from_str(key)
            .map_err(|e| corrupt(format!("bad key {key}: {e}")))?,
        content_hash,
        match_key,
    })
}

/// Every link, packed into one text by the database: records separated by
/// `\x1e`, fields by `\x1f` (staged row id, master, decided-by, content
/// hash or empty). Parsed in place by [`PackedLinks::rows`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackedLinks {
    pub text: String,
}

/// One link of [`PackedLinks`], borrowing its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkRow<'a> {
    pub record_id: i64,
    pub master_id: &'a str,
    /// A steward made the link.
    pub manual: bool,
    /// The content hash the link was decided on.
    pub content_hash: Option<&'a str>,
}

impl PackedLinks {
    /// The links, sorted by staged row id.
    pub fn rows(&self) -> Result<Vec<LinkRow<'_>>> {
        let corrupt = |detail: String| StoreError::Corrupt {
            op: "link_rows",
            detail,
        };
        let mut rows = self
            .text
            .split('\x1e')
            .filter(|r| !r.is_empty())
            .map(|r| {
                let f: Vec<&str> = r.splitn(4, '\x1f').collect();
                let [id, master, decided_by, hash] = f[..] else {
                    return Err(corrupt(format!("short packed link `{r}`")));
                };
                Ok(LinkRow {
                    record_id: id
                        .parse()
                        .map_err(|_| corrupt(format!("bad record id `{id}`")))?,
                    master_id: master,
                    manual: decided_by == DecidedBy::Manual.as_str(),
                    content_hash: (!hash.is_empty()).then_some(hash),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        rows.sort_unstable_by_key(|r| r.record_id);
        Ok(rows)
    }
}

/// Reads a page of active records packed into one row; `$1` after id,
/// `$2` limit. (SQLite, PostgreSQL.)
const PACKED_PAGE: (&str, &str) = (
    "SELECT max(id), group_concat(id || char(31) || source || char(31) || json_quote(source_key) \
        || char(31) || content_hash || char(31) || coalesce(match_key, ''), char(30)) \
     FROM (SELECT id, source, source_key, content_hash, match_key FROM staged_records \
           WHERE status = 'active' AND id > $1 ORDER BY id LIMIT $2)",
    "SELECT max(id), string_agg(id::text || chr(31) || source || chr(31) || to_json(source_key)::text \
        || chr(31) || content_hash || chr(31) || coalesce(match_key, ''), chr(30) ORDER BY id) \
     FROM (SELECT id, source, source_key, content_hash, match_key FROM staged_records \
           WHERE status = 'active' AND id > $1 ORDER BY id LIMIT $2) AS page",
);

/// Reads every link packed into one row.
const PACKED_LINKS: (&str, &str) = (
    "SELECT group_concat(record_id || char(31) || master_id || char(31) \
        || decided_by || char(31) || coalesce(content_hash, ''), char(30)) \
     FROM links WHERE record_id IS NOT NULL",
    "SELECT string_agg(record_id::text || chr(31) || master_id || chr(31) \
        || decided_by || chr(31) || coalesce(content_hash, ''), chr(30)) \
     FROM links WHERE record_id IS NOT NULL",
);

/// A link to write.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkWrite {
    /// The staged row's id.
    pub record_id: i64,
    pub source: String,
    pub source_key: String,
    pub master_id: String,
    pub match_weight: Option<f64>,
    pub content_hash: String,
}

/// A staged record and the master it is linked to, for exports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordLink {
    /// Row id (pagination).
    pub id: i64,
    pub source: String,
    pub source_key: String,
    /// `None` while unresolved.
    pub master_id: Option<String>,
}

/// Everything one resolve run changes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResolutionWrite {
    /// Masters to create (empty golden record until survivorship runs).
    pub new_masters: Vec<String>,
    /// (absorbed, survivor): the absorbed master becomes a tombstone.
    pub merges: Vec<(String, String)>,
    /// Links to create or change.
    pub links: Vec<LinkWrite>,
    pub events: Vec<NewEvent>,
    pub reviews: Vec<NewReview>,
    /// Match keys to store for rows staged without one: (row id, key).
    pub match_keys: Vec<(i64, String)>,
    /// Masters whose records changed (gained, lost or changed a record):
    /// their golden records are rebuilt. New masters start stale.
    pub stale_masters: Vec<String>,
}

/// Rows per multi-row statement: well under both drivers' parameter limits
/// at up to nine parameters a row.
const ROWS_PER_STATEMENT: usize = 1000;

impl Store {
    /// Up to `limit` active staged records with row id above `after_id`,
    /// in id order, packed ([`PackedPage`]); `None` past the end.
    pub async fn active_records(&self, after_id: i64, limit: i64) -> Result<Option<PackedPage>> {
        const OP: &str = "active_records";
        let q = StoreError::query(OP);
        let sql = self.dialect(PACKED_PAGE);
        let row: (Option<i64>, Option<String>) = on_pool!(self, pool => {
            sqlx::query_as(sql)
                .bind(after_id)
                .bind(limit)
                .fetch_one(pool)
                .await
                .map_err(q)?
        });
        Ok(match row {
            (Some(last_id), Some(text)) => Some(PackedPage { last_id, text }),
            _ => None,
        })
    }

    /// The canonical records of the given staged rows (for rows staged
    /// without a match key).
    pub async fn canonical_records(&self, ids: &[i64]) -> Result<Vec<(i64, String)>> {
        const OP: &str = "canonical_records";
        let q = StoreError::query(OP);
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(ROWS_PER_STATEMENT) {
            let list = chunk
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(",");
            // Integers only: safe to inline, and one text for both dialects.
            let sql = format!("SELECT id, canonical FROM staged_records WHERE id IN ({list})");
            let rows: Vec<(i64, String)> = on_pool!(self, pool => {
                sqlx::query_as(&sql).fetch_all(pool).await.map_err(q)?
            });
            out.extend(rows);
        }
        Ok(out)
    }

    /// The newest active staged record a resolve run has not decided in its
    /// current content (no link, a link decided on other content, or no
    /// match key yet), if any: with none, an incremental run has nothing
    /// to do and need not load the index. Newest first, so the usual case
    /// (records just pulled) answers at once.
    pub async fn newest_unresolved_record(&self) -> Result<Option<i64>> {
        const OP: &str = "newest_unresolved_record";
        let sql = "SELECT s.id FROM staged_records s \
                   LEFT JOIN links l ON l.source = s.source AND l.source_key = s.source_key \
                   WHERE s.status = 'active' AND (l.record_id IS NULL OR l.content_hash IS NULL \
                       OR l.content_hash <> s.content_hash OR s.match_key IS NULL) \
                   ORDER BY s.id DESC LIMIT 1";
        on_pool!(self, pool => {
            sqlx::query_scalar(sql)
                .fetch_optional(pool)
                .await
                .map_err(StoreError::query(OP))
        })
    }

    /// How many staged records are active.
    pub async fn active_record_count(&self) -> Result<u64> {
        const OP: &str = "active_record_count";
        on_pool!(self, pool => {
            let row = sqlx::query("SELECT COUNT(*) AS n FROM staged_records WHERE status = 'active'")
                .fetch_one(pool)
                .await
                .map_err(StoreError::query(OP))?;
            Decode::new(&row, OP).count("n")
        })
    }

    /// Every link of a staged row ([`PackedLinks`]).
    pub async fn link_rows(&self) -> Result<PackedLinks> {
        const OP: &str = "link_rows";
        let q = StoreError::query(OP);
        let sql = self.dialect(PACKED_LINKS);
        let text: Option<String> = on_pool!(self, pool => {
            sqlx::query_scalar(sql).fetch_one(pool).await.map_err(q)?
        });
        Ok(PackedLinks {
            text: text.unwrap_or_default(),
        })
    }

    /// Up to `limit` staged records (active or gone) after row `after_id`,
    /// each with its master.
    pub async fn record_links(&self, after_id: i64, limit: i64) -> Result<Vec<RecordLink>> {
        const OP: &str = "record_links";
        let sql = "SELECT s.id, s.source, s.source_key, l.master_id FROM staged_records s \
                   LEFT JOIN links l ON l.source = s.source AND l.source_key = s.source_key \
                   WHERE s.id > $1 ORDER BY s.id LIMIT $2";
        on_pool!(self, pool => {
            sqlx::query(sql)
                .bind(after_id)
                .bind(limit)
                .fetch_all(pool)
                .await
                .map_err(StoreError::query(OP))?
                .iter()
                .map(|row| {
                    let d = Decode::new(row, OP);
                    Ok(RecordLink {
                        id: d.int("id")?,
                        source: d.text("source")?,
                        source_key: d.text("source_key")?,
                        master_id: d.opt_text("master_id")?,
                    })
                })
                .collect()
        })
    }

    /// Creation time of every active master, by id.
    pub async fn master_ages(&self) -> Result<HashMap<String, String>> {
        const OP: &str = "master_ages";
        let sql = "SELECT id, created_at FROM masters WHERE status = 'active'";
        on_pool!(self, pool => {
            sqlx::query(sql)
                .fetch_all(pool)
                .await
                .map_err(StoreError::query(OP))?
                .iter()
                .map(|row| {
                    let d = Decode::new(row, OP);
                    Ok((d.text("id")?, d.text("created_at")?))
                })
                .collect()
        })
    }

    /// Every steward rule, oldest first (a later rule for a pair wins).
    pub async fn all_match_rules(&self) -> Result<Vec<MatchRule>> {
        const OP: &str = "all_match_rules";
        let sql = format!(
            "SELECT {} FROM match_rules ORDER BY id",
            super::review::RULE_COLUMNS
        );
        on_pool!(self, pool => {
            sqlx::query(&sql)
                .fetch_all(pool)
                .await
                .map_err(StoreError::query(OP))?
                .iter()
                .map(|row| super::review::rule_of(row, OP))
                .collect()
        })
    }

    /// Writes one run's changes in a single transaction; returns how many
    /// review pairs were newly queued (a pair asked before is not re-asked).
    pub async fn apply_resolution(&self, run: RunId, w: &ResolutionWrite) -> Result<u64> {
        const OP: &str = "apply_resolution";
        let now = now_text();
        let q = StoreError::query(OP);
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await.map_err(q)?;
            tx.reuse_plans(true).await.map_err(q)?;
            let t = std::time::Instant::now();
            let rows = Rows { run, now: &now };
            tx.insert_masters(&rows, &w.new_masters).await.map_err(q)?;
            let masters_s = t.elapsed().as_secs_f64();
            // In key order: the links key and the staged-records key they
            // reference are then both walked sequentially, not at random.
            let mut links: Vec<&LinkWrite> = w.links.iter().collect();
            links.sort_unstable_by(|a, b| (&a.source, &a.source_key).cmp(&(&b.source, &b.source_key)));
            tx.upsert_links(&rows, &links).await.map_err(q)?;
            let links_s = t.elapsed().as_secs_f64() - masters_s;
            tx.insert_events(&rows, &w.events).await.map_err(q)?;
            let events_s = t.elapsed().as_secs_f64() - masters_s - links_s;
            // Statements whose plan depends on how big the tables are now.
            tx.reuse_plans(false).await.map_err(q)?;
            for (absorbed, survivor) in &w.merges {
                merge_master!(tx, absorbed, survivor, &now).await.map_err(q)?;
            }
            let mut queued = 0;
            for chunk in w.reviews.chunks(ROWS_PER_STATEMENT) {
                let mut b = QueryBuilder::new(
                    "INSERT INTO review_queue (left_ref, right_ref, match_weight, explanation, status, run_id, created_at) ",
                );
                b.push_values(chunk, |mut row, r| {
                    let (left, right) = super::review::ordered(&r.left, &r.right);
                    row.push_bind(left.to_string())
                        .push_bind(right.to_string())
                        .push_bind(r.match_weight)
                        .push_bind(json_text(&r.explanation))
                        .push_bind("pending")
                        .push_bind(r.run_id.map(|r| r.0))
                        .push_bind(&now);
                });
                b.push(" ON CONFLICT (left_ref, right_ref) DO NOTHING");
                queued += b.build().execute(&mut *tx).await.map_err(q)?.rows_affected();
            }
            for chunk in w.stale_masters.chunks(ROWS_PER_STATEMENT) {
                let mut b = QueryBuilder::new("UPDATE masters SET golden_stale = 1 WHERE id IN ");
                super::push_in_list(&mut b, chunk);
                b.build().execute(&mut *tx).await.map_err(q)?;
            }
            for (id, key) in &w.match_keys {
                sqlx::query("UPDATE staged_records SET match_key = $1 WHERE id = $2")
                    .bind(key)
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(q)?;
            }
            let before_commit = t.elapsed().as_secs_f64();
            tx.commit().await.map_err(q)?;
            tracing::debug!(
                masters_s,
                links_s,
                events_s,
                merges_reviews_keys_s = before_commit - masters_s - links_s - events_s,
                commit_s = t.elapsed().as_secs_f64() - before_commit,
                "resolution written"
            );
            Ok(queued)
        })
    }
}

/// What every row of one run's writes shares.
struct Rows<'a> {
    run: RunId,
    now: &'a str,
}

/// A link upsert: a steward's link keeps its author; the matcher records
/// the master, its weight and the hash it decided on.
macro_rules! links_insert_head {
    () => {
        "INSERT INTO links (source, source_key, master_id, decided_by, match_weight, run_id, \
            linked_at, content_hash, record_id) "
    };
}
macro_rules! links_conflict {
    () => {
        " ON CONFLICT (source, source_key) DO UPDATE SET \
            master_id = excluded.master_id, match_weight = excluded.match_weight, \
            run_id = excluded.run_id, linked_at = excluded.linked_at, \
            content_hash = excluded.content_hash, record_id = excluded.record_id"
    };
}

/// Rows per PostgreSQL array statement (one round trip each).
const PG_ROWS: usize = 8192;

/// The bulk inserts of a resolve run, per driver: SQLite takes multi-row
/// `VALUES`, PostgreSQL parallel arrays (`UNNEST`), which it plans once per
/// statement instead of once per thousand bound values.
trait ResolutionRows: Send {
    /// Whether the statements that follow, in this transaction, may reuse
    /// plans (the bulk inserts) or are planned afresh (the rest).
    fn reuse_plans(
        &mut self,
        on: bool,
    ) -> impl std::future::Future<Output = std::result::Result<(), sqlx::Error>> + Send;
    fn insert_masters(
        &mut self,
        rows: &Rows<'_>,
        ids: &[String],
    ) -> impl std::future::Future<Output = std::result::Result<(), sqlx::Error>> + Send;
    fn upsert_links(
        &mut self,
        rows: &Rows<'_>,
        links: &[&LinkWrite],
    ) -> impl std::future::Future<Output = std::result::Result<(), sqlx::Error>> + Send;
    fn insert_events(
        &mut self,
        rows: &Rows<'_>,
        events: &[NewEvent],
    ) -> impl std::future::Future<Output = std::result::Result<(), sqlx::Error>> + Send;
}

impl ResolutionRows for sqlx::SqliteConnection {
    async fn reuse_plans(&mut self, _on: bool) -> std::result::Result<(), sqlx::Error> {
        Ok(())
    }

    async fn insert_masters(
        &mut self,
        rows: &Rows<'_>,
        ids: &[String],
    ) -> std::result::Result<(), sqlx::Error> {
        let head = "INSERT INTO masters (id, status, golden, golden_version, created_run, created_at, updated_at) ";
        sqlite_values(self, head, "", ids, |mut row, id| {
            row.push_bind(id)
                .push_bind("active")
                .push_bind("{}")
                .push_bind(0i64)
                .push_bind(rows.run.0)
                .push_bind(rows.now)
                .push_bind(rows.now);
        })
        .await
    }

    async fn upsert_links(
        &mut self,
        rows: &Rows<'_>,
        links: &[&LinkWrite],
    ) -> std::result::Result<(), sqlx::Error> {
        sqlite_values(
            self,
            links_insert_head!(),
            links_conflict!(),
            links,
            |mut row, l| {
                row.push_bind(&l.source)
                    .push_bind(&l.source_key)
                    .push_bind(&l.master_id)
                    .push_bind(DecidedBy::Auto.as_str())
                    .push_bind(l.match_weight)
                    .push_bind(rows.run.0)
                    .push_bind(rows.now)
                    .push_bind(&l.content_hash)
                    .push_bind(l.record_id);
            },
        )
        .await
    }

    async fn insert_events(
        &mut self,
        rows: &Rows<'_>,
        events: &[NewEvent],
    ) -> std::result::Result<(), sqlx::Error> {
        let head =
            "INSERT INTO events (master_id, kind, actor, reason, detail, run_id, created_at) ";
        sqlite_values(self, head, "", events, |mut row, e| {
            row.push_bind(e.master_id.as_deref())
                .push_bind(&e.kind)
                .push_bind(&e.actor)
                .push_bind(e.reason.as_deref())
                .push_bind(json_text(&e.detail))
                .push_bind(e.run_id.map(|r| r.0))
                .push_bind(rows.now);
        })
        .await
    }
}

/// Inserts `items` with multi-row `VALUES` statements of at most
/// [`ROWS_PER_STATEMENT`] rows: `head`, the values `bind` pushes per item,
/// then `tail` (a conflict clause, or nothing).
async fn sqlite_values<'a, T: Sync>(
    conn: &mut sqlx::SqliteConnection,
    head: &str,
    tail: &str,
    items: &'a [T],
    bind: impl Fn(sqlx::query_builder::Separated<'_, 'a, sqlx::Sqlite, &'static str>, &'a T)
        + Send
        + Sync,
) -> std::result::Result<(), sqlx::Error> {
    for chunk in items.chunks(ROWS_PER_STATEMENT) {
        let mut b = QueryBuilder::new(head);
        b.push_values(chunk, &bind);
        b.push(tail);
        b.build().execute(&mut *conn).await?;
    }
    Ok(())
}

impl ResolutionRows for sqlx::PgConnection {
    /// The store's connections plan every statement afresh (see
    /// `open_postgres`); the foreign-key checks behind a bulk insert are
    /// one internal statement per row, so the inserts let PostgreSQL reuse
    /// their plans (123,538 links: 4.2 s → 2.1 s). Everything else in the
    /// transaction goes back to fresh plans: a generic plan made before the
    /// tables had statistics could scan a million links per merge.
    async fn reuse_plans(&mut self, on: bool) -> std::result::Result<(), sqlx::Error> {
        let sql = if on {
            super::PG_REUSE_PLANS
        } else {
            super::PG_FRESH_PLANS
        };
        sqlx::query(sql).execute(&mut *self).await.map(|_| ())
    }

    async fn insert_masters(
        &mut self,
        rows: &Rows<'_>,
        ids: &[String],
    ) -> std::result::Result<(), sqlx::Error> {
        for chunk in ids.chunks(PG_ROWS) {
            sqlx::query(
                "INSERT INTO masters (id, status, golden, golden_version, created_run, created_at, updated_at) \
                 SELECT i, 'active', '{}', 0, $1, $2, $2 FROM UNNEST($3::text[]) WITH ORDINALITY AS t (i, n) \
                 ORDER BY n",
            )
            .bind(rows.run.0)
            .bind(rows.now)
            .bind(chunk)
            .execute(&mut *self)
            .await?;
        }
        Ok(())
    }

    async fn upsert_links(
        &mut self,
        rows: &Rows<'_>,
        links: &[&LinkWrite],
    ) -> std::result::Result<(), sqlx::Error> {
        for chunk in links.chunks(PG_ROWS) {
            let text =
                |f: fn(&LinkWrite) -> &str| -> Vec<&str> { chunk.iter().map(|l| f(l)).collect() };
            let weights: Vec<Option<f64>> = chunk.iter().map(|l| l.match_weight).collect();
            let ids: Vec<i64> = chunk.iter().map(|l| l.record_id).collect();
            sqlx::query(concat!(
                links_insert_head!(),
                "SELECT s, k, m, 'auto', w, $1, $2, h, r \
                 FROM UNNEST($3::text[], $4::text[], $5::text[], $6::float8[], $7::text[], $8::int8[]) \
                    AS t (s, k, m, w, h, r)",
                links_conflict!()
            ))
            .bind(rows.run.0)
            .bind(rows.now)
            .bind(text(|l| &l.source))
            .bind(text(|l| &l.source_key))
            .bind(text(|l| &l.master_id))
            .bind(weights)
            .bind(text(|l| &l.content_hash))
            .bind(ids)
            .execute(&mut *self)
            .await?;
        }
        Ok(())
    }

    async fn insert_events(
        &mut self,
        rows: &Rows<'_>,
        events: &[NewEvent],
    ) -> std::result::Result<(), sqlx::Error> {
        for chunk in events.chunks(PG_ROWS) {
            let masters: Vec<Option<&str>> = chunk.iter().map(|e| e.master_id.as_deref()).collect();
            let kinds: Vec<&str> = chunk.iter().map(|e| e.kind.as_str()).collect();
            let actors: Vec<&str> = chunk.iter().map(|e| e.actor.as_str()).collect();
            let reasons: Vec<Option<&str>> = chunk.iter().map(|e| e.reason.as_deref()).collect();
            let details: Vec<String> = chunk.iter().map(|e| json_text(&e.detail)).collect();
            let run_ids: Vec<Option<i64>> = chunk.iter().map(|e| e.run_id.map(|r| r.0)).collect();
            sqlx::query(
                "INSERT INTO events (master_id, kind, actor, reason, detail, run_id, created_at) \
                 SELECT m, k, a, r, d, ri, $1 \
                 FROM UNNEST($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int8[]) \
                    WITH ORDINALITY AS t (m, k, a, r, d, ri, n) \
                 ORDER BY n",
            )
            .bind(rows.now)
            .bind(masters)
            .bind(kinds)
            .bind(actors)
            .bind(reasons)
            .bind(details)
            .bind(run_ids)
            .execute(&mut *self)
            .await?;
        }
        Ok(())
    }
}
