//! The `yici` command line: argument parsing, logging set-up, dispatch to one
//! module per subcommand, and exit codes.

mod blocking;
mod check;
mod conflicts;
mod context;
mod demo;
mod district;
mod endpoints;
mod eval;
mod explain;
mod export;
mod history;
mod interrupt;
mod lock;
mod logging;
mod output;
mod pull;
mod push;
mod quarantine;
mod reconcile;
mod resident;
mod restage;
mod review;
mod run;
mod search;
mod show;
mod status;
mod steward;
mod sync;
mod train;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

pub use output::Output;

/// Exit codes, documented in `yici --help` and README.
pub mod exit {
    /// Everything asked for was done.
    pub const OK: i32 = 0;
    /// A run failed (store unreachable, I/O error, …); details on stderr.
    pub const FAILURE: i32 = 1;
    /// The command line itself was wrong.
    pub const USAGE: i32 = 2;
    /// The configuration is invalid; every problem is listed with file, line and key.
    pub const CONFIG: i32 = 3;
    /// Some sources failed while the others completed (see the per-source report).
    pub const PARTIAL: i32 = 4;
    /// Stopped by Ctrl-C at a commit point (or at once, on a second Ctrl-C);
    /// the next run goes on from there.
    pub const INTERRUPTED: i32 = 130;

    /// The code of a command that Ctrl-C may have cut short (`interrupted`)
    /// or whose sources may have partly failed (`partial`).
    pub fn of(interrupted: bool, partial: bool) -> i32 {
        if interrupted {
            INTERRUPTED
        } else if partial {
            PARTIAL
        } else {
            OK
        }
    }
}

