//! `yici demo`: write the sample district and run everything built so far on
//! it, over the embedded default store. The README's first command.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use serde::Serialize;

use super::{context, district, exit, pull, push, reconcile, Cli, Output};
use crate::config::connector::HttpAuth;
use crate::config::{Config, Connector, Department as ConnectorDepartment, Location, Secret};
use crate::demo::hr_gateway::{self, GatewayAuth, GatewayHandle};
use crate::demo::{DemoOptions, DemoSummary, Department};
use crate::matching::eval::{pairwise, Metrics, Truth};
use crate::stop::StopRequest;
use crate::store::Store;
use crate::store::{redact_url, StoreSummary};
use crate::sync::pull::{PullOptions, PullReport};

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// How many people live in the district [default: demo.persons in config/yici.toml].
    #[arg(long)]
    pub persons: Option<usize>,
    /// Seed for the generator; the same seed gives the same files [default: demo.seed].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Only serve the written sample's HR API, on the HR connector's own
    /// address (127.0.0.1:18080 by default), until SIGINT or SIGTERM: the
    /// department system `yici run` pulls when it runs the sample district.
    #[arg(long, conflicts_with_all = ["persons", "seed"])]
    pub serve_hr: bool,
}

#[derive(Debug, Serialize)]
struct DemoReport {
    sample: DemoSummary,
    store: String,
    pull_run_id: i64,
    pulls: Vec<PullReport>,
    resolve: reconcile::ReconcileReport,
    /// What each department received from the golden records.
    delivered: crate::push::deliver::DeliveryReport,
    staged: StoreSummary,
    /// What a district office wants to know.
    district: district::DistrictSummary,
    /// The resolution scored against the sample's `truth.csv`.
    accuracy: Metrics,
    seconds: f64,
}

pub async fn run(cli: &Cli, args: &DemoArgs, out: &Output) -> Result<i32> {
    let started = Instant::now();
    let (config, standardizers) = context::load_with_standardizers(cli)?;
    if args.serve_hr {
        return serve_hr(&config).await;
    }
    let settings = &config.settings;
    let options = DemoOptions {
        persons: args.persons.unwrap_or(settings.demo_persons),
        seed: args.seed.unwrap_or(settings.demo_seed),
    };
    tracing::info!(persons = options.persons, seed = options.seed, dir = %settings.demo_dir.display(), "Writing the sample district.");
    let sample = crate::demo::write_sample_district(&settings.demo_dir, &options)
        .await
        .context("writing the sample district")?;

    // The sample's HR system is a REST API: serve its pages on a free
    // loopback port for the length of the demo, and point the connector there.
    let mut connectors: Vec<Connector> = config
        .connectors
        .values()
        .filter(|c| c.enabled)
        .cloned()
        .collect();
    let mut gateways: Vec<GatewayHandle> = Vec::new();
    for connector in connectors.iter_mut() {
        if connector.department == ConnectorDepartment::Hr {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .context("binding a loopback port for the sample HR API")?;
            if let Some(gateway) = serve_sample_api(connector, &settings.demo_dir, listener).await?
            {
                gateways.push(gateway);
            }
        }
    }

    let store = context::open_store(&config).await?;
    let selected: Vec<&Connector> = connectors.iter().collect();
    let (run_id, pulls) = pull::pull_all(
        &store,
        &selected,
        &standardizers,
        PullOptions::default(),
        cli,
        out,
    )
    .await?;
    for gateway in gateways {
        gateway.stop().await.context("stopping the sample HR API")?;
    }
    let resolve = reconcile::reconcile(&config, &store, false, &StopRequest::default()).await?;
    let delivered = push::push(&config, &store, &[], &StopRequest::default()).await?;
    let staged = store.summary().await?;
    let district = district::summarize(&config, &store).await?;
    let accuracy = score_against_truth(&store, &sample.truth).await?;
    store.close().await;

    let failed = pulls.iter().any(|p| p.error.is_some());
    let report = DemoReport {
        sample,
        store: redact_url(&settings.store_url),
        pull_run_id: run_id.0,
        pulls,
        resolve,
        delivered,
        staged,
        district,
        accuracy,
        seconds: started.elapsed().as_secs_f64(),
    };
    out.emit(&report, || human(&config, &report));
    Ok(if failed { exit::PARTIAL } else { exit::OK })
}

/// Pairwise precision, recall and F1 of the store's links against the
/// sample's ground truth.
async fn score_against_truth(store: &Store, truth: &Path) -> Result<Metrics> {
    let truth = Truth::load(truth)?;
    let (mut masters, mut persons) = (Vec::new(), Vec::new());
    let mut after = 0;
    loop {
        let page = store.record_links(after, 50_000).await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for r in page {
            persons.push(truth.person(&r.source, &r.source_key).map(str::to_owned));
            masters.push(
                r.master_id
                    .unwrap_or_else(|| format!("unresolved:{}", r.id)),
            );
        }
    }
    Ok(pairwise(&masters, &persons))
}

