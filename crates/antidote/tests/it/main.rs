//! Integration tests of the `antidote` binary: exit codes, stdout and stderr.

mod aggregate;
mod ballista;
mod browser;
mod canary;
mod check;
mod clean_share;
mod crash;
mod diff;
mod drill;
mod errors;
mod fashion_mnist;
mod federated;
mod flower;
mod gate;
mod help;
mod images;
mod ledger;
mod lock_verify;
mod malformed;
mod model_signing;
mod monitor;
mod monitor_model;
mod poison;
mod report;
mod scan;
mod scan_report;
mod sign;
mod tables;
mod terminal;
mod train;

use std::path::{Path, PathBuf};
use std::process::Command;

/// A temporary project folder with its own ledger, and the fixtures at hand.
pub(crate) struct TestContext {
    pub(crate) dir: tempfile::TempDir,
}

/// What a run printed and how it ended.
#[derive(Debug)]
pub(crate) struct Output {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Output {
    /// Panics with the whole output unless the exit code is `code`.
    #[track_caller]
    pub(crate) fn expect_code(self, code: i32) -> Self {
        assert_eq!(
            self.code, code,
            "unexpected exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

impl TestContext {
    pub(crate) fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("a temporary folder"),
        }
    }

    pub(crate) fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    /// Copies a file from `fixtures/` into the context, at `relative`.
    pub(crate) fn fixture(&self, name: &str, relative: &str) -> PathBuf {
        let target = self.path(relative);
        std::fs::create_dir_all(target.parent().expect("a parent")).expect("create folders");
        std::fs::copy(fixtures().join(name), &target).expect("copy the fixture");
        target
    }

    pub(crate) fn write(&self, relative: &str, text: &str) -> PathBuf {
        let target = self.path(relative);
        std::fs::create_dir_all(target.parent().expect("a parent")).expect("create folders");
        std::fs::write(&target, text).expect("write");
        target
    }

    /// The binary, run in the context folder without colour, progress or inherited settings.
    pub(crate) fn command(&self) -> Command {
        self.command_of(Path::new(env!("CARGO_BIN_EXE_antidote")))
    }

    /// `binary` (an antidote built otherwise), run as [`Self::command`] runs this one.
    pub(crate) fn command_of(&self, binary: &Path) -> Command {
        let mut command = Command::new(binary);
        command
            .current_dir(self.dir.path())
            .env_remove("ANTIDOTE_LEDGER")
            .env_remove("ANTIDOTE_PUBKEY")
            .env_remove("ANTIDOTE_KEY")
            .env_remove("ANTIDOTE_SCHEDULER")
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1");
        command
    }

    pub(crate) fn run(&self, args: &[&str]) -> Output {
        self.output(self.command().args(args))
    }

    /// Runs `command` to its end, with the temporary folder's path shown as `[TEMP_DIR]`.
    pub(crate) fn output(&self, command: &mut Command) -> Output {
        let output = command.output().expect("run antidote");
        let filter = |bytes: &[u8]| {
            String::from_utf8_lossy(bytes)
                .replace(&self.dir.path().display().to_string(), "[TEMP_DIR]")
        };
        Output {
            code: output.status.code().unwrap_or(-1),
            stdout: filter(&output.stdout),
            stderr: filter(&output.stderr),
        }
    }
}

pub(crate) fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

/// Replaces the first occurrence of `from` in a file, failing the test if it is absent.
pub(crate) fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).expect("read");
    assert!(
        text.contains(from),
        "`{from}` is not in `{}`",
        path.display()
    );
    std::fs::write(path, text.replacen(from, to, 1)).expect("write");
}
