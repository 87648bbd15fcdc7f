//! antidote on a Ballista cluster: the client context that sends antidote's plans to a
//! scheduler, and the scheduler and executor processes that know antidote's functions.
//!
//! Ballista sends a plan's functions by name, so the scheduler (which plans) and every
//! executor (which runs the plan's tasks) must have [`Aggregate`]s registered under the same
//! names: a stock Ballista executor fails such a plan. [`run_scheduler`] and [`run_executor`]
//! are Ballista's own scheduler and executor with antidote's functions added (`antidote ballista
//! scheduler` and `antidote ballista executor`).
//!
//! The executors read a table's files by the paths the client gives, so every executor must see
//! the same files at the same paths (one machine, or a shared file system).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use ::ballista::prelude::SessionContextExt as _;
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::start_server;
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::FunctionRegistry as _;
use datafusion::execution::session_state::{SessionState, SessionStateBuilder};
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::{Aggregate, register};

/// The engine a lock names for tables read on a Ballista cluster.
#[must_use]
pub fn engine() -> String {
    format!(
        "ballista {} (datafusion {})",
        ballista_core::BALLISTA_VERSION,
        datafusion::DATAFUSION_VERSION
    )
}

/// A context whose queries the Ballista scheduler at `scheduler` (`host:port`) plans and its
/// executors run, with `config` (antidote's [`crate::session_config`] and partitions) and
/// antidote's functions.
pub async fn remote_context(scheduler: &str, config: SessionConfig) -> Result<SessionContext> {
    let state = SessionStateBuilder::new()
        .with_default_features()
        .with_config(config)
        .build();
    let ctx = SessionContext::remote_with_state(&format!("df://{scheduler}"), state).await?;
    // Ballista's state replaces the function lists: register after it is built.
    register(&ctx);
    Ok(ctx)
}

/// The session state of the scheduler: Ballista's, with antidote's functions.
fn scheduler_state(config: SessionConfig) -> Result<SessionState> {
    let mut state = ballista_core::utils::default_session_builder(config)?;
    for aggregate in [Aggregate::TableRecords, Aggregate::TableProfile] {
        state.register_udaf(Arc::new(aggregate.udaf()))?;
    }
    Ok(state)
}

/// The function registry of an executor: Ballista's defaults, with antidote's functions.
fn executor_registry() -> Arc<BallistaFunctionRegistry> {
    let mut registry = BallistaFunctionRegistry::default();
    for aggregate in [Aggregate::TableRecords, Aggregate::TableProfile] {
        let udaf = Arc::new(aggregate.udaf());
        registry
            .aggregate_functions
            .insert(udaf.name().to_owned(), udaf);
    }
    Arc::new(registry)
}

fn ballista_error(error: impl std::fmt::Display) -> DataFusionError {
    DataFusionError::External(error.to_string().into())
}

/// Runs a Ballista scheduler with antidote's functions, listening on `bind`, until the process
/// stops. `external_host` is the name executors and clients reach it by.
pub async fn run_scheduler(bind: SocketAddr, external_host: &str) -> Result<()> {
    let config = SchedulerConfig {
        bind_host: bind.ip().to_string(),
        bind_port: bind.port(),
        external_host: external_host.to_owned(),
        override_session_builder: Some(Arc::new(scheduler_state)),
        ..SchedulerConfig::default()
    };
    let cluster = BallistaCluster::new_from_config(&config)
        .await
        .map_err(ballista_error)?;
    start_server(cluster, bind, Arc::new(config))
        .await
        .map_err(ballista_error)
}

/// How an executor joins a cluster.
#[derive(Debug, Clone)]
pub struct ExecutorSettings {
    /// The scheduler's host.
    pub scheduler_host: String,
    /// The scheduler's port.
    pub scheduler_port: u16,
    /// The host to listen on.
    pub bind_host: String,
    /// The name the scheduler and the other executors reach this one by; `bind_host` when
    /// `None`.
    pub external_host: Option<String>,
    /// The Arrow Flight port (partitions are fetched from it).
    pub port: u16,
    /// The gRPC port (the scheduler sends tasks to it).
    pub grpc_port: u16,
    /// Tasks run at once; every core when `None`.
    pub slots: Option<usize>,
    /// Where shuffle files go; a temporary folder when `None`.
    pub work_dir: Option<PathBuf>,
}

/// Runs a Ballista executor with antidote's functions until the process stops or the scheduler
/// stops it. It waits up to 30 seconds for the scheduler.
pub async fn run_executor(settings: ExecutorSettings) -> Result<()> {
    let defaults = ExecutorProcessConfig::default();
    let config = ExecutorProcessConfig {
        bind_host: settings.bind_host.clone(),
        external_host: Some(settings.external_host.unwrap_or(settings.bind_host)),
        port: settings.port,
        grpc_port: settings.grpc_port,
        scheduler_host: settings.scheduler_host,
        scheduler_port: settings.scheduler_port,
        scheduler_connect_timeout_seconds: 30,
        vcores: settings.slots.unwrap_or(defaults.vcores).max(1),
        work_dir: settings
            .work_dir
            .map(|dir| dir.to_string_lossy().into_owned()),
        print_thread_info: false,
        override_function_registry: Some(executor_registry()),
        ..defaults
    };
    start_executor_process(Arc::new(config))
        .await
        .map_err(ballista_error)
}

#[cfg(test)]
mod tests {
    use datafusion::execution::FunctionRegistry as _;
    use datafusion::prelude::SessionConfig;

    use crate::{TABLE_PROFILE, TABLE_RECORDS};

    #[test]
    fn the_scheduler_and_executors_know_antidotes_functions_and_ballistas() {
        let state = super::scheduler_state(SessionConfig::new()).expect("a state");
        let registry = super::executor_registry();
        for name in [TABLE_RECORDS, TABLE_PROFILE, "count"] {
            assert!(state.udaf(name).is_ok(), "scheduler: {name}");
            assert!(registry.udaf(name).is_ok(), "executor: {name}");
        }
    }
}
