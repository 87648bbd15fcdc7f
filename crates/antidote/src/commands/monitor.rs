//! `antidote monitor`: the production monitor as an HTTP service.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use antidote_core::display::{human_bytes, list_some, plural};
use antidote_core::error_chain;
use antidote_monitor::canaries::CanarySet;
use antidote_monitor::http::{self, HttpConfig, Routes};
use antidote_monitor::model::ModelWatch;
use antidote_monitor::triggers::TriggerSet;
use antidote_monitor::{Monitor, MonitorError, MonitorParams};
use anyhow::Context;

use super::read_profile;
use crate::cli::MonitorArgs;
use crate::logging::LogFormat;
use crate::printer::Printer;
use crate::settings::Settings;
use crate::{ExitStatus, UserError};

/// Runs the monitor until SIGTERM or Ctrl-C.
#[expect(
    clippy::too_many_lines,
    reason = "one story: read the inputs, open the store, say what is served, serve"
)]
pub fn monitor(
    args: &MonitorArgs,
    _settings: &Settings,
    printer: Printer,
) -> anyhow::Result<ExitStatus> {
    let say = Say {
        printer,
        json: args.log_format == LogFormat::Json,
    };
    let params = params(args)?;
    let baseline = read_profile(&args.baseline)?;
    let triggers = match &args.triggers {
        Some(path) => TriggerSet::read(path).map_err(|error| {
            UserError::new(
                error_chain(&error),
                "`--triggers` takes the `summary.json` that `antidote scan --out DIR` writes",
            )
        })?,
        None => TriggerSet::default(),
    };
    for trigger in triggers.unmatchable() {
        say.warn(&format!(
            "{} cannot be matched in prediction events (they carry no image); it is not counted",
            trigger.describe()
        ));
    }
    let canaries = read_canaries(args.canaries.as_deref())?;
    let token = args.token_file.as_deref().map(read_token).transpose()?;
    let with_canaries = canaries.len();
    let monitor = Monitor::open(&args.store, &baseline, triggers, canaries, params).map_err(|error| {
        match error {
            MonitorError::UnlabelledBaseline => UserError::new(
                format!(
                    "the baseline `{}` has no labels to compare predictions with",
                    args.baseline.display()
                ),
                "profile the training data with its label column: `antidote profile DATA --label COLUMN -o profile.json`",
            )
            .into(),
            error => anyhow::Error::new(error),
        }
    })?;
    let monitor = Arc::new(monitor);
    let listener = bind(args.listen, "--listen")?;
    let metrics_listener = args
        .metrics_listen
        .map(|address| bind(address, "--metrics-listen"))
        .transpose()?;
    let model = model_watch(args, &baseline, printer)?;
    let config = HttpConfig {
        token,
        max_body_bytes: usize::try_from(args.max_body.0).unwrap_or(usize::MAX),
        model,
        ..HttpConfig::default()
    };
    let address = listener.local_addr()?;
    let (app, metrics_app) = match &metrics_listener {
        Some(_) => (
            http::router(Arc::clone(&monitor), config.clone(), Routes::Events),
            Some(http::router(
                Arc::clone(&monitor),
                config.clone(),
                Routes::Metrics,
            )),
        ),
        None => (
            http::router(Arc::clone(&monitor), config.clone(), Routes::All),
            None,
        ),
    };
    say.note(&format!(
        "antidote monitor: listening on http://{address} (POST /v1/events{}, GET /healthz)",
        if metrics_listener.is_none() {
            ", GET /metrics"
        } else {
            ""
        }
    ));
    if let Some(metrics_listener) = &metrics_listener {
        say.note(&format!(
            "antidote monitor: metrics on http://{}/metrics",
            metrics_listener.local_addr()?
        ));
    }
    let columns: Vec<String> = monitor
        .input_baseline()
        .columns()
        .into_iter()
        .map(str::to_owned)
        .collect();
    say.note(&format!(
        "antidote monitor: inputs compared with {}",
        if columns.is_empty() {
            "no column (the baseline has no numeric feature or vector column)".to_owned()
        } else {
            format!(
                "{}: {}",
                plural(columns.len() as u64, "baseline column"),
                list_some(&columns, 8)
            )
        }
    ));
    say.note(&format!(
        "antidote monitor: store `{}` has stored {}{}; windows of {}; {}; {}; bodies up to {}",
        args.store.display(),
        plural(monitor.stored(), "event"),
        if args.retain == 0 {
            String::new()
        } else {
            format!(" (keeps the latest {})", plural(args.retain, "event"))
        },
        plural(args.window as u64, "event"),
        if with_canaries == 0 {
            "no canaries".to_owned()
        } else {
            format!(
                "{} recognised",
                plural(with_canaries as u64, "canary record")
            )
        },
        if config.token.is_some() {
            "bearer token required"
        } else {
            "no token required (pass `--token-file` to require one)"
        },
        human_bytes(args.max_body.0)
    ));

    serve(listener, app, metrics_listener.zip(metrics_app))?;
    say.note(&format!(
        "antidote monitor: stopped; the store holds {}",
        plural(monitor.stored(), "event")
    ));
    Ok(ExitStatus::Success)
}

