//! The `antidote` command line: a thin layer over the library crates.
//!
//! [`run`] dispatches a parsed [`cli::Cli`] to one function per subcommand in [`commands`];
//! each returns an [`ExitStatus`] that says what was found. Errors are reported by
//! [`report_error`] as `error:`, one `Caused by:` line per source, and a `hint:` when there is
//! a fix.

pub mod cli;
pub mod commands;
pub mod logging;
pub mod printer;
pub mod settings;

use std::process::ExitCode;

use cli::{Cli, Command};
use printer::{Printer, Style};

/// What a run found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// The run finished and every check passed.
    Success,
    /// The run finished and a check failed: the data is suspect.
    Failure,
    /// The run could not finish: bad arguments, unreadable input, or a bug.
    Error,
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> Self {
        match status {
            ExitStatus::Success => ExitCode::SUCCESS,
            ExitStatus::Failure => ExitCode::from(1),
            ExitStatus::Error => ExitCode::from(2),
        }
    }
}

impl ExitStatus {
    /// `Success` when `passed`, else `Failure`.
    #[must_use]
    pub fn from_passed(passed: bool) -> Self {
        if passed { Self::Success } else { Self::Failure }
    }
}

/// An error the command line found itself, with what to do about it.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct UserError {
    /// What went wrong.
    pub message: String,
    /// What to do.
    pub hint: Option<String>,
}

impl UserError {
    /// An error with a hint.
    pub fn new(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hint: Some(hint.into()),
        }
    }
}

/// Runs a parsed command line.
pub fn run(cli: Cli, printer: Printer) -> anyhow::Result<ExitStatus> {
    let settings = settings::Settings::resolve(&cli.global)?;
    let global = &settings;
    match cli.command {
        Command::Lock(args) => commands::lock::lock(&args, global, printer),
        Command::Verify(args) => commands::verify::verify(&args, global, printer),
        Command::Diff(args) => commands::diff::diff(&args, global, printer),
        Command::Keygen(args) => commands::keygen::keygen(&args, global, printer),
        Command::Sign(args) => commands::sign::sign(&args, global, printer),
        Command::SignModel(args) => commands::sign_model::sign_model(&args, global, printer),
        Command::VerifyModel(args) => commands::verify_model::verify_model(&args, global, printer),
        Command::Profile(args) => commands::profile::profile(&args, global, printer),
        Command::Check(args) => commands::check::check(&args, global, printer),
        Command::Scan(args) => commands::scan::scan(&args, global, printer),
        Command::Explain(args) => commands::explain::explain(&args, printer),
        Command::Log(args) => commands::log::log(&args, global, printer),
        Command::Poison(args) => commands::poison::poison(&args, global, printer),
        Command::Drill(args) => commands::drill::drill(&args, global, printer),
    }
}

/// The first hint any error in the chain offers.
fn hint(error: &anyhow::Error) -> Option<String> {
    error.chain().find_map(|cause| {
        if let Some(user) = cause.downcast_ref::<UserError>() {
            return user.hint.clone();
        }
        if let Some(lock) = cause.downcast_ref::<antidote_provenance::lock::LockError>() {
            return lock.hint();
        }
        if let Some(antidote_validate::profile::ProfileError::Read(read)) =
            cause.downcast_ref::<antidote_validate::profile::ProfileError>()
        {
            return read.hint();
        }
        if let Some(read) = cause.downcast_ref::<antidote_data::ReadError>() {
            return read.hint();
        }
        None
    })
}

/// Prints an error with its causes and hint, and returns exit code 2.
#[must_use]
pub fn report_error(error: &anyhow::Error, printer: Printer) -> ExitCode {
    printer.error_line(&format!(
        "{}: {error}",
        printer.style_err("error", Style::Bad)
    ));
    for cause in error.chain().skip(1) {
        printer.error_line(&format!("  Caused by: {cause}"));
    }
    if let Some(hint) = hint(error) {
        printer.error_line("");
        printer.error_line(&format!(
            "{}: {hint}",
            printer.style_err("hint", Style::Bold)
        ));
    }
    ExitStatus::Error.into()
}
