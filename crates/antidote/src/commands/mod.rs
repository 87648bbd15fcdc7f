//! One file per subcommand.

pub mod aggregate;
pub mod ballista;
pub mod canary;
pub mod check;
pub mod diff;
pub mod drill;
pub mod explain;
pub mod federated_drill;
pub mod gate;
pub mod keygen;
pub mod lock;
pub mod log;
pub mod monitor;
pub mod poison;
pub mod profile;
pub mod scan;
pub mod sign;
pub mod sign_model;
pub mod train;
pub mod verify;
pub mod verify_model;

use std::path::Path;

use antidote_core::Digest;
use antidote_provenance::hashing::sha256_file;
use antidote_provenance::ledger::{Ledger, NewEvent};
use antidote_report::{Input, Provenance};
use antidote_validate::profile::{Profile, ReadProfileError};
use anyhow::Context;

use crate::UserError;
use crate::printer::Printer;
use crate::settings::Settings;

/// The `DataFusion` reader of tables for `engine` (`datafusion` or `ballista`).
fn datafusion_tables(
    engine: crate::cli::Engine,
    cluster: &crate::cli::ClusterArgs,
) -> anyhow::Result<antidote_datafusion::DataFusionTables> {
    match (engine, &cluster.scheduler) {
        (crate::cli::Engine::Ballista, Some(scheduler)) => {
            Ok(antidote_datafusion::DataFusionTables::ballista(scheduler))
        }
        (crate::cli::Engine::Ballista, None) => Err(UserError::new(
            "`--engine ballista` needs the cluster's scheduler",
            "give it with `--scheduler HOST:PORT` (or ANTIDOTE_SCHEDULER); \
             `antidote ballista scheduler` starts one",
        )
        .into()),
        _ => Ok(antidote_datafusion::DataFusionTables::default()),
    }
}

/// The reader of locked tables for `engine`.
pub(crate) fn table_reader(
    engine: crate::cli::Engine,
    cluster: &crate::cli::ClusterArgs,
) -> anyhow::Result<std::sync::Arc<dyn antidote_provenance::table::TableReader>> {
    Ok(if engine.reads_tables() {
        std::sync::Arc::new(datafusion_tables(engine, cluster)?)
    } else {
        std::sync::Arc::new(antidote_provenance::table::LocalTables)
    })
}

/// The profile of the data at `path`, read by `engine`: a dataset by antidote's own reader, or
/// the Parquet (or else CSV) files of a folder, or one such file, as one table by `DataFusion`, here or on
/// a Ballista cluster.
pub(crate) fn profile_data(
    path: &Path,
    engine: crate::cli::Engine,
    cluster: &crate::cli::ClusterArgs,
    options: &antidote_data::ReadOptions,
    printer: Printer,
) -> anyhow::Result<Profile> {
    let progress = printer.progress();
    if engine.reads_tables() {
        let files = antidote_provenance::table::table_files(path, &[], Path::new("."))?;
        Ok(
            datafusion_tables(engine, cluster)?.profile(
                path,
                &files,
                options,
                progress.as_ref(),
            )?,
        )
    } else {
        let dataset = antidote_data::Dataset::open(path, options)
            .with_context(|| format!("failed to open the dataset `{}`", path.display()))?;
        Ok(Profile::of_dataset(dataset, progress.as_ref())?)
    }
}

/// Appends an event to the ledger. A ledger that cannot be written is a warning, not a failed
/// run: the command's own result stands.
pub(crate) fn record(
    settings: &Settings,
    printer: Printer,
    kind: &str,
    subject: &str,
    outcome: &str,
    details: serde_json::Value,
) {
    let Some(path) = settings.ledger.clone() else {
        return;
    };
    let event = NewEvent {
        kind: kind.to_owned(),
        subject: subject.to_owned(),
        outcome: outcome.to_owned(),
        details,
    };
    let result = Ledger::open(&path).and_then(|mut ledger| ledger.append(event));
    match result {
        Ok(event) => tracing::debug!(
            "ledger `{}`: event {} ({})",
            path.display(),
            event.seq,
            event.kind
        ),
        Err(error) => printer.warn(&format!(
            "could not record this run in the ledger `{}`: {error} (pass `--no-ledger` to skip it)",
            path.display()
        )),
    }
}

/// Reads a profile written by `antidote profile`, with a hint when it is missing, invalid or of
/// another version.
pub(crate) fn read_profile(path: &Path) -> anyhow::Result<Profile> {
    Profile::read(path).map_err(|error| {
        let hint = match &error {
            ReadProfileError::Missing { .. } => {
                "create one with `antidote profile DATA -o baseline.json`"
            }
            ReadProfileError::Invalid { .. } => {
                "profiles are written by `antidote profile`; re-create it"
            }
            ReadProfileError::Version { .. } => {
                "re-create the profile with this version of `antidote profile`"
            }
            ReadProfileError::Io(_) => return error.into(),
        };
        UserError::new(error.to_string(), hint).into()
    })
}

/// The provenance footer of a report: this command line, antidote's version, the time, and each
/// input with its SHA-256 when it is one file.
pub(crate) fn provenance_of(inputs: &[(&str, &Path)]) -> anyhow::Result<Provenance> {
    let digest = |path: &Path| -> anyhow::Result<Option<Digest>> {
        if !path.is_file() {
            return Ok(None);
        }
        let hash = sha256_file(path)
            .with_context(|| format!("failed to hash `{}` for the report", path.display()))?;
        Ok(Some(hash.sha256))
    };
    Ok(Provenance {
        command: command_line(),
        version: format!("antidote {}", env!("CARGO_PKG_VERSION")),
        inputs: inputs
            .iter()
            .map(|(role, path)| {
                Ok(Input {
                    role: (*role).to_owned(),
                    path: path.display().to_string(),
                    digest: digest(path)?,
                })
            })
            .collect::<anyhow::Result<_>>()?,
        generated: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    })
}

/// This process's command line, quoted for a POSIX shell where needed.
fn command_line() -> String {
    std::env::args_os()
        .map(|argument| shell_quote(&argument.to_string_lossy()))
        .collect::<Vec<_>>()
        .join(" ")
}

fn shell_quote(argument: &str) -> String {
    let plain = !argument.is_empty()
        && argument
            .chars()
            .all(|character| character.is_ascii_alphanumeric() || "-_./=:,@+%".contains(character));
    if plain {
        argument.to_owned()
    } else {
        format!("'{}'", argument.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_quoted_for_the_shell_only_when_needed() {
        assert_eq!(shell_quote("--baseline"), "--baseline");
        assert_eq!(shell_quote("data/v2.csv"), "data/v2.csv");
        assert_eq!(shell_quote("my data.csv"), "'my data.csv'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