/// Serves until SIGTERM or Ctrl-C, then lets the requests in flight finish.
fn serve(
    listener: std::net::TcpListener,
    app: axum::Router,
    metrics: Option<(std::net::TcpListener, axum::Router)>,
) -> anyhow::Result<()> {
    // Batches are stored one at a time (the store's lock) and scrapes one at a time (the
    // reader's), so four blocking threads serve every request; tokio's default allows 512, each
    // idle thread holding on to its malloc arena.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(4)
        .enable_all()
        .build()
        .context("failed to start the async runtime")?;
    runtime.block_on(async move {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let until_stopped = |mut stopped: tokio::sync::watch::Receiver<bool>| async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        };
        let events = tokio::spawn(
            axum::serve(tokio::net::TcpListener::from_std(listener)?, app)
                .with_graceful_shutdown(until_stopped(stopped.clone()))
                .into_future(),
        );
        let metrics = match metrics {
            Some((listener, app)) => Some(tokio::spawn(
                axum::serve(tokio::net::TcpListener::from_std(listener)?, app)
                    .with_graceful_shutdown(until_stopped(stopped.clone()))
                    .into_future(),
            )),
            None => None,
        };
        shutdown_signal().await;
        tracing::debug!(
            kind = "service",
            "stopping: finishing the requests in flight"
        );
        let _ = stop.send(true);
        events.await.context("the event server failed")??;
        if let Some(metrics) = metrics {
            metrics.await.context("the metrics server failed")??;
        }
        anyhow::Ok(())
    })
}

/// The window and alert settings, checked.
fn params(args: &MonitorArgs) -> anyhow::Result<MonitorParams> {
    if args.window == 0 {
        return Err(UserError::new(
            "`--window` must be at least 1",
            "windows of 1000 events (the default) suit most services",
        )
        .into());
    }
    if args.baseline_windows < 3 {
        return Err(UserError::new(
            format!(
                "`--baseline-windows {}` is too few for a standard deviation",
                args.baseline_windows
            ),
            "3-sigma alerts need at least 3 windows before the current one; the default is 10",
        )
        .into());
    }
    if !(0.0..=1.0).contains(&args.max_trigger_ratio) {
        return Err(UserError::new(
            format!(
                "`--max-trigger-ratio {}` is not a share between 0 and 1",
                args.max_trigger_ratio
            ),
            "pass a share such as `0.01` (1% of the window's inputs)",
        )
        .into());
    }
    Ok(MonitorParams {
        window: args.window,
        baseline_windows: args.baseline_windows,
        max_trigger_ratio: args.max_trigger_ratio,
        retain: (args.retain > 0).then_some(args.retain),
        ..MonitorParams::default()
    })
}

/// The service's own messages: for a person, or through `tracing` as JSON lines with
/// `--log-format json`, so that every line on stderr is one object.
#[derive(Clone, Copy)]
struct Say {
    printer: Printer,
    json: bool,
}

impl Say {
    fn note(self, text: &str) {
        if self.json {
            tracing::info!(kind = "service", "{text}");
        } else {
            self.printer.note(text);
        }
    }

    fn warn(self, text: &str) {
        if self.json {
            tracing::warn!(kind = "service", "{text}");
        } else {
            self.printer.warn(text);
        }
    }
}

