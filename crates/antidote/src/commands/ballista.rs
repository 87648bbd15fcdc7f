//! `antidote ballista`: a Ballista scheduler or executor that knows antidote's functions, for
//! `lock`, `verify`, `profile` and `check --engine ballista`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::ExitStatus;
use crate::printer::Printer;

/// The long help of `antidote ballista`.
pub const BALLISTA_ABOUT: &str = "Run a Ballista scheduler or executor that knows antidote's \
functions.

`--engine ballista --scheduler HOST:PORT` sends the plans of `lock`, `verify`, `profile` and \
`check` to a Ballista cluster. Ballista names a plan's functions, so the scheduler and every \
executor must have antidote's functions (the record set hash and the profile) built in: run them \
with this command, not with Ballista's own binaries. Start one scheduler, then executors on \
every machine; each runs until it is stopped (Ctrl-C).

The executors read each table's files by the path the client gives: every executor must see the \
same files at the same paths (one machine, or a shared file system). The cluster's ports carry \
no authentication: keep them on a trusted network.

This command needs an antidote built with the `ballista` feature \
(`cargo install --path crates/antidote --features ballista`).";

/// The examples of `antidote ballista`.
pub const BALLISTA_EXAMPLES: &str = "Examples:
  antidote ballista scheduler --bind 0.0.0.0:50050 --external-host head
  antidote ballista executor --scheduler head:50050 --bind-host 0.0.0.0 --external-host worker1
  antidote ballista executor --scheduler 127.0.0.1:50050 --port 50061 --grpc-port 50062 --slots 1
  antidote lock --engine ballista --scheduler head:50050 /shared/events/";

/// `antidote ballista`.
#[derive(Debug, Args)]
pub struct BallistaArgs {
    #[command(subcommand)]
    pub command: BallistaCommand,
}

/// The processes of a cluster.
#[derive(Debug, Subcommand)]
pub enum BallistaCommand {
    /// Run the scheduler: it plans the queries and hands their tasks to executors
    Scheduler(SchedulerArgs),
    /// Run an executor: it runs tasks and serves their results
    Executor(ExecutorArgs),
}

/// `antidote ballista scheduler`.
#[derive(Debug, Args)]
pub struct SchedulerArgs {
    /// The address to listen on (clients and executors connect to it)
    #[arg(long, default_value = "127.0.0.1:50050", value_name = "HOST:PORT")]
    pub bind: SocketAddr,

    /// The name executors and clients reach this machine by
    #[arg(long, default_value = "localhost", value_name = "HOST")]
    pub external_host: String,
}

/// `antidote ballista executor`.
#[derive(Debug, Args)]
pub struct ExecutorArgs {
    /// The scheduler to join
    #[arg(long, default_value = "127.0.0.1:50050", value_name = "HOST:PORT")]
    pub scheduler: String,

    /// The host to listen on
    #[arg(long, default_value = "127.0.0.1", value_name = "HOST")]
    pub bind_host: String,

    /// The name the scheduler and the other executors reach this one by (default: the bind
    /// host; needed when the bind host is 0.0.0.0 or ::)
    #[arg(long, value_name = "HOST")]
    pub external_host: Option<String>,

    /// The Arrow Flight port, from which results are fetched
    #[arg(long, default_value_t = 50051, value_name = "PORT")]
    pub port: u16,

    /// The gRPC port, to which the scheduler sends tasks
    #[arg(long, default_value_t = 50052, value_name = "PORT")]
    pub grpc_port: u16,

    /// Tasks to run at once (default: every core)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub slots: Option<u64>,

    /// Where intermediate (shuffle) files go (default: a temporary folder)
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
}

/// Runs `antidote ballista`.
pub fn ballista(args: &BallistaArgs, printer: Printer) -> anyhow::Result<ExitStatus> {
    imp::ballista(args, printer)
}

#[cfg(feature = "ballista")]
mod imp {
    use anyhow::Context;

    use antidote_datafusion::ballista_cluster::{ExecutorSettings, run_executor, run_scheduler};

    use super::{BallistaArgs, BallistaCommand};
    use crate::printer::Printer;
    use crate::{ExitStatus, UserError};

    /// Splits `HOST:PORT`.
    fn host_port(text: &str) -> anyhow::Result<(String, u16)> {
        let invalid = || {
            UserError::new(
                format!("`{text}` is not a scheduler address"),
                "give it as HOST:PORT, such as 127.0.0.1:50050",
            )
        };
        let (host, port) = text.rsplit_once(':').ok_or_else(invalid)?;
        let port = port.parse().map_err(|_| invalid())?;
        if host.is_empty() {
            return Err(invalid().into());
        }
        Ok((host.trim_matches(['[', ']']).to_owned(), port))
    }

    pub(super) fn ballista(args: &BallistaArgs, printer: Printer) -> anyhow::Result<ExitStatus> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("failed to start the runtime")?;
        match &args.command {
            BallistaCommand::Scheduler(scheduler) => {
                printer.note(&format!(
                    "Ballista scheduler with antidote's functions listening on {}",
                    scheduler.bind
                ));
                runtime
                    .block_on(run_scheduler(scheduler.bind, &scheduler.external_host))
                    .with_context(|| format!("the scheduler on {} stopped", scheduler.bind))?;
            }
            BallistaCommand::Executor(executor) => {
                let (scheduler_host, scheduler_port) = host_port(&executor.scheduler)?;
                let unspecified = executor
                    .bind_host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|address| address.is_unspecified());
                if unspecified && executor.external_host.is_none() {
                    return Err(UserError::new(
                        format!(
                            "an executor listening on `{}` needs the name others reach it by",
                            executor.bind_host
                        ),
                        "give it with `--external-host HOST` (this machine's name or address)",
                    )
                    .into());
                }
                printer.note(&format!(
                    "Ballista executor with antidote's functions on {}:{} (tasks on port {}), \
                     joining the scheduler {}",
                    executor.bind_host, executor.port, executor.grpc_port, executor.scheduler
                ));
                let settings = ExecutorSettings {
                    scheduler_host,
                    scheduler_port,
                    bind_host: executor.bind_host.clone(),
                    external_host: executor.external_host.clone(),
                    port: executor.port,
                    grpc_port: executor.grpc_port,
                    slots: executor.slots.map(|slots| slots as usize),
                    work_dir: executor.work_dir.clone(),
                };
                runtime.block_on(run_executor(settings)).with_context(|| {
                    format!(
                        "the executor on {}:{} stopped",
                        executor.bind_host, executor.port
                    )
                })?;
            }
        }
        Ok(ExitStatus::Success)
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn scheduler_addresses_are_host_and_port() {
            assert_eq!(
                super::host_port("head:50050").expect("valid"),
                ("head".to_owned(), 50050)
            );
            assert_eq!(
                super::host_port("[::1]:7").expect("valid"),
                ("::1".to_owned(), 7)
            );
            for invalid in ["head", ":50050", "head:port", "head:70000"] {
                assert!(super::host_port(invalid).is_err(), "{invalid}");
            }
        }
    }
}

#[cfg(not(feature = "ballista"))]
mod imp {
    use super::BallistaArgs;
    use crate::printer::Printer;
    use crate::{ExitStatus, UserError};

    #[allow(clippy::unnecessary_wraps)]
    pub(super) fn ballista(_args: &BallistaArgs, _printer: Printer) -> anyhow::Result<ExitStatus> {
        Err(UserError::new(
            "this antidote was built without Ballista",
            "build it with `cargo install --path crates/antidote --features ballista`",
        )
        .into())
    }
}
