//! `--engine ballista`: a real Ballista cluster (antidote's scheduler and two executors, each a
//! process of an antidote built with the `ballista` feature) locks, verifies, profiles and checks
//! a table of many Parquet files, and gives what DataFusion in one process gives.
//!
//! Ignored by a plain `cargo test`: it needs that build, named in `ANTIDOTE_BALLISTA_BIN`.
//! `scripts/test.sh` builds it and runs this test with `--ignored`; run without the variable, the
//! test fails and says so. The plain build's refusal of `--engine ballista` is tested here too.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::TestContext;
use crate::tables::write_parquet;

/// The processes of a local cluster, stopped when dropped.
struct Cluster {
    scheduler: SocketAddr,
    processes: Vec<Child>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for process in &mut self.processes {
            let _ = process.kill();
            let _ = process.wait();
        }
    }
}

/// A port nothing listens on now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// Waits until something listens on `port`, or panics after a minute.
fn wait_for(port: u16, what: &str, processes: &mut [Child]) {
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        for process in processes.iter_mut() {
            if let Ok(Some(status)) = process.try_wait() {
                panic!("a cluster process ended ({status}) before {what} listened");
            }
        }
        assert!(
            start.elapsed() < Duration::from_mins(1),
            "{what} did not listen on port {port} within a minute"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Starts antidote's scheduler and `executors` executors of one task slot each, from `binary`,
/// and waits until all of them listen.
fn start_cluster(context: &TestContext, binary: &Path, executors: usize) -> Cluster {
    let scheduler = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let mut cluster = Cluster {
        scheduler,
        processes: Vec::new(),
    };
    let log = |name: &str| {
        std::fs::File::create(context.path(&format!("{name}.log"))).expect("a log file")
    };
    let mut command = context.command_of(binary);
    command
        .args(["ballista", "scheduler", "--bind", &scheduler.to_string()])
        .stdout(Stdio::null())
        .stderr(log("scheduler"));
    cluster
        .processes
        .push(command.spawn().expect("start the scheduler"));
    wait_for(scheduler.port(), "the scheduler", &mut cluster.processes);
    for executor in 0..executors {
        let (port, grpc_port) = (free_port(), free_port());
        let work_dir = context.path(&format!("executor-{executor}"));
        std::fs::create_dir_all(&work_dir).expect("a work folder");
        let mut command = context.command_of(binary);
        command
            .args([
                "ballista",
                "executor",
                "--scheduler",
                &scheduler.to_string(),
            ])
            .args([
                "--port",
                &port.to_string(),
                "--grpc-port",
                &grpc_port.to_string(),
            ])
            .args(["--slots", "1", "--work-dir"])
            .arg(&work_dir)
            .stdout(Stdio::null())
            .stderr(log(&format!("executor-{executor}")));
        cluster
            .processes
            .push(command.spawn().expect("start an executor"));
        wait_for(port, "an executor", &mut cluster.processes);
        wait_for(grpc_port, "an executor's task port", &mut cluster.processes);
    }
    cluster
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|error| panic!("{error}: {text}"))
}

fn read_json(path: &Path) -> serde_json::Value {
    json(&std::fs::read_to_string(path).expect("read"))
}

/// `table/`: 12 Parquet files of 40 to 260 records (1,800 in all), two of them in a subfolder.
fn table(context: &TestContext) {
    let mut first = 0;
    for file in 0..12 {
        let count = 40 + 20 * file;
        let name = if file < 10 {
            format!("table/part-{file:02}.parquet")
        } else {
            format!("table/late/part-{file:02}.parquet")
        };
        write_parquet(&context.path(&name), first, count, true, None);
        first += count;
    }
}

fn ballista_binary() -> PathBuf {
    let Some(binary) = std::env::var_os("ANTIDOTE_BALLISTA_BIN") else {
        panic!(
            "ANTIDOTE_BALLISTA_BIN is not set: it names an antidote built with \
             `cargo build --release -p antidote --features ballista`; `bash scripts/test.sh` \
             builds one and runs this test"
        );
    };
    PathBuf::from(binary)
}

/// Asserts that two profiles of the same table agree: counts exactly, moments to rounding (the
/// partitions' partial sums are added in another order).
fn assert_same_profile(ballista: &serde_json::Value, local: &serde_json::Value) {
    assert_eq!(ballista["record_count"], local["record_count"]);
    assert_eq!(ballista["label"]["counts"], local["label"]["counts"]);
    assert_eq!(
        ballista["duplicates"]["exact_duplicates"],
        local["duplicates"]["exact_duplicates"]
    );
    let (ours, theirs) = (
        ballista["columns"].as_array().expect("columns"),
        local["columns"].as_array().expect("columns"),
    );
    assert_eq!(ours.len(), theirs.len());
    for (ours, theirs) in ours.iter().zip(theirs) {
        let name = &ours["name"];
        assert_eq!(name, &theirs["name"]);
        for field in ["kind", "present", "missing", "mismatched"] {
            assert_eq!(ours[field], theirs[field], "{name} {field}");
        }
        let (a, b) = (&ours["stats"]["numeric"], &theirs["stats"]["numeric"]);
        assert_eq!(a["min"], b["min"], "{name}");
        assert_eq!(a["max"], b["max"], "{name}");
        assert_eq!(a["moments"]["count"], b["moments"]["count"], "{name}");
        if let (Some(a), Some(b)) = (a["moments"]["mean"].as_f64(), b["moments"]["mean"].as_f64()) {
            assert!(
                (a - b).abs() <= 1e-9 * b.abs().max(1.0),
                "{name} mean: {a} != {b}"
            );
        }
    }
    // The numeric column was compared, not skipped.
    assert!(
        ours.iter()
            .any(|column| column["stats"]["numeric"]["moments"]["mean"].is_f64())
    );
}

/// One label changed in one file of the locked table: the cluster finds it as antidote's own
/// reader does.
fn verify_finds_one_changed_label(
    context: &TestContext,
    run: &dyn Fn(&[&str]) -> crate::Output,
    remote: &[&str],
) {
    write_parquet(
        &context.path("table/part-03.parquet"),
        180,
        100,
        true,
        Some(181),
    );
    let mut args = vec!["verify"];
    args.extend(remote);
    let output = run(&args).expect_code(1);
    assert!(
        output
            .stdout
            .contains("table `table`: 1800 records -> 1800 records, a different set of records"),
        "{}",
        output.stdout
    );
    assert!(
        output
            .stdout
            .contains("labels: `dog` 600 -> 599, `eel` 0 -> 1"),
        "{}",
        output.stdout
    );
    let antidote = run(&["verify", "--engine", "antidote"]).expect_code(1);
    let labels = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|line| line.contains("labels:"))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(labels(&output.stdout), labels(&antidote.stdout));
}