/// The canaries of the manifest, checked against its key; none without a manifest. The key
/// stays in the set: errors name the file, never its content.
fn read_canaries(path: Option<&Path>) -> anyhow::Result<CanarySet> {
    let Some(path) = path else {
        return Ok(CanarySet::default());
    };
    CanarySet::read(path).map_err(|error| {
        UserError::new(
            error_chain(&error),
            "`--canaries` takes the secret manifest `antidote canary plant` writes (`--manifest`)",
        )
        .into()
    })
}

/// The bearer token: the file's content without surrounding whitespace.
fn read_token(path: &Path) -> anyhow::Result<String> {
    let text = fs_err::read_to_string(path).map_err(|error| {
        UserError::new(
            format!("cannot read the token file: {error}"),
            "write the token into a file readable only by the service: `openssl rand -hex 32 > token && chmod 600 token`",
        )
    })?;
    let token = text.trim();
    if token.is_empty() || token.contains(char::is_whitespace) {
        return Err(UserError::new(
            format!("the token file `{}` holds no single token", path.display()),
            "write one token without spaces: `openssl rand -hex 32 > token`",
        )
        .into());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(metadata) = fs_err::metadata(path)
            && metadata.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(
                kind = "service",
                "the token file `{}` is readable by other users; `chmod 600` it",
                path.display()
            );
        }
    }
    Ok(token.to_owned())
}

/// Binds before the runtime starts, so that a taken port is a clear error.
fn bind(address: SocketAddr, flag: &str) -> anyhow::Result<std::net::TcpListener> {
    let listener = std::net::TcpListener::bind(address).map_err(|error| {
        UserError::new(
            format!("cannot listen on `{address}`: {error}"),
            format!(
                "is another service on that port? pass another `{flag}`, or port 0 for a free one"
            ),
        )
    })?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}

/// The deployed model of `--model`, with its canary prober started.
fn model_watch(
    args: &MonitorArgs,
    baseline: &antidote_validate::profile::Profile,
    printer: Printer,
) -> anyhow::Result<Option<Arc<ModelWatch>>> {
    let Some(location) = &args.model else {
        return Ok(None);
    };
    if !(args.probe_every.is_finite() && args.probe_every > 0.0) {
        return Err(UserError::new(
            format!(
                "`--probe-every {}` is not a number of seconds",
                args.probe_every
            ),
            "give a positive number of seconds, such as `--probe-every 60`",
        )
        .into());
    }
    let manifest = args
        .canaries
        .as_deref()
        .map(antidote_canary::Manifest::read)
        .transpose()
        .map_err(|error| {
            UserError::new(
                error_chain(&error),
                "`--canaries` takes the secret manifest `antidote canary plant` writes (`--manifest`)",
            )
        })?;
    // An ONNX model's output `i` is the `i`-th class of the baseline, in antidote's order.
    let labels: Vec<String> = baseline.label_shares().into_keys().collect();
    let classes = antidote_learn::LabelIndex::from_labels(&labels)
        .labels()
        .to_vec();
    let options = antidote_gate::HttpOptions {
        ca_cert: args.ca_cert.clone(),
        ..antidote_gate::HttpOptions::default()
    };
    let predictor = antidote_gate::open_shared(location, &classes, &options).map_err(|error| {
        UserError::new(
            error_chain(&error),
            "`--model` takes a model folder of `antidote train`, an ONNX file or an `http(s)://` endpoint, as `antidote gate` does",
        )
    })?;
    let watch = Arc::new(ModelWatch::new(
        predictor,
        manifest,
        antidote_monitor::model::DEFAULT_PROBE_ALPHA,
    ));
    printer.note(&format!(
        "antidote monitor: model `{}` predicts events without a prediction{}",
        watch.name(),
        if watch.canaries() == 0 {
            String::new()
        } else {
            format!(
                "; {} probed every {}s",
                plural(watch.canaries() as u64, "canary input"),
                args.probe_every
            )
        }
    ));
    // The prober runs for as long as the process: its thread is never joined.
    let _prober = watch.spawn_prober(std::time::Duration::from_secs_f64(args.probe_every));
    Ok(Some(watch))
}