/// Starts the sample district's HR gateway for an HTTP connector on
/// `listener`, with the connector's own key and secret, and rewrites the
/// connector's URL to it.
async fn serve_sample_api(
    connector: &mut Connector,
    sample_dir: &Path,
    listener: tokio::net::TcpListener,
) -> Result<Option<GatewayHandle>> {
    let Location::Http { url, auth, .. } = &mut connector.location else {
        return Ok(None);
    };
    let gateway_auth = match auth {
        HttpAuth::HmacSha256 { app_key, secret } => GatewayAuth::HmacSha256 {
            app_key: app_key.clone(),
            secret: Secret::new(secret.expose().to_string()),
        },
        _ => GatewayAuth::None,
    };
    let gateway = hr_gateway::serve(listener, &sample_dir.join("hr/pages"), gateway_auth)
        .await
        .context("starting the sample HR API")?;
    *url = gateway.url();
    Ok(Some(gateway))
}

/// `yici demo --serve-hr`: the sample HR API on the enabled HR connector's
/// address until SIGINT or SIGTERM.
async fn serve_hr(config: &Config) -> Result<i32> {
    let Some(connector) = config
        .connectors
        .values()
        .find(|c| c.enabled && c.department == ConnectorDepartment::Hr)
    else {
        anyhow::bail!("no enabled HR connector to serve the sample API for");
    };
    let Location::Http { url, .. } = &connector.location else {
        anyhow::bail!("connector `{}` is not an HTTP source", connector.name);
    };
    let parsed = reqwest::Url::parse(url)
        .with_context(|| format!("connector `{}`: url is not a URL", connector.name))?;
    let host = parsed.host_str().unwrap_or("127.0.0.1").to_owned();
    let port = parsed.port_or_known_default().unwrap_or(80);
    let listener = tokio::net::TcpListener::bind((host.as_str(), port))
        .await
        .with_context(|| format!("listening on {host}:{port} for the sample HR API"))?;
    let mut connector = connector.clone();
    let Some(gateway) =
        serve_sample_api(&mut connector, &config.settings.demo_dir, listener).await?
    else {
        unreachable!("an HTTP connector");
    };
    tracing::info!(url = %gateway.url(), records = gateway.records(), "serving the sample HR API until SIGINT or SIGTERM");
    super::interrupt::StopSignals::new()?.recv().await;
    gateway.stop().await.context("stopping the sample HR API")?;
    Ok(exit::OK)
}

fn human(config: &Config, report: &DemoReport) -> String {
    let s = &report.sample;
    let shown = |p: &Path| {
        p.strip_prefix(&config.root)
            .unwrap_or(p)
            .display()
            .to_string()
    };
    let mut text = format!(
        "Sample district 样例辖区: {} persons in {} households (seed {}), {} migrants, {} twin pairs → {}\n",
        s.persons,
        s.households,
        s.seed,
        s.population.migrants,
        s.population.twin_pairs,
        shown(&s.dir)
    );
    for source in &s.sources {
        let files = match (source.department, source.files.as_slice()) {
            (Department::Hr, [first, ..]) => format!(
                "{} ({} pages)",
                first.parent().map(&shown).unwrap_or_default(),
                source.files.len()
            ),
            (_, [first, ..]) => shown(first),
            (_, []) => String::new(),
        };
        text.push_str(&format!(
            "  {} {:<14} {:>8} records ({} registered twice)  {}\n",
            source.department.label(),
            source.department.as_str(),
            source.records,
            source.duplicates,
            files
        ));
    }
    text.push_str(&format!("\nPulled into {}:\n", report.store));
    text.push_str(&pull::render(&report.pulls));
    let staged: u64 = report.pulls.iter().map(PullReport::staged).sum();
    let quarantined: u64 = report.pulls.iter().map(|p| p.quarantined).sum();
    let pulled: u64 = report.pulls.iter().map(|p| p.pulled).sum();
    text.push_str(&format!(
        "\n{pulled} records pulled = {staged} staged + {quarantined} quarantined (`yici quarantine` lists why).\n",
    ));
    let r = &report.resolve;
    let a = &report.accuracy;
    text.push_str(&format!(
        "\nResolved: {} residents found in {} records (the sample has {} persons); \
         {} pairs await a steward's review.\n\
         Against the sample's truth: pairwise precision {:.4}, recall {:.4}, F1 {:.4} \
         ({} false merges, {} missed links; `yici eval --truth {}` for causes).\n\
         Resolution took {:.1}s; {} golden records built in {:.1}s \
         (`yici show IDNUMBER` shows one with where each value came from).\n",
        report.staged.masters,
        r.resolve.records,
        s.persons,
        report.staged.pending_reviews,
        a.precision,
        a.recall,
        a.f1,
        a.false_positives,
        a.false_negatives,
        shown(&s.truth),
        r.resolve.timings.total,
        r.golden.changed,
        r.golden.seconds,
    ));
    text.push_str("\nEntered once, delivered to each department (`yici push --dry-run` shows what is pending):\n");
    text.push_str(&push::render_delivery(&report.delivered));
    text.push('\n');
    text.push_str(&district::render(&report.district));
    text.push_str(&format!("\nDone in {:.1}s.\n", report.seconds));
    text
}
