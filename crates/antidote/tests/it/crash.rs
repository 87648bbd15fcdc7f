//! Crash safety: `antidote lock`, `scan --split`, `poison` and a ledger append killed with
//! SIGKILL at many moments leave the old outputs or the complete new ones (never half a file,
//! never half a pair or half a split), a ledger whose hash chain verifies, inputs untouched, and
//! nothing a rerun would trip over.
//!
//! Each command is first run once to completion to measure its run time; the kills then land
//! at a deterministic, evenly spread sequence of delays across that time (and a little past it).

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use antidote_data::{Dataset, ReadOptions};
use antidote_provenance::hashing::sha256_file;
use antidote_provenance::lock::{Lock, lock_base};

use crate::{TestContext, fixtures};

/// Kill points per command; 230 in all.
const LOCK_POINTS: usize = 60;
const SCAN_POINTS: usize = 50;
const POISON_POINTS: usize = 50;
const LEDGER_POINTS: usize = 70;
// The issue asks for at least 200 kill points in all.
const _: () = assert!(LOCK_POINTS + SCAN_POINTS + POISON_POINTS + LEDGER_POINTS >= 200);

/// The records of the fixture.
const RECORDS: usize = 120;

/// The kill delay of point `index`: a low-discrepancy (golden ratio) sequence over
/// `[0, 1.15 × run time)`, so that every part of the run is hit, in no particular order.
fn delay(index: usize, run_time: Duration) -> Duration {
    let fraction = (index as f64 * 0.618_033_988_749_895).fract();
    run_time.mul_f64(fraction * 1.15)
}

/// Every file below `folder`, by path relative to it, with its bytes.
fn snapshot(folder: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut pending = vec![folder.to_owned()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current).expect("read the folder") {
            let path = entry.expect("a folder entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let relative = path.strip_prefix(folder).expect("below").to_owned();
                files.insert(relative, std::fs::read(&path).expect("read the input"));
            }
        }
    }
    files
}

