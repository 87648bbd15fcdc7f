use std::process::ExitCode;

use clap::Parser;

use antidote::cli::Cli;
use antidote::printer::Printer;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let printer = Printer::from(&cli.global);
    antidote::logging::init(&cli.global);
    match antidote::run(cli, printer) {
        Ok(status) => status.into(),
        Err(error) => antidote::report_error(&error, printer),
    }
}
