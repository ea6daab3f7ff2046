//! `yici search --name 张伟 [--birth 1985] [--phone …] [--id …]`: finds
//! residents by any name, former name, phone or identity number they were
//! ever seen with. Names match after traditional→simplified folding, and by
//! toneless pinyin (homophones such as 张伟 / 章伟, or `zhang wei` typed in
//! Latin letters).

use std::collections::BTreeMap;

use anyhow::Result;
use serde::Serialize;

use super::resident::shown;
use super::{context, exit, Cli, Output};
use crate::master::golden::name_search_keys;
use crate::model::id_number::ValidIdNumber;
use crate::model::name::PersonName;
use crate::model::phone::Phone;

#[derive(Debug, clap::Args)]
pub struct SearchArgs {
    /// A name (Chinese characters, traditional or simplified, or pinyin).
    #[arg(long)]
    pub name: Option<String>,
    /// Birth year, year-month or date (`1985`, `1985-03`, `1985-03-02`).
    #[arg(long)]
    pub birth: Option<String>,
    /// A phone number.
    #[arg(long)]
    pub phone: Option<String>,
    /// An identity number.
    #[arg(long)]
    pub id: Option<String>,
    /// At most this many residents.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
}

#[derive(Debug, Serialize)]
struct Hit {
    master_id: String,
    /// How the name matched: `name` (same characters after folding) or
    /// `pinyin` (sounds the same).
    matched: Vec<&'static str>,
    name: String,
    sex: String,
    birth_date: String,
    id_number: String,
    phones: String,
}

pub async fn run(cli: &Cli, args: &SearchArgs, out: &Output) -> Result<i32> {
    if args.name.is_none() && args.phone.is_none() && args.id.is_none() {
        eprintln!("error: search needs --name, --phone or --id (and optionally --birth)");
        return Ok(exit::USAGE);
    }
    let config = context::load_config(cli)?;
    let store = context::open_store(&config).await?;
    // Candidates per criterion; a resident must meet every one given.
    let mut found: BTreeMap<String, Vec<&'static str>> = BTreeMap::new();
    let mut criteria = 0;
    let mut meet = |ids: Vec<(String, &'static str)>, criteria: &mut usize| {
        *criteria += 1;
        let mut seen: BTreeMap<String, Vec<&'static str>> = BTreeMap::new();
        for (id, how) in ids {
            seen.entry(id).or_default().push(how);
        }
        if *criteria == 1 {
            found = seen;
        } else {
            found.retain(|id, how| match seen.get(id) {
                Some(more) => {
                    how.extend(more);
                    true
                }
                None => false,
            });
        }
    };
    if let Some(name) = &args.name {
        let mut ids = Vec::new();
        let latin: String = name
            .chars()
            .filter(|c| c.is_ascii_alphabetic())
            .flat_map(char::to_lowercase)
            .collect();
        if latin.chars().count() == name.chars().filter(|c| !c.is_whitespace()).count() {
            for id in store.masters_by_key("pinyin", &latin).await? {
                ids.push((id, "pinyin"));
            }
        } else if let Ok(parsed) = PersonName::parse(name) {
            for (kind, value) in name_search_keys(&parsed) {
                for id in store.masters_by_key(kind.as_str(), &value).await? {
                    ids.push((id, kind.as_str()));
                }
            }
        }
        meet(ids, &mut criteria);
    }
    if let Some(phone) = &args.phone {
        let key = Phone::parse(phone).canonical();
        let ids = store.masters_by_key("phone", &key).await?;
        meet(
            ids.into_iter().map(|i| (i, "phone")).collect(),
            &mut criteria,
        );
    }
    if let Some(id) = &args.id {
        let ids = match ValidIdNumber::parse(id) {
            Ok(valid) => store.masters_by_key("id", valid.as_str()).await?,
            Err(_) => Vec::new(),
        };
        meet(ids.into_iter().map(|i| (i, "id")).collect(), &mut criteria);
    }
    let mut hits = Vec::new();
    for (id, mut matched) in found {
        let Some(master) = store.master(&id).await? else {
            continue;
        };
        let record = &master.golden["record"];
        let birth = record["birth_date"].as_str().unwrap_or("").to_owned();
        if let Some(wanted) = &args.birth {
            if !birth.starts_with(wanted.trim()) {
                continue;
            }
        }
        matched.sort_unstable();
        matched.dedup();
        let text = |k: &str| {
            record
                .get(k)
                .map(|v| shown(k, v, false))
                .unwrap_or_default()
        };
        hits.push(Hit {
            master_id: id,
            matched,
            name: text("name"),
            sex: text("sex"),
            birth_date: birth,
            id_number: text("id_document"),
            phones: text("phones"),
        });
    }
    // Same characters before homophones.
    hits.sort_by_key(|h| (!h.matched.contains(&"name"), h.master_id.clone()));
    let total = hits.len();
    hits.truncate(args.limit);
    store.close().await;
    out.emit(&hits, || {
        let mut s = format!(
            "{total} residents found{}\n",
            if total > hits.len() {
                format!(" ({} shown)", hits.len())
            } else {
                String::new()
            }
        );
        for h in &hits {
            s.push_str(&format!(
                "{}  {:<8} {:<7} {:<10} {:<18} {:<14} [{}]\n",
                h.master_id,
                h.name,
                h.sex,
                h.birth_date,
                h.id_number,
                h.phones,
                h.matched.join(", ")
            ));
        }
        s
    });
    Ok(exit::OK)
}
