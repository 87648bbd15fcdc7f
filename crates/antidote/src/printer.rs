//! Everything antidote prints goes through here: results to stdout, the rest to stderr,
//! colour only where it helps and never alone, progress bars only on a terminal.
#![expect(clippy::print_stderr, reason = "the one module that prints")]

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Duration;

use antidote_core::{NoProgress, Progress, ProgressUnit};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::{ColorChoice, GlobalArgs};

/// How to print, decided once from the global options and the environment.
#[derive(Debug, Clone, Copy)]
#[expect(
    clippy::struct_excessive_bools,
    reason = "independent switches decided once from the options, not the states of a machine"
)]
pub struct Printer {
    /// Only errors and results.
    pub quiet: bool,
    /// Results as JSON.
    pub json: bool,
    color_stdout: bool,
    color_stderr: bool,
    progress: bool,
}

impl From<&GlobalArgs> for Printer {
    fn from(global: &GlobalArgs) -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
        let color = |terminal: bool| match global.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => terminal && !no_color,
        };
        let in_ci = std::env::var_os("CI").is_some();
        Self {
            quiet: global.quiet,
            json: global.json,
            color_stdout: color(std::io::stdout().is_terminal()),
            color_stderr: color(std::io::stderr().is_terminal()),
            progress: std::io::stderr().is_terminal()
                && !global.quiet
                && global.verbose == 0
                && !in_ci,
        }
    }
}

/// ANSI styles used sparingly; meaning is always in the words too.
#[derive(Debug, Clone, Copy)]
pub enum Style {
    /// Passed checks.
    Good,
    /// Failed checks.
    Bad,
    /// Things to look at.
    Warn,
    /// Headings and names.
    Bold,
    /// Secondary detail.
    Dim,
}

impl Style {
    fn code(self) -> &'static str {
        match self {
            Self::Good => "\x1b[32m",
            Self::Bad => "\x1b[1;31m",
            Self::Warn => "\x1b[33m",
            Self::Bold => "\x1b[1m",
            Self::Dim => "\x1b[2m",
        }
    }
}

impl Printer {
    /// A printer for tests: no colour, no progress.
    #[must_use]
    pub fn plain() -> Self {
        Self {
            quiet: false,
            json: false,
            color_stdout: false,
            color_stderr: false,
            progress: false,
        }
    }

    /// `text` styled for stdout.
    #[must_use]
    pub fn style(&self, text: &str, style: Style) -> String {
        paint(self.color_stdout, text, style)
    }

    /// `text` styled for stderr.
    #[must_use]
    pub fn style_err(&self, text: &str, style: Style) -> String {
        paint(self.color_stderr, text, style)
    }

    /// A result line on stdout. A closed stdout (`| head`) ends the run successfully.
    pub fn out(&self, text: &str) {
        let mut stdout = std::io::stdout().lock();
        if let Err(error) = writeln!(stdout, "{text}")
            && error.kind() == std::io::ErrorKind::BrokenPipe
        {
            exit_on_closed_stdout();
        }
    }

    /// A JSON document on stdout.
    pub fn out_json(&self, value: &impl serde::Serialize) -> anyhow::Result<()> {
        let text = serde_json::to_string_pretty(value)?;
        self.out(&text);
        Ok(())
    }

    /// A note on stderr, silenced by `--quiet`.
    pub fn note(&self, text: &str) {
        if !self.quiet {
            eprintln!("{text}");
        }
    }

    /// A warning the user must act on: shown even with `--quiet`.
    pub fn warn(&self, text: &str) {
        eprintln!("{}: {text}", self.style_err("warning", Style::Warn));
    }

    /// An error line (used by the error reporter).
    pub fn error_line(&self, text: &str) {
        eprintln!("{text}");
    }

    /// Progress for long work: bars on a terminal, nothing elsewhere.
    #[must_use]
    pub fn progress(&self) -> Box<dyn Progress> {
        if self.progress {
            Box::new(Bars::default())
        } else {
            Box::new(NoProgress)
        }
    }
}

/// Ends the run successfully: a closed stdout (`| head`) is not an error, as for other Unix tools.
#[expect(
    clippy::exit,
    reason = "a closed stdout ends the run successfully, as for other Unix tools"
)]
fn exit_on_closed_stdout() -> ! {
    std::process::exit(0)
}

fn paint(enabled: bool, text: &str, style: Style) -> String {
    if enabled {
        format!("{}{text}\x1b[0m", style.code())
    } else {
        text.to_owned()
    }
}

/// indicatif bars, one per stage.
#[derive(Default)]
struct Bars {
    current: Mutex<Option<ProgressBar>>,
}

impl Progress for Bars {
    fn start(&self, stage: &str, total: Option<u64>, unit: ProgressUnit) {
        let bar = match total {
            Some(total) => ProgressBar::new(total),
            None => ProgressBar::new_spinner(),
        };
        bar.set_draw_target(ProgressDrawTarget::stderr());
        let template = match (total.is_some(), unit) {
            (true, ProgressUnit::Bytes) => {
                "{msg:30} [{bar:30}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} eta {eta}"
            }
            (true, _) => "{msg:30} [{bar:30}] {human_pos}/{human_len} {per_sec} eta {eta}",
            (false, ProgressUnit::Bytes) => {
                "{spinner} {msg:30} {binary_bytes} {binary_bytes_per_sec}"
            }
            (false, _) => "{spinner} {msg:30} {human_pos} {per_sec}",
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(stage.to_owned());
        bar.enable_steady_tick(Duration::from_millis(120));
        if let Ok(mut current) = self.current.lock()
            && let Some(previous) = current.replace(bar)
        {
            previous.finish_and_clear();
        }
    }

    fn advance(&self, amount: u64) {
        if let Ok(current) = self.current.lock()
            && let Some(bar) = current.as_ref()
        {
            bar.inc(amount);
        }
    }

    fn finish(&self) {
        if let Ok(mut current) = self.current.lock()
            && let Some(bar) = current.take()
        {
            bar.finish_and_clear();
        }
    }
}