/// The names in `folder` (not recursive), or none if it does not exist.
fn names(folder: &Path) -> Vec<String> {
    match std::fs::read_dir(folder) {
        Ok(entries) => entries
            .map(|entry| {
                entry
                    .expect("a folder entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// What the kills of one command found.
#[derive(Debug, Default)]
struct Tally {
    /// Kill points.
    points: usize,
    /// Of those, the kills that landed while the process was still running.
    interrupted: usize,
    /// Kills that found the run already ended: each shortens the delays that follow (see
    /// [`Tally::delay`]).
    late: u32,
    /// The temporary files or folders (`.antidote-*`) killed runs left behind.
    leftovers: BTreeSet<PathBuf>,
}

impl Tally {
    /// The delay of kill point `index`: [`delay`], shortened by a tenth for every kill so far
    /// that came after the run's end (down to 0.9^13, about a quarter), so that the kills
    /// follow the run when the machine runs it faster than when it was measured.
    fn delay(&self, index: usize, run_time: Duration) -> Duration {
        delay(
            index,
            run_time.mul_f64(0.9_f64.powi(self.late.min(13).cast_signed())),
        )
    }

    #[track_caller]
    #[expect(
        clippy::print_stderr,
        reason = "the counts of the harness, shown with --nocapture"
    )]
    fn report(&self, command: &str, wanted: usize) {
        eprintln!(
            "{command}: {} kill points, {} interrupted a running process, {} hidden temporaries left",
            self.points,
            self.interrupted,
            self.leftovers.len()
        );
        assert_eq!(self.points, wanted, "{command}: kill points");
        // Many kills must land in the run, or the test proves little (the rest land just after
        // it ends, when the machine is busier than at the measurement).
        assert!(
            self.interrupted * 3 >= self.points,
            "{command}: only {} of {} kills interrupted the run",
            self.interrupted,
            self.points
        );
    }
}

/// Adds to `leftovers` the entries of `folder` that are not in `expected`, failing on any that
/// is not a hidden temporary of [`antidote_data::output`] (`.antidote-*`), which no run reads.
#[track_caller]
fn collect_leftovers(folder: &Path, expected: &[&str], leftovers: &mut BTreeSet<PathBuf>) {
    for name in names(folder) {
        if expected.contains(&name.as_str()) {
            continue;
        }
        assert!(
            name.starts_with(".antidote-"),
            "unexpected `{name}` in `{}` after a kill",
            folder.display()
        );
        leftovers.insert(folder.join(name));
    }
}

/// Runs `args` to completion three times and returns the shortest run time (the first run
/// may be slowed by a cold cache; the kills should land inside the run).
#[track_caller]
fn timed(context: &TestContext, args: impl Fn(usize) -> Vec<String>, codes: &[i32]) -> Duration {
    (0..3)
        .map(|run| {
            let args = args(run);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let started = Instant::now();
            let output = context.run(&args);
            let elapsed = started.elapsed();
            assert!(codes.contains(&output.code), "{args:?}: {output:?}");
            elapsed
        })
        .min()
        .expect("three runs")
}

/// `args` as owned strings.
fn owned(args: &[&str]) -> Vec<String> {
    args.iter().map(|arg| (*arg).to_owned()).collect()
}

/// Starts `args` and kills it with SIGKILL after `delay`; true if it was still running.
fn kill_after(context: &TestContext, args: &[&str], delay: Duration) -> bool {
    let mut child = context
        .command()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start antidote");
    std::thread::sleep(delay);
    // `Child::kill` sends SIGKILL on Unix; a process that already ended is a zombie until
    // `wait`, so the signal is harmless then.
    child.kill().expect("send SIGKILL");
    let status = child.wait().expect("wait for antidote");
    status.signal() == Some(9)
}

/// Kills `args` after `delay`, counts the kill point, and checks what every kill point must
/// keep: the input folder `data` byte for byte, and the ledger's chain.
#[track_caller]
fn kill_and_check(
    context: &TestContext,
    args: &[&str],
    delay: Duration,
    when: &str,
    tally: &mut Tally,
) {
    let before = snapshot(&context.path("data"));
    let interrupted = kill_after(context, args, delay);
    tally.interrupted += usize::from(interrupted);
    tally.late += u32::from(!interrupted);
    tally.points += 1;
    assert_eq!(
        snapshot(&context.path("data")),
        before,
        "{when}: the input changed"
    );
    assert_ledger_intact(context, when);
}

/// The ledger's hash chain verifies.
#[track_caller]
fn assert_ledger_intact(context: &TestContext, when: &str) {
    let output = context.run(&["log", "--verify"]);
    assert_eq!(
        output.code, 0,
        "{when}: the ledger chain is broken: {output:?}"
    );
    // SQLite's rollback journal is the only other file allowed next to the ledger.
    for name in names(&context.path(".antidote")) {
        assert!(
            name == "ledger.db" || name == "ledger.db-journal",
            "{when}: unexpected `{name}` next to the ledger"
        );
    }
}

/// The number of events in the ledger.
fn ledger_events(context: &TestContext) -> usize {
    let output = context.run(&["log", "--json"]).expect_code(0);
    let events: serde_json::Value = serde_json::from_str(&output.stdout).expect("JSON events");
    events.as_array().expect("a list of events").len()
}

/// `antidote lock`: the lock always parses, commits to the sidecar on disk, and verifies.
///
/// The data stays the same between kills, so that the sidecar of every run is the same: with
/// data that changes between runs, a kill in the instant between renaming the new sidecar and
/// the new lock into place (one rename over an existing file, milliseconds on a busy disk)
/// still leaves the old lock beside the new sidecar; `lock::create_and_write` narrows that
/// window to the two renames but cannot close it while the sidecar's name is fixed.
#[test]
fn a_killed_lock_leaves_a_whole_lock() {
    let context = TestContext::new();
    context.fixture("fortunes_3class.csv", "data/fortunes.csv");
    let run_time = timed(&context, |_| owned(&["lock", "data"]), &[0]);
    let lock_path = context.path("antidote.lock");

    let mut tally = Tally::default();
    for index in 0..LOCK_POINTS {
        let when = format!("lock, kill point {index}");
        kill_and_check(
            &context,
            &["lock", "data"],
            tally.delay(index, run_time),
            &when,
            &mut tally,
        );

        // The lock parses, commits to the sidecar on disk, and verifies.
        let lock = Lock::read(&lock_path).unwrap_or_else(|error| panic!("{when}: {error}"));
        let records = lock.records.as_ref().expect("a records sidecar");
        let sidecar = lock_base(&lock_path).join(&records.path);
        let hash = sha256_file(&sidecar).unwrap_or_else(|error| panic!("{when}: {error}"));
        assert_eq!(
            hash.sha256, records.sha256,
            "{when}: the lock and its records sidecar do not match"
        );
        lock.read_records(&lock_path)
            .unwrap_or_else(|error| panic!("{when}: {error}"));
        let output = context.run(&["verify"]);
        assert_eq!(output.code, 0, "{when}: {output:?}");
        collect_leftovers(
            context.dir.path(),
            &[
                "data",
                ".antidote",
                "antidote.lock",
                "antidote.lock.records.jsonl",
            ],
            &mut tally.leftovers,
        );

        // A rerun succeeds.
        context.run(&["lock", "data"]).expect_code(0);
    }
    context.run(&["verify"]).expect_code(0);
    assert_ledger_intact(&context, "lock, the end");
    tally.report("lock", LOCK_POINTS);
}

/// `antidote scan --split`: findings and summary parse when present, and the three parts of
/// the split are all absent or all complete (adding up to the input).
#[test]
fn a_killed_scan_leaves_no_partial_split() {
    let context = TestContext::new();
    with_conflicting_copies(&context);
    // The duplicates detector alone: fast enough for 50 kills (label issues take seconds).
    let scan = |out: &str| -> Vec<String> {
        [
            "scan",
            "data/fortunes.csv",
            "--out",
            out,
            "--split",
            "--detectors",
            "duplicates",
            "--quiet",
        ]
        .map(str::to_owned)
        .to_vec()
    };
    let run_time = timed(&context, |run| scan(&format!("measured-{run}")), &[0, 1]);

    let mut tally = Tally::default();
    for index in 0..SCAN_POINTS {
        let out = format!("scan-{index}");
        let args = scan(&out);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let when = format!("scan --split, kill point {index}");
        kill_and_check(
            &context,
            &args,
            tally.delay(index, run_time),
            &when,
            &mut tally,
        );
        let complete = assert_scan_outputs_whole(&context, &out, &when);
        for folder in ["", "clean", "quarantine", "review"] {
            collect_leftovers(
                &context.path(&out).join(folder),
                &[
                    "findings.jsonl",
                    "summary.json",
                    "clean",
                    "quarantine",
                    "review",
                    "fortunes.csv",
                ],
                &mut tally.leftovers,
            );
        }

        let output = context.run(&args);
        if complete {
            // The split is never overwritten: a rerun into the same folder is refused.
            assert_eq!(output.code, 2, "{when}: {output:?}");
            assert!(
                output.stderr.contains("already exists"),
                "{when}: {output:?}"
            );
        } else {
            assert!(output.code == 0 || output.code == 1, "{when}: {output:?}");
            assert!(
                assert_scan_outputs_whole(&context, &out, &when),
                "{when}: the rerun wrote no split"
            );
        }
    }
    assert_ledger_intact(&context, "scan, the end");
    tally.report("scan --split", SCAN_POINTS);
}

/// The fixture with its first two records copied under another label: conflicting copies for
/// the duplicates detector, so that no part of the split is empty.
fn with_conflicting_copies(context: &TestContext) {
    let mut reader =
        csv::Reader::from_path(fixtures().join("fortunes_3class.csv")).expect("the fixture");
    let header = reader.headers().expect("a header").clone();
    let records: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("a row")).collect();
    std::fs::create_dir_all(context.path("data")).expect("create data/");
    let mut writer =
        csv::Writer::from_path(context.path("data/fortunes.csv")).expect("create the data");
    writer.write_record(&header).expect("write");
    for record in &records {
        writer.write_record(record).expect("write");
    }
    let label = header
        .iter()
        .position(|name| name == "label")
        .expect("a label column");
    assert!(header.iter().any(|name| name == "id"), "an id column");
    for record in records.iter().take(2) {
        let other = if &record[label] == "food" {
            "science"
        } else {
            "food"
        };
        let copy: Vec<String> = record
            .iter()
            .enumerate()
            .map(|(column, field)| match &header[column] {
                "label" => other.to_owned(),
                "id" => format!("{field}-copy"),
                _ => field.to_owned(),
            })
            .collect();
        writer.write_record(copy).expect("write");
    }
    writer.flush().expect("flush");
}

/// Checks the outputs of a scan into `out`; true if the split is there (and whole).
#[track_caller]
fn assert_scan_outputs_whole(context: &TestContext, out: &str, when: &str) -> bool {
    let folder = context.path(out);
    let findings = folder.join("findings.jsonl");
    if findings.exists() {
        for line in std::fs::read_to_string(&findings).expect("read").lines() {
            serde_json::from_str::<serde_json::Value>(line)
                .unwrap_or_else(|error| panic!("{when}: findings.jsonl: {error}: {line}"));
        }
    }
    let summary = folder.join("summary.json");
    if summary.exists() {
        let text = std::fs::read_to_string(&summary).expect("read");
        serde_json::from_str::<antidote_detect::output::Summary>(&text)
            .unwrap_or_else(|error| panic!("{when}: summary.json: {error}"));
    }
    let parts: Vec<PathBuf> = ["clean", "quarantine", "review"]
        .iter()
        .map(|side| folder.join(side).join("fortunes.csv"))
        .collect();
    let present = parts.iter().filter(|path| path.exists()).count();
    assert!(
        present == 0 || present == parts.len(),
        "{when}: {present} of the 3 parts of the split were written"
    );
    if present == 0 {
        return false;
    }
    let records: usize = parts
        .iter()
        .map(|path| {
            Dataset::open(path, &ReadOptions::default())
                .unwrap_or_else(|error| panic!("{when}: {}: {error}", path.display()))
                .collect::<Result<Vec<_>, _>>()
                .unwrap_or_else(|error| panic!("{when}: {}: {error}", path.display()))
                .len()
        })
        .sum();
    assert_eq!(records, RECORDS + 2, "{when}: the split does not add up");
    assert!(
        findings.exists() && summary.exists(),
        "{when}: a split without its findings and summary"
    );
    true
}

/// `antidote poison`: the poisoned copy and its truth are both there and readable, or both
/// absent.
#[test]
fn a_killed_poison_leaves_both_files_or_neither() {
    let context = TestContext::new();
    context.fixture("fortunes_3class.csv", "data/fortunes.csv");
    let poison = |out: &str| -> Vec<String> {
        [
            "poison",
            "data/fortunes.csv",
            "--attack",
            "rare-token",
            "--target",
            "food",
            "--seed",
            "3",
            "--quiet",
            "-o",
            out,
        ]
        .map(str::to_owned)
        .to_vec()
    };
    let run_time = timed(&context, |run| poison(&format!("measured-{run}.csv")), &[0]);

    let mut tally = Tally::default();
    for index in 0..POISON_POINTS {
        let folder = format!("poisoned-{index}");
        let out = format!("{folder}/fortunes.csv");
        let args = poison(&out);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let when = format!("poison, kill point {index}");
        kill_and_check(
            &context,
            &args,
            tally.delay(index, run_time),
            &when,
            &mut tally,
        );
        let complete = assert_poison_outputs_whole(&context, &out, &when);
        collect_leftovers(
            &context.path(&folder),
            &["fortunes.csv", "fortunes.csv.truth.json"],
            &mut tally.leftovers,
        );

        let output = context.run(&args);
        if complete {
            // A poisoned copy is never overwritten: a rerun onto it is refused.
            assert_eq!(output.code, 2, "{when}: {output:?}");
            assert!(
                output.stderr.contains("already exists"),
                "{when}: {output:?}"
            );
        } else {
            assert_eq!(output.code, 0, "{when}: {output:?}");
            assert!(
                assert_poison_outputs_whole(&context, &out, &when),
                "{when}: the rerun wrote nothing"
            );
        }
    }
    assert_ledger_intact(&context, "poison, the end");
    tally.report("poison", POISON_POINTS);
}

/// Checks a poisoned copy and its truth; true if both are there.
#[track_caller]
fn assert_poison_outputs_whole(context: &TestContext, out: &str, when: &str) -> bool {
    let copy = context.path(out);
    let truth = context.path(&format!("{out}.truth.json"));
    // The copy is the commit point: it never exists without its truth. A truth alone is a run
    // killed between the two renames, which the rerun below replaces.
    assert!(
        !copy.exists() || truth.exists(),
        "{when}: the copy exists without its truth"
    );
    if !copy.exists() {
        return false;
    }
    let records = Dataset::open(&copy, &ReadOptions::default())
        .unwrap_or_else(|error| panic!("{when}: {error}"))
        .collect::<Result<Vec<_>, _>>()
        .unwrap_or_else(|error| panic!("{when}: {error}"))
        .len();
    assert_eq!(records, RECORDS, "{when}: the poisoned copy");
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&truth).expect("read the truth"))
            .unwrap_or_else(|error| panic!("{when}: the truth: {error}"));
    assert_eq!(
        truth["poisoned"].as_array().map(Vec::len),
        Some(6),
        "{when}: {truth}"
    );
    true
}

