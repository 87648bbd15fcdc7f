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
use std::sync::atomic::{AtomicBool, Ordering};

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
///
/// # Panics
///
/// Only when `ANTIDOTE_TEST_PANIC=1` is set, on purpose, for the tests of the panic hook.
pub fn run(cli: Cli, printer: Printer) -> anyhow::Result<ExitStatus> {
    let settings = settings::Settings::resolve(&cli.global)?;
    antidote_data::limits::set_default_max_record_bytes(settings.max_record_bytes);
    // Test-only: `ANTIDOTE_TEST_PANIC=1` panics here so that the integration tests can prove
    // the panic hook (`tests/it/malformed.rs`). Not documented to users; it changes nothing else.
    assert!(
        std::env::var_os("ANTIDOTE_TEST_PANIC").is_none_or(|value| value != "1"),
        "ANTIDOTE_TEST_PANIC is set: a deliberate panic to test the panic hook"
    );
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
        Command::Drill(args) if args.federated.federated => {
            commands::federated_drill::federated_drill(&args, global, printer)
        }
        Command::Drill(args) => commands::drill::drill(&args, global, printer),
        Command::Aggregate(args) => commands::aggregate::aggregate(&args, global, printer),
        Command::Monitor(args) => commands::monitor::monitor(&args, global, printer),
        Command::Canary(args) => commands::canary::canary(&args, global, printer),
        Command::Train(args) => commands::train::train(&args, global, printer),
        Command::Gate(args) => commands::gate::gate(&args, global, printer),
        Command::Ballista(args) => commands::ballista::ballista(&args, printer),
    }
}

/// Whether a panic was reported, on any thread: the run then ends with exit code 2 even if the
/// thread that panicked was not the one that returns the status.
static PANICKED: AtomicBool = AtomicBool::new(false);

/// Replaces Rust's panic message with antidote's: `error: internal error: ... at FILE:LINE`
/// and a hint to report it, with the backtrace under `-v`. `main` turns the panic into exit
/// code 2 (see [`panicked`]), the code for a run that could not finish, instead of 101.
pub fn install_panic_hook(printer: Printer, verbose: bool) {
    std::panic::set_hook(Box::new(move |info| {
        PANICKED.store(true, Ordering::SeqCst);
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("a panic without a message");
        let location = info.location().map_or_else(String::new, |location| {
            format!(
                " at {}:{}:{}",
                location.file(),
                location.line(),
                location.column()
            )
        });
        let mut text = format!(
            "{}: internal error: {message}{location}\n",
            printer.style_err("error", Style::Bad)
        );
        if verbose {
            text.push_str(&std::backtrace::Backtrace::force_capture().to_string());
        } else {
            text.push_str("  (run with `-v` for the backtrace)\n");
        }
        let hint = printer.style_err("hint", Style::Bold);
        text.push('\n');
        text.push_str(&hint);
        text.push_str(": this is a bug in antidote; please report it with the command line\n");
        // Not `eprintln!`: a closed stderr must not panic inside the hook (that aborts).
        let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), text.as_bytes());
    }));
}

/// Whether the panic hook reported a panic during this run.
#[must_use]
pub fn panicked() -> bool {
    PANICKED.load(Ordering::SeqCst)
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
