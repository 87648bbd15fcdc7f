use std::panic::AssertUnwindSafe;
use std::process::ExitCode;

use clap::Parser;

use antidote::ExitStatus;
use antidote::cli::Cli;
use antidote::printer::Printer;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let printer = Printer::from(&cli.global);
    let log_format = match &cli.command {
        antidote::cli::Command::Monitor(args) => args.log_format,
        _ => antidote::logging::LogFormat::Text,
    };
    antidote::logging::init(&cli.global, log_format);
    antidote::install_panic_hook(printer, cli.global.verbose > 0);
    // A panic unwinds to here (destructors run, so temporary output files are removed); the
    // hook has already printed it. Exit 2, the code for a run that could not finish.
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| antidote::run(cli, printer)));
    match result {
        Ok(Ok(_)) | Err(_) if antidote::panicked() => ExitStatus::Error.into(),
        Ok(Ok(status)) => status.into(),
        Ok(Err(error)) => antidote::report_error(&error, printer),
        Err(_) => ExitStatus::Error.into(),
    }
}
