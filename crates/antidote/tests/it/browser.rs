//! Headless Chromium (Debian's `chromium`, installed by `scripts/test.sh`) for the report tests.

use std::io::Read;
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::TestContext;

pub(crate) const CHROMIUM: &str = "/usr/bin/chromium";
/// How long one Chromium run may take before the test kills it and fails.
const CHROMIUM_TIMEOUT: Duration = Duration::from_secs(90);

/// What a Chromium run printed.
pub(crate) struct Browser {
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

/// Runs headless Chromium on `page` with `arguments`, in a fresh profile, without network
/// services, and fails the test if it does not finish in [`CHROMIUM_TIMEOUT`].
pub(crate) fn chromium(
    context: &TestContext,
    profile: &str,
    arguments: &[&str],
    page: &Path,
) -> Browser {
    assert!(
        Path::new(CHROMIUM).is_file(),
        "`{CHROMIUM}` is missing: install it with `apt-get install chromium`"
    );
    let profile = context.path(profile);
    let mut command = Command::new(CHROMIUM);
    command
        .args([
            "--headless",
            // The tests run as root, where Chromium's sandbox cannot start.
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(arguments)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so that a hung browser goes with all its helpers.
        .process_group(0);
    let mut child = command.spawn().expect("start chromium");
    let pipe = |reader: Option<Box<dyn Read + Send>>| {
        let mut reader = reader.expect("a pipe");
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = reader.read_to_end(&mut bytes);
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let stdout = pipe(child.stdout.take().map(|out| Box::new(out) as _));
    let stderr = pipe(child.stderr.take().map(|err| Box::new(err) as _));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for chromium") {
            break status;
        }
        if started.elapsed() > CHROMIUM_TIMEOUT {
            let group = format!("-{}", child.id());
            let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
            let _ = child.wait();
            panic!(
                "chromium did not finish in {} s:\n{}",
                CHROMIUM_TIMEOUT.as_secs(),
                stderr.join().unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let browser = Browser {
        stdout: stdout.join().expect("chromium's stdout"),
        stderr: stderr.join().expect("chromium's stderr"),
    };
    assert!(
        status.success(),
        "chromium failed ({status}):\n{}",
        browser.stderr
    );
    browser
}

/// Lines in which Chromium reports the page's console messages, uncaught exceptions and
/// refused content (a blocked image would show here).
pub(crate) fn console_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|line| {
            line.contains("CONSOLE")
                || line.contains("Uncaught")
                || line.contains("Content Security Policy")
        })
        .collect()
}
