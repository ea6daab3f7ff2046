//! A data steward overruling the matcher: `yici merge`, `unmerge`, `link`,
//! `unlink`, and the verdicts of `yici review accept|reject`. Each names
//! its steward (`--by`) and why (`--reason`), runs under the index lock as
//! a run of its own, and is never undone by later automatic runs.

use anyhow::Result;

use super::lock::JobLock;
use super::{context, exit, Cli, Output};
use crate::master::stewardship::Steward;
use crate::store::{RecordRef, RunOutcome, RunStatus};
use crate::sync::steward::{steward_run, StewardCommand, StewardReport, StewardRunError};

/// Who acts, and why (manual operations must say why).
#[derive(Debug, clap::Args)]
pub struct Signed {
    /// The steward's name, recorded with every change.
    #[arg(long, value_name = "NAME")]
    pub by: String,
    /// Why; recorded in the audit history.
    #[arg(long)]
    pub reason: String,
}

#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// A master ID.
    pub a: String,
    /// The other master ID (the older of the two survives).
    pub b: String,
    #[command(flatten)]
    pub signed: Signed,
}

#[derive(Debug, clap::Args)]
pub struct UnmergeArgs {
    /// The master to split.
    pub master: String,
    /// The records (`source:key`) that are a different person; they get a
    /// new master.
    #[arg(long, required = true, num_args = 1.., value_name = "REF")]
    pub records: Vec<RecordRef>,
    #[command(flatten)]
    pub signed: Signed,
}

#[derive(Debug, clap::Args)]
pub struct LinkArgs {
    /// The record (`source:key`).
    pub record: RecordRef,
    /// The master it belongs to.
    pub master: String,
    #[command(flatten)]
    pub signed: Signed,
}

#[derive(Debug, clap::Args)]
pub struct UnlinkArgs {
    /// The record (`source:key`) that is not the person its master is.
    pub record: RecordRef,
    #[command(flatten)]
    pub signed: Signed,
}

pub async fn merge(cli: &Cli, args: &MergeArgs, out: &Output) -> Result<i32> {
    let command = StewardCommand::Merge {
        a: args.a.clone(),
        b: args.b.clone(),
    };
    run(
        cli,
        command,
        "merge",
        &args.signed.by,
        Some(&args.signed.reason),
        out,
    )
    .await
}

pub async fn unmerge(cli: &Cli, args: &UnmergeArgs, out: &Output) -> Result<i32> {
    let command = StewardCommand::Unmerge {
        master: args.master.clone(),
        records: args.records.clone(),
    };
    run(
        cli,
        command,
        "unmerge",
        &args.signed.by,
        Some(&args.signed.reason),
        out,
    )
    .await
}

pub async fn link(cli: &Cli, args: &LinkArgs, out: &Output) -> Result<i32> {
    let command = StewardCommand::Link {
        record: args.record.clone(),
        master: args.master.clone(),
    };
    run(
        cli,
        command,
        "link",
        &args.signed.by,
        Some(&args.signed.reason),
        out,
    )
    .await
}

pub async fn unlink(cli: &Cli, args: &UnlinkArgs, out: &Output) -> Result<i32> {
    let command = StewardCommand::Unlink {
        record: args.record.clone(),
    };
    run(
        cli,
        command,
        "unlink",
        &args.signed.by,
        Some(&args.signed.reason),
        out,
    )
    .await
}

/// Runs one steward command as its own run (`job` names it), under the
/// index lock. A refused command (the index is not as the steward thought)
/// exits with a usage error and changes nothing.
pub async fn run(
    cli: &Cli,
    command: StewardCommand,
    job: &str,
    by: &str,
    reason: Option<&str>,
    out: &Output,
) -> Result<i32> {
    if by.trim().is_empty() {
        eprintln!("error: --by needs the steward's name");
        return Ok(exit::USAGE);
    }
    let config = context::load_config(cli)?;
    let store = context::open_store(&config).await?;
    let lock = JobLock::acquire(&store).await?;
    let run = store.begin_run(job).await?;
    let who = Steward {
        by: by.trim().to_owned(),
        reason: reason.map(str::to_owned),
        run,
    };
    let result = steward_run(
        &store,
        &command,
        &who,
        &config.settings.survivorship,
        &context::departments(&config),
        &crate::push::Targets::from_config(&config),
    )
    .await;
    let outcome = match &result {
        Ok(report) => RunOutcome {
            status: RunStatus::Succeeded,
            counts: serde_json::to_value(report).unwrap_or_default(),
            error: None,
        },
        Err(e) => RunOutcome {
            status: RunStatus::Failed,
            counts: serde_json::json!({}),
            error: Some(e.to_string()),
        },
    };
    store.finish_run(run, outcome).await?;
    lock.release(&store).await?;
    store.close().await;
    match result {
        Ok(report) => {
            out.emit(&report, || render(job, &report));
            Ok(exit::OK)
        }
        Err(StewardRunError::Store(e)) => Err(e.into()),
        Err(refused) => {
            eprintln!("error: {refused}; nothing was changed");
            Ok(exit::USAGE)
        }
    }
}

fn render(job: &str, r: &StewardReport) -> String {
    let mut text = format!("{job}: done (run {})\n", r.run);
    for (absorbed, survivor) in &r.merged {
        text.push_str(&format!("  master {absorbed} merged into {survivor}\n"));
    }
    for id in &r.created {
        text.push_str(&format!("  new master {id}\n"));
    }
    text.push_str(&format!(
        "  {} records linked by hand (kept by later runs), {} steward rules recorded\n  golden records rebuilt: {} ({} changed)\n",
        r.links, r.rules, r.golden.rebuilt, r.golden.changed
    ));
    text
}