#[test]
#[ignore = "needs an antidote built with the ballista feature (ANTIDOTE_BALLISTA_BIN)"]
fn a_ballista_cluster_locks_verifies_profiles_and_checks_a_table_as_one_process_does() {
    let binary = ballista_binary();
    let context = TestContext::new();
    table(&context);
    let cluster = start_cluster(&context, &binary, 2);
    let scheduler = cluster.scheduler.to_string();
    let run = |args: &[&str]| context.output(context.command_of(&binary).args(args));
    let remote = ["--engine", "ballista", "--scheduler", &scheduler];

    // Lock: the same table digest as DataFusion in this process.
    let local = json(
        &run(&[
            "lock",
            "--engine",
            "datafusion",
            "table",
            "-o",
            "local.lock",
            "--json",
        ])
        .expect_code(0)
        .stdout,
    );
    let mut args = vec!["lock", "table", "-o", "antidote.lock", "--json"];
    args.extend(remote);
    let distributed = json(&run(&args).expect_code(0).stdout);
    let (ours, theirs) = (&distributed["tables"][0], &local["tables"][0]);
    assert!(
        ours["engine"]
            .as_str()
            .is_some_and(|engine| engine.starts_with("ballista ")),
        "{ours}"
    );
    assert_eq!(ours["record_count"], 1800);
    for field in [
        "record_set_hash",
        "record_count",
        "label_counts",
        "schema_fingerprint",
        "file_count",
    ] {
        assert_eq!(ours[field], theirs[field], "{field}");
    }

    verify_finds_one_changed_label(&context, &run, &remote);

    // Profile and check: the cluster's profile is the one-process profile.
    run(&[
        "profile",
        "--engine",
        "datafusion",
        "table",
        "-o",
        "local.json",
    ])
    .expect_code(0);
    let mut args = vec!["profile", "table", "-o", "ballista.json"];
    args.extend(remote);
    run(&args).expect_code(0);
    assert_same_profile(
        &read_json(&context.path("ballista.json")),
        &read_json(&context.path("local.json")),
    );
    let mut args = vec!["check", "table", "--baseline", "local.json"];
    args.extend(remote);
    let output = run(&args).expect_code(0);
    assert!(output.stdout.contains("1800"), "{}", output.stdout);

    // A scheduler nobody runs: an error naming it, not a hang or a silent local run.
    drop(cluster);
    let closed = format!("127.0.0.1:{}", free_port());
    let output = run(&[
        "profile",
        "--engine",
        "ballista",
        "--scheduler",
        &closed,
        "table",
    ])
    .expect_code(2);
    assert!(output.stderr.contains("error:"), "{}", output.stderr);
}

/// The default build has no Ballista: `--engine ballista` and `antidote ballista` say how to get
/// it, and `--engine ballista` without a scheduler says what is missing.
#[test]
#[cfg(not(feature = "ballista"))]
fn the_default_build_refuses_ballista_with_what_to_do() {
    let context = TestContext::new();
    table(&context);
    let output = context
        .run(&["profile", "--engine", "ballista", "table"])
        .expect_code(2);
    assert!(
        output.stderr.contains("needs the cluster's scheduler")
            && output.stderr.contains("--scheduler HOST:PORT"),
        "{}",
        output.stderr
    );
    let output = context
        .run(&[
            "lock",
            "--engine",
            "ballista",
            "--scheduler",
            "127.0.0.1:9",
            "table",
        ])
        .expect_code(2);
    assert!(
        output.stderr.contains("built without Ballista")
            && output.stderr.contains("--features ballista"),
        "{}",
        output.stderr
    );
    assert!(!context.path("antidote.lock").exists());
    let output = context.run(&["ballista", "scheduler"]).expect_code(2);
    assert!(
        output.stderr.contains("built without Ballista"),
        "{}",
        output.stderr
    );
}