/// A ledger append (`antidote verify` records its event): after every kill the chain verifies
/// and holds the events before, or those and the new one.
#[test]
#[expect(
    clippy::print_stderr,
    reason = "the counts of the harness, shown with --nocapture"
)]
fn a_killed_ledger_append_keeps_the_chain() {
    let context = TestContext::new();
    context.fixture("fortunes_3class.csv", "data/fortunes.csv");
    context.run(&["lock", "data"]).expect_code(0);
    let run_time = timed(&context, |_| owned(&["verify"]), &[0]);
    let lock = std::fs::read(context.path("antidote.lock")).expect("the lock");

    let mut tally = Tally::default();
    let mut appended = 0;
    for index in 0..LEDGER_POINTS {
        let events = ledger_events(&context);
        let when = format!("ledger append, kill point {index}");
        kill_and_check(
            &context,
            &["verify"],
            tally.delay(index, run_time),
            &when,
            &mut tally,
        );
        assert_eq!(
            std::fs::read(context.path("antidote.lock")).expect("the lock"),
            lock,
            "{when}: verify changed the lock"
        );
        let after = ledger_events(&context);
        assert!(
            after == events || after == events + 1,
            "{when}: {events} events before, {after} after"
        );
        appended += after - events;
        collect_leftovers(
            context.dir.path(),
            &[
                "data",
                ".antidote",
                "antidote.lock",
                "antidote.lock.records.jsonl",
            ],
            &mut tally.leftovers,
        );
        context.run(&["verify"]).expect_code(0);
        assert_eq!(
            ledger_events(&context),
            after + 1,
            "{when}: the rerun's event"
        );
    }
    eprintln!("ledger append: {appended} of {LEDGER_POINTS} killed runs had appended their event");
    assert_ledger_intact(&context, "ledger, the end");
    tally.report("ledger append", LEDGER_POINTS);
}