const AFTER_HELP: &str = "\
Configuration root: a folder holding config/yici.toml, connectors/*.toml and
mappings/*.toml (--config, env YICI_CONFIG_DIR, default: the current folder).
Secrets are written as ${VAR} and come from the environment, VAR_FILE or a
systemd credential named VAR, never from the files themselves.

Exit codes:
  0  success
  1  a run failed (store unreachable, I/O error, …)
  2  usage error
  3  configuration invalid (each problem printed with file, line and key)
  4  partial: some sources failed, the others completed
  130  interrupted (Ctrl-C): stopped at a commit point; the next run goes on

Identity numbers and phones are masked in all output.";

/// yici (一次): enter a resident's data once; every department system sees it.
///
/// Pulls resident records from civil affairs, health, human resources and
/// governance systems, standardizes them, resolves who is who into a master
/// index and pushes back what each system is missing.
#[derive(Debug, Parser)]
#[command(name = "yici", version, after_help = AFTER_HELP, max_term_width = 100)]
pub struct Cli {
    /// Configuration root (holds config/, connectors/, mappings/).
    #[arg(
        long = "config",
        global = true,
        env = "YICI_CONFIG_DIR",
        default_value = ".",
        value_name = "DIR"
    )]
    pub config_dir: PathBuf,

    /// Machine-readable JSON on stdout instead of the human summary.
    #[arg(long, global = true)]
    pub json: bool,

    /// More log output (-v debug, -vv trace). Logs go to stderr.
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,

    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// Log lines as `human` text or `json`; `auto`: JSON under systemd's
    /// journal, text otherwise.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "auto",
        env = "YICI_LOG_FORMAT"
    )]
    pub log_format: logging::LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate all configuration; with --connect also reach every source.
    Check(check::CheckArgs),
    /// Fetch, standardize and stage records from department systems.
    Pull(pull::PullArgs),
    /// List records that could not be used, with the reasons (numbers masked).
    Quarantine(quarantine::QuarantineArgs),
    /// Re-standardize stored records after a mapping change, without pulling.
    Restage(restage::RestageArgs),
    /// Resolve staged records into the master index (incremental; --full re-resolves all).
    Reconcile(reconcile::ReconcileArgs),
    /// Estimate the match model (m and u per comparison level) from the staged records.
    Train(train::TrainArgs),
    /// Show the candidate pairs each blocking rule produces and the largest blocks.
    Blocking(blocking::BlockingArgs),
    /// Explain the match weight between two records or masters, term by term.
    Explain(explain::ExplainArgs),
    /// Score the resolution against a ground truth (pairwise precision, recall, F1).
    Eval(eval::EvalArgs),
    /// Export results: `links` (source, key, master per record), `residents` (golden records).
    Export(export::ExportArgs),
    /// Write the synthetic sample district, serve its HR API, pull all four sources and resolve.
    Demo(demo::DemoArgs),
    /// The data steward's queue of uncertain pairs: list, show, accept, reject.
    Review(review::ReviewArgs),
    /// Merge two masters into one (the older ID survives); sticky.
    Merge(steward::MergeArgs),
    /// Split records off a master into a new master; sticky.
    Unmerge(steward::UnmergeArgs),
    /// Link a record to a master by hand; sticky.
    Link(steward::LinkArgs),
    /// Take a record out of its master into a master of its own; sticky.
    Unlink(steward::UnlinkArgs),
    /// One resident: golden record with provenance, linked records, conflicts, reviews.
    Show(show::ShowArgs),
    /// Find residents by name (variant and pinyin aware), birth, phone or identity number.
    Search(search::SearchArgs),
    /// A resident's whole story: links, merges, splits, golden versions, decisions.
    History(history::HistoryArgs),
    /// Residents whose records contradict each other, with the values and sources.
    Conflicts(conflicts::ConflictsArgs),
    /// Deliver golden values to each department (--dry-run: show the plan, write nothing).
    Push(push::PushArgs),
    /// Push-back deliveries: list them, or retry the parked ones.
    Outbox(push::OutboxArgs),
    /// One whole cycle: pull every source, resolve, golden records, deliver.
    Sync(sync::SyncArgs),
    /// The last run of every job, the next scheduled runs, and what is waiting.
    Status(status::StatusArgs),
    /// Run history (--failed: only failed or interrupted runs).
    Runs(status::RunsArgs),
    /// The daemon: run scheduled jobs, serve /healthz, /readyz and /metrics.
    Run(run::RunArgs),
}

/// Parses the command line, runs it and returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
        }
    };
    logging::init(cli.verbose, cli.quiet, cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return exit::FAILURE;
        }
    };
    let out = Output::new(cli.json);
    let result = runtime.block_on(async {
        match &cli.command {
            Command::Check(args) => check::run(&cli, args, &out).await,
            Command::Pull(args) => pull::run(&cli, args, &out).await,
            Command::Quarantine(args) => quarantine::run(&cli, args, &out).await,
            Command::Restage(args) => restage::run(&cli, args, &out).await,
            Command::Reconcile(args) => reconcile::run(&cli, args, &out).await,
            Command::Train(args) => train::run(&cli, args, &out).await,
            Command::Blocking(args) => blocking::run(&cli, args, &out).await,
            Command::Explain(args) => explain::run(&cli, args, &out).await,
            Command::Eval(args) => eval::run(&cli, args, &out).await,
            Command::Export(args) => export::run(&cli, args, &out).await,
            Command::Demo(args) => demo::run(&cli, args, &out).await,
            Command::Review(args) => review::run(&cli, args, &out).await,
            Command::Merge(args) => steward::merge(&cli, args, &out).await,
            Command::Unmerge(args) => steward::unmerge(&cli, args, &out).await,
            Command::Link(args) => steward::link(&cli, args, &out).await,
            Command::Unlink(args) => steward::unlink(&cli, args, &out).await,
            Command::Show(args) => show::run(&cli, args, &out).await,
            Command::Search(args) => search::run(&cli, args, &out).await,
            Command::History(args) => history::run(&cli, args, &out).await,
            Command::Conflicts(args) => conflicts::run(&cli, args, &out).await,
            Command::Push(args) => push::run(&cli, args, &out).await,
            Command::Outbox(args) => push::outbox(&cli, args, &out).await,
            Command::Sync(args) => sync::run(&cli, args, &out).await,
            Command::Status(args) => status::status(&cli, args, &out).await,
            Command::Runs(args) => status::runs(&cli, args, &out).await,
            Command::Run(args) => run::run(&cli, args, &out).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(error) => {
            // A command that could not start has printed why already.
            if let Some(context::Exit(code)) = error.downcast_ref::<context::Exit>() {
                return *code;
            }
            eprintln!("error: {error}");
            for cause in error.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            exit::FAILURE
        }
    }
}
