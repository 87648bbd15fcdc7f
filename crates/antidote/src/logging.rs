//! Diagnostics through `tracing`: warnings by default, `-v` debug, `-vv` trace, `RUST_LOG` wins.
//! Warnings read like the rest of antidote's messages (`warning: ...`). A service can log JSON
//! instead ([`LogFormat::Json`], `antidote monitor --log-format json`): one object a line, with
//! `timestamp`, `level`, `target`, `message` and the event's fields, at `info` by default.

use std::fmt;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::cli::GlobalArgs;

/// `warning: message` for warnings, `LEVEL target: message` for debugging output.
struct Plain {
    targets: bool,
}

impl<S, N> FormatEvent<S, N> for Plain
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        context: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let metadata = event.metadata();
        match *metadata.level() {
            Level::ERROR => write!(writer, "error: ")?,
            Level::WARN => write!(writer, "warning: ")?,
            level if self.targets => write!(writer, "{level} {}: ", metadata.target())?,
            level => write!(writer, "{level}: ")?,
        }
        context
            .field_format()
            .format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

/// How diagnostics are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Lines for a person: `warning: ...`.
    #[default]
    Text,
    /// One JSON object a line, for log collectors.
    Json,
}

/// Installs the subscriber that writes diagnostics to stderr.
pub fn init(global: &GlobalArgs, format: LogFormat) {
    let default = match (global.quiet, global.verbose, format) {
        (true, _, _) => "error",
        (false, 0, LogFormat::Text) => "warn",
        (false, 0, LogFormat::Json) => "antidote=info,antidote_monitor=info,warn",
        (false, 1, _) => {
            "antidote=debug,antidote_data=debug,antidote_provenance=debug,antidote_monitor=debug,warn"
        }
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    if format == LogFormat::Json {
        let _ = tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .try_init();
        return;
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .event_format(Plain {
            targets: global.verbose > 0,
        })
        .try_init();
}
