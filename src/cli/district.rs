//! The summary a district office wants after a run: residents found,
//! records per department, values one department can fill in from
//! another, conflicts to check and pairs awaiting a steward.

use std::collections::BTreeMap;

use anyhow::Result;
use serde::Serialize;

use crate::config::Config;
use crate::store::{OutboxStatus, Store};

/// Counts for one department.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DepartmentCounts {
    /// Active staged records.
    pub records: u64,
    /// Empty fields in its records that the golden record has a value for,
    /// from other departments: what push-back would fill in.
    pub fillable: u64,
    /// Its records that have received values from other departments
    /// (written, put on its ledger, or suggested): data entered once.
    pub records_filled: u64,
    /// Deliveries still waiting (or parked).
    pub waiting: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct DistrictSummary {
    /// Residents with at least one current department record.
    pub residents: u64,
    /// Residents every department has dropped (kept with their history).
    pub without_current_records: u64,
    pub records: u64,
    /// By department (`civil_affairs`, `health`, …).
    pub departments: BTreeMap<String, DepartmentCounts>,
    /// Conflicts per kind.
    pub conflicts: BTreeMap<String, u64>,
    pub pending_reviews: u64,
}

/// Reads the summary from the store.
pub async fn summarize(config: &Config, store: &Store) -> Result<DistrictSummary> {
    let departments = super::context::departments(config);
    let department = |source: &str| {
        departments
            .get(source)
            .cloned()
            .unwrap_or_else(|| "other".to_owned())
    };
    let summary = store.summary().await?;
    let mut by_department: BTreeMap<String, DepartmentCounts> = BTreeMap::new();
    for (source, counts) in &summary.staged {
        by_department.entry(department(source)).or_default().records += counts.active;
    }
    for (source, n) in store.fill_totals().await? {
        by_department
            .entry(department(&source))
            .or_default()
            .fillable += n;
    }
    for (target, _, status, n) in store.outbox_counts().await? {
        let counts = by_department.entry(department(&target)).or_default();
        match status {
            OutboxStatus::Delivered => counts.records_filled += n,
            OutboxStatus::Pending | OutboxStatus::Parked => counts.waiting += n,
            OutboxStatus::Superseded => {}
        }
    }
    let without_current_records = store.masters_without_current_records().await?;
    Ok(DistrictSummary {
        residents: summary.masters.saturating_sub(without_current_records),
        without_current_records,
        records: summary.staged.values().map(|c| c.active).sum(),
        departments: by_department,
        conflicts: store.conflict_counts().await?.into_iter().collect(),
        pending_reviews: summary.pending_reviews,
    })
}

/// The summary as a district office reads it.
pub fn render(s: &DistrictSummary) -> String {
    let label = |d: &str| {
        serde_json::from_value::<crate::config::Department>(serde_json::Value::String(d.to_owned()))
            .map(|d| d.label_zh())
            .unwrap_or("其他")
    };
    let mut text = format!(
        "District summary 辖区概况\n  residents 居民        {:>9}  (from {} department records)\n",
        s.residents, s.records
    );
    if s.without_current_records > 0 {
        text.push_str(&format!(
            "  no current record 已无在册记录 {:>4}  (dropped by every department; kept with their history)\n",
            s.without_current_records
        ));
    }
    text.push_str("  department            records  fields others know  records filled  waiting\n");
    for (d, c) in &s.departments {
        text.push_str(&format!(
            "  {} {:<14} {:>9}  {:>18}  {:>14}  {:>7}\n",
            label(d),
            d,
            c.records,
            c.fillable,
            c.records_filled,
            c.waiting
        ));
    }
    let conflicts: u64 = s.conflicts.values().sum();
    let kinds: Vec<String> = s
        .conflicts
        .iter()
        .map(|(k, n)| format!("{n} {k}"))
        .collect();
    text.push_str(&format!(
        "  conflicts to check   {:>9}{}  (`yici conflicts`)\n",
        conflicts,
        if kinds.is_empty() {
            String::new()
        } else {
            format!(": {}", kinds.join(", "))
        }
    ));
    text.push_str(&format!(
        "  pairs to review      {:>9}  (`yici review list`)\n",
        s.pending_reviews
    ));
    text
}
