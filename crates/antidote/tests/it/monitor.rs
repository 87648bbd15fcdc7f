//! `antidote monitor`: the real binary on a free port, real HTTP, a real SQLite store.

#![expect(
    clippy::float_cmp,
    reason = "the values compared exactly are counts and exact shares, exact in f64"
)]

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};

use crate::TestContext;

/// A running `antidote monitor`, killed when dropped.
struct Server {
    child: Child,
    address: String,
    metrics_address: Option<String>,
    stderr: Arc<Mutex<String>>,
    drain: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    /// Starts the monitor and waits until it prints the address it listens on.
    fn start(context: &TestContext, args: &[&str]) -> Self {
        let mut child = context
            .command()
            .arg("monitor")
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start antidote monitor");
        let mut stderr = BufReader::new(child.stderr.take().expect("a piped stderr"));
        let mut seen = String::new();
        let mut address = None;
        let mut metrics_address = None;
        let expect_metrics = args.contains(&"--metrics-listen");
        while address.is_none() || (expect_metrics && metrics_address.is_none()) {
            let mut line = String::new();
            let read = stderr.read_line(&mut line).expect("read stderr");
            assert!(read > 0, "the monitor exited before listening:\n{seen}");
            seen.push_str(&line);
            if let Some(rest) = line.split("listening on http://").nth(1) {
                address = rest.split_whitespace().next().map(str::to_owned);
            }
            if let Some(rest) = line.split("metrics on http://").nth(1) {
                metrics_address = rest.split('/').next().map(str::to_owned);
            }
        }
        let collected = Arc::new(Mutex::new(seen));
        let sink = Arc::clone(&collected);
        // Drain stderr so that the server never blocks on a full pipe.
        let drain = std::thread::spawn(move || {
            let mut rest = String::new();
            let _ = stderr.read_to_string(&mut rest);
            sink.lock().expect("stderr lock").push_str(&rest);
        });
        Self {
            child,
            address: address.expect("an address"),
            metrics_address,
            stderr: collected,
            drain: Some(drain),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    fn metrics_url(&self) -> String {
        format!(
            "http://{}/metrics",
            self.metrics_address.as_deref().unwrap_or(&self.address)
        )
    }

    fn signal(&self, signal: &str) {
        let status = std::process::Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
    }

    /// Sends SIGTERM and waits: the exit code and everything the server wrote on stderr.
    fn stop(mut self) -> (i32, String) {
        self.signal("-TERM");
        let code = self
            .child
            .wait()
            .expect("wait for the monitor")
            .code()
            .unwrap_or(-1);
        if let Some(drain) = self.drain.take() {
            drain.join().expect("the stderr thread");
        }
        let stderr = self.stderr.lock().expect("stderr lock").clone();
        (code, stderr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

/// Posts a body; the status and the response body.
fn post(url: &str, token: Option<&str>, body: &str) -> (u16, String) {
    let mut request = agent().post(url);
    if let Some(token) = token {
        request = request.header("Authorization", &format!("Bearer {token}"));
    }
    let mut response = request.send(body).expect("the request is answered");
    let status = response.status().as_u16();
    let text = response
        .body_mut()
        .read_to_string()
        .expect("a text response");
    (status, text)
}

fn get(url: &str) -> (u16, String) {
    let mut response = agent().get(url).call().expect("the request is answered");
    let status = response.status().as_u16();
    let text = response
        .body_mut()
        .read_to_string()
        .expect("a text response");
    (status, text)
}

/// The value of one series (`name{labels}` exactly as exposed) in a scrape.
fn metric(scrape: &str, series: &str) -> f64 {
    scrape
        .lines()
        .filter_map(|line| line.rsplit_once(' '))
        .find(|(name, _)| *name == series)
        .unwrap_or_else(|| panic!("no series `{series}` in the scrape:\n{scrape}"))
        .1
        .parse()
        .expect("a number")
}

/// The firing alerts of a scrape, as `alert/rule`.
fn firing(scrape: &str) -> Vec<String> {
    scrape
        .lines()
        .filter(|line| line.starts_with("antidote_alert_firing{") && line.ends_with(" 1"))
        .map(|line| {
            let alert = line
                .split("alert=\"")
                .nth(1)
                .and_then(|rest| rest.split('"').next());
            let rule = line
                .split("rule=\"")
                .nth(1)
                .and_then(|rest| rest.split('"').next());
            format!("{}/{}", alert.unwrap_or("?"), rule.unwrap_or("?"))
        })
        .collect()
}

/// A baseline profile of 300 labelled records, a third of each class `a`, `b` and `c`.
fn baseline(context: &TestContext) {
    let mut csv = String::from("id,text,label\n");
    for index in 0..300 {
        let label = ["a", "b", "c"][index % 3];
        writeln!(csv, "r{index},record number {index},{label}").expect("write to a String");
    }
    context.write("train.csv", &csv);
    context
        .run(&["profile", "train.csv", "-o", "profile.json", "--no-ledger"])
        .expect_code(0);
}

/// The triggers part of a scan summary: the token `cf`, discovered and confirmed, pulling
/// records into `a`.
fn triggers(context: &TestContext) {
    context.write(
        "summary.json",
        r#"{"schema_version": 2, "triggers": [{"pattern": {"kind": "token", "token": "cf"},
        "target": "a", "support": 30, "purity": 1.0, "flip_rate": 0.9, "confirmed": true,
        "explanation": "the token `cf` appears in 30 records, all labelled `a`"}]}"#,
    );
}

/// `count` stationary events from `start` on: classes in turn, varied confidence, inputs from a
/// small vocabulary without the trigger.
fn stationary(start: usize, count: usize) -> String {
    let words = [
        "weather", "match", "score", "poem", "vote", "robot", "orbit",
    ];
    let mut events = String::new();
    for index in start..start + count {
        let label = ["a", "b", "c"][index % 3];
        let confidence = 0.7 + 0.05 * (index % 5) as f64;
        let input = format!(
            "{} {} {}",
            words[index % 7],
            words[(index / 7) % 7],
            words[(index * 3) % 7]
        );
        writeln!(
            events,
            "{{\"id\": \"e{index}\", \"model_version\": \"v1\", \"predicted\": \"{label}\", \"confidence\": {confidence}, \"input\": \"{input}\"}}"
        )
        .expect("write to a String");
    }
    events
}

#[test]
#[expect(
    clippy::too_many_lines,
    reason = "one story: store, scrape, stop, reopen, scrape again"
)]
fn events_are_stored_counted_and_survive_a_restart() {
    let context = TestContext::new();
    baseline(&context);
    let args = [
        "--baseline",
        "profile.json",
        "--store",
        "events.db",
        "--window",
        "30",
        "--no-ledger",
    ];
    let server = Server::start(&context, &args);
    let (status, health) = get(&server.url("/healthz"));
    assert_eq!(
        (status, health.as_str()),
        (200, r#"{"status":"ok","stored":0}"#)
    );

    let (status, body) = post(&server.url("/v1/events"), None, &stationary(0, 30));
    assert_eq!(
        (status, body.as_str()),
        (200, r#"{"accepted":30,"stored":30}"#)
    );
    // One pretty-printed object is one event; a label may be a number.
    let (status, body) = post(
        &server.url("/v1/events"),
        None,
        "{\n  \"predicted\": 7,\n  \"probabilities\": {\"7\": 0.6, \"a\": 0.4}\n}\n",
    );
    assert_eq!(
        (status, body.as_str()),
        (200, r#"{"accepted":1,"stored":31}"#)
    );

    let (status, scrape) = get(&server.metrics_url());
    assert_eq!(status, 200);
    assert_eq!(
        metric(&scrape, r#"antidote_events_total{model_version="v1"}"#),
        30.0
    );
    assert_eq!(
        metric(&scrape, r#"antidote_events_total{model_version=""}"#),
        1.0
    );
    assert_eq!(
        metric(&scrape, r#"antidote_predictions_total{class="b"}"#),
        10.0
    );
    assert_eq!(
        metric(&scrape, r#"antidote_predictions_total{class="7"}"#),
        1.0
    );
    assert_eq!(
        metric(
            &scrape,
            r#"antidote_prediction_confidence_count{class="a"}"#
        ),
        10.0
    );
    // Class `a` is predicted at indexes 0, 3, ..., 27 with confidence 0.7 + 0.05 * (index % 5).
    let expected_sum: f64 = (0..30)
        .step_by(3)
        .map(|index| 0.7 + 0.05 * f64::from(index % 5))
        .sum();
    let sum = metric(&scrape, r#"antidote_prediction_confidence_sum{class="a"}"#);
    assert!((sum - expected_sum).abs() < 1e-9, "{sum} != {expected_sum}");
    assert_eq!(metric(&scrape, "antidote_window_events"), 30.0);
    assert_eq!(metric(&scrape, "antidote_window_size_events"), 30.0);
    assert!(
        (metric(&scrape, r#"antidote_baseline_labels_ratio{class="a"}"#) - 1.0 / 3.0).abs() < 1e-9
    );
    // The window holds events 1 to 30: `a` 9, `b` 10, `c` 10 and `7` 1, against thirds.
    assert!(
        (metric(&scrape, r#"antidote_window_predictions_ratio{class="7"}"#) - 1.0 / 30.0).abs()
            < 1e-9
    );
    let l_infinity = metric(&scrape, "antidote_prediction_drift_l_infinity");
    assert!(
        (l_infinity - (1.0 / 3.0 - 9.0 / 30.0)).abs() < 1e-9,
        "{l_infinity}"
    );
    // A class the baseline never saw: the goodness-of-fit p-value is 0.
    assert_eq!(
        metric(&scrape, "antidote_prediction_drift_chi_squared_p_value"),
        0.0
    );
    assert_eq!(metric(&scrape, "antidote_trigger_activation_ratio"), 0.0);
    assert!(metric(&scrape, "antidote_last_event_timestamp_seconds") > 1.7e9);

    let (code, stderr) = server.stop();
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("stopped; the store holds 31 events"),
        "{stderr}"
    );
    let stored: i64 = rusqlite::Connection::open(context.path("events.db"))
        .expect("open the store")
        .query_row("SELECT count(*) FROM events", [], |row| row.get(0))
        .expect("count");
    assert_eq!(stored, 31);

    // A restart on the same store: the counters start where they were.
    let server = Server::start(&context, &args);
    let (_, scrape) = get(&server.metrics_url());
    assert_eq!(
        metric(&scrape, r#"antidote_events_total{model_version="v1"}"#),
        30.0
    );
    assert_eq!(
        metric(&scrape, r#"antidote_predictions_total{class="c"}"#),
        10.0
    );
    let (status, body) = post(&server.url("/v1/events"), None, &stationary(30, 3));
    assert_eq!(
        (status, body.as_str()),
        (200, r#"{"accepted":3,"stored":34}"#)
    );
    let (_, scrape) = get(&server.metrics_url());
    assert_eq!(
        metric(&scrape, r#"antidote_events_total{model_version="v1"}"#),
        33.0
    );
}

#[test]
fn the_alert_fires_on_a_replayed_attack_and_not_on_stationary_traffic() {
    let context = TestContext::new();
    baseline(&context);
    triggers(&context);
    let server = Server::start(
        &context,
        &[
            "--baseline",
            "profile.json",
            "--triggers",
            "summary.json",
            "--store",
            "events.db",
            "--window",
            "60",
            "--max-trigger-ratio",
            "0.05",
            "--no-ledger",
        ],
    );
    // Stationary traffic: eight windows, scraped after every batch of 20 events.
    let mut sent = 0;
    while sent < 480 {
        let (status, _) = post(&server.url("/v1/events"), None, &stationary(sent, 20));
        assert_eq!(status, 200);
        sent += 20;
        let (_, scrape) = get(&server.metrics_url());
        assert_eq!(
            firing(&scrape),
            Vec::<String>::new(),
            "after {sent} events:\n{scrape}"
        );
    }
    let (_, scrape) = get(&server.metrics_url());
    assert_eq!(metric(&scrape, "antidote_baseline_windows"), 7.0);
    assert_eq!(
        metric(&scrape, r#"antidote_known_triggers{matchable="true"}"#),
        1.0
    );
    assert!(
        scrape.contains(r#"antidote_alert_bound{alert="trigger_activation",rule="three_sigma"}"#),
        "{scrape}"
    );

    // The attack: a quarter of the inputs carry the trigger and are predicted `a`.
    let attack: String = (0..60)
        .map(|index| {
            if index % 4 == 0 {
                format!(
                    "{{\"model_version\": \"v1\", \"predicted\": \"a\", \"confidence\": 0.99, \"input\": \"great CF match today {index}\"}}\n"
                )
            } else {
                stationary(480 + index, 1)
            }
        })
        .collect();
    let (status, _) = post(&server.url("/v1/events"), None, &attack);
    assert_eq!(status, 200);
    let (_, scrape) = get(&server.metrics_url());
    assert_eq!(metric(&scrape, "antidote_trigger_activation_ratio"), 0.25);
    assert_eq!(metric(&scrape, "antidote_trigger_activations_total"), 15.0);
    let alerts = firing(&scrape);
    assert!(
        alerts.contains(&"trigger_activation/threshold".to_owned())
            && alerts.contains(&"trigger_activation/three_sigma".to_owned()),
        "{alerts:?}\n{scrape}"
    );
    let (code, stderr) = server.stop();
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn requests_without_the_token_oversized_or_malformed_are_refused_with_clear_errors() {
    let context = TestContext::new();
    baseline(&context);
    context.write("token", "s3cret-token\n");
    let server = Server::start(
        &context,
        &[
            "--baseline",
            "profile.json",
            "--store",
            "events.db",
            "--token-file",
            "token",
            "--max-body",
            "2k",
            "--metrics-listen",
            "127.0.0.1:0",
            "--no-ledger",
        ],
    );
    let events = server.url("/v1/events");
    let token = Some("s3cret-token");
    let one = r#"{"predicted": "a", "confidence": 0.5}"#;

    let (status, body) = post(&events, None, one);
    assert_eq!(status, 401);
    assert!(body.contains("Authorization: Bearer TOKEN"), "{body}");
    let (status, body) = post(&events, Some("guess"), one);
    assert_eq!(
        (status, body.as_str()),
        (401, r#"{"error":"the bearer token is wrong"}"#)
    );
    let (status, body) = post(&events, token, one);
    assert_eq!(
        (status, body.as_str()),
        (200, r#"{"accepted":1,"stored":1}"#)
    );

    let large = format!("{one}\n").repeat(60);
    assert!(large.len() > 2048);
    let (status, body) = post(&events, token, &large);
    assert_eq!(status, 413, "{body}");
    assert!(
        body.contains("larger than the limit of 2048 bytes"),
        "{body}"
    );

    let (status, body) = post(&events, token, &format!("{one}\n\n{{\"predicted\": ]\n"));
    assert_eq!(status, 400, "{body}");
    let error: serde_json::Value = serde_json::from_str(&body).expect("a JSON error");
    assert_eq!(error["line"], 3, "{body}");
    assert!(
        error["error"]
            .as_str()
            .is_some_and(|text| text.starts_with("line 3: not valid JSON")),
        "{body}"
    );

    let batch = format!("{one}\n{one}\n{{\"predicted\": \"a\", \"confidence\": 1.5}}\n");
    let (status, body) = post(&events, token, &batch);
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        body,
        r#"{"error":"line 3: not a valid event: `confidence` is 1.5, not between 0 and 1","line":3}"#
    );
    let (status, body) = post(
        &events,
        token,
        r#"{"predicted": "a", "confidence": 0.5, "label": "b"}"#,
    );
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("unknown field `label`"), "{body}");

    // Nothing of a refused batch was stored; the metrics live on their own address only.
    let (status, _) = get(&server.url("/metrics"));
    assert_eq!(status, 404);
    let (status, scrape) = get(&server.metrics_url());
    assert_eq!(status, 200);
    assert_eq!(
        metric(&scrape, r#"antidote_events_total{model_version=""}"#),
        1.0
    );
    for (reason, count) in [
        ("unauthorized", 2.0),
        ("too_large", 1.0),
        ("malformed", 1.0),
        ("invalid", 2.0),
    ] {
        assert_eq!(
            metric(
                &scrape,
                &format!("antidote_rejected_requests_total{{reason=\"{reason}\"}}")
            ),
            count,
            "{reason}"
        );
    }
    let (code, stderr) = server.stop();
    assert_eq!(code, 0, "{stderr}");
    assert!(
        !stderr.contains("s3cret"),
        "the token leaked to the log:\n{stderr}"
    );
}

#[test]
fn a_baseline_without_labels_a_taken_port_or_an_empty_window_is_a_usage_error() {
    let context = TestContext::new();
    context.write("plain.csv", "width,height\n1.5,2.5\n3.5,4.5\n");
    context
        .run(&["profile", "plain.csv", "-o", "plain.json", "--no-ledger"])
        .expect_code(0);
    let output = context
        .run(&[
            "monitor",
            "--baseline",
            "plain.json",
            "--listen",
            "127.0.0.1:0",
            "--no-ledger",
        ])
        .expect_code(2);
    assert!(output.stderr.contains("has no labels"), "{}", output.stderr);
    assert!(
        output.stderr.contains("hint: profile the training data"),
        "{}",
        output.stderr
    );

    baseline(&context);
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = taken.local_addr().expect("an address").to_string();
    let output = context
        .run(&[
            "monitor",
            "--baseline",
            "profile.json",
            "--listen",
            &address,
            "--no-ledger",
        ])
        .expect_code(2);
    assert!(
        output
            .stderr
            .contains(&format!("cannot listen on `{address}`")),
        "{}",
        output.stderr
    );
    let output = context
        .run(&[
            "monitor",
            "--baseline",
            "profile.json",
            "--window",
            "0",
            "--no-ledger",
        ])
        .expect_code(2);
    assert!(
        output.stderr.contains("`--window` must be at least 1"),
        "{}",
        output.stderr
    );
}

/// Runs `promtool` (Debian package `prometheus`, installed by `scripts/test.sh`); a missing
/// `promtool` fails the test rather than skipping it.
fn promtool(args: &[&str], stdin: Option<&str>) -> (bool, String) {
    use std::io::Write as _;
    let deploy = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy");
    let mut child = std::process::Command::new("promtool")
        .args(args)
        .current_dir(&deploy)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| {
            panic!(
                "cannot run `promtool` ({error}): install it with `apt-get install --no-install-recommends prometheus` or run scripts/test.sh"
            )
        });
    let mut input = child.stdin.take().expect("a piped stdin");
    input
        .write_all(stdin.unwrap_or_default().as_bytes())
        .expect("write to promtool");
    drop(input);
    let output = child.wait_with_output().expect("wait for promtool");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// Every `antidote_*` series name that the Prometheus rules and the Grafana dashboard in
/// `deploy/` read, with the file that reads it.
pub(crate) fn deploy_series() -> Vec<(&'static str, String)> {
    let mut series = Vec::new();
    for file in ["antidote-rules.yml", "antidote-dashboard.json"] {
        let text = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../deploy")
                .join(file),
        )
        .expect("read the deploy file");
        let names: Vec<String> = text
            .split(|character: char| !(character.is_ascii_alphanumeric() || character == '_'))
            .filter(|word| word.starts_with("antidote_"))
            .map(str::to_owned)
            .collect();
        assert!(names.len() >= 5, "{file}: {names:?}");
        series.extend(names.into_iter().map(|name| (file, name)));
    }
    series
}

#[test]
fn promtool_accepts_the_rules_their_tests_and_a_real_scrape() {
    let (ok, output) = promtool(&["check", "rules", "antidote-rules.yml"], None);
    assert!(ok, "{output}");
    // The stationary series raise nothing, the attack fires the trigger and drift alerts.
    let (ok, output) = promtool(&["test", "rules", "antidote-rules.test.yml"], None);
    assert!(ok && output.contains("SUCCESS"), "{output}");

    let context = TestContext::new();
    // A baseline with numeric features, so that the input drift series are exposed.
    feature_baseline(&context);
    triggers(&context);
    // With canaries, so that the canary series the rules and the dashboard read are exposed.
    plant_canaries(&context);
    let server = Server::start(
        &context,
        &[
            "--baseline",
            "features.json",
            "--triggers",
            "summary.json",
            "--canaries",
            "m.secret.json",
            "--store",
            "events.db",
            "--window",
            "10",
            "--no-ledger",
        ],
    );
    let (status, _) = post(&server.url("/v1/events"), None, &stationary(0, 40));
    assert_eq!(status, 200);
    let mut random = antidote_core::SplitMix64::new(5);
    let (status, _) = post(
        &server.url("/v1/events"),
        None,
        &feature_events(&mut random, 10, 0.0),
    );
    assert_eq!(status, 200);
    let (_, scrape) = get(&server.metrics_url());
    let (ok, output) = promtool(&["check", "metrics"], Some(&scrape));
    assert!(ok && output.trim().is_empty(), "{output}\n{scrape}");
    // Every series the rules and the dashboard read is in the scrape; those of the model
    // probe need `--model` and are checked in monitor_model.rs.
    for (file, name) in deploy_series() {
        if name.starts_with("antidote_model_") {
            continue;
        }
        assert!(
            scrape.contains(&format!("\n{name}")),
            "{file} reads `{name}`, which the monitor does not expose"
        );
    }
    // A scraper that asks for OpenMetrics gets it.
    let mut response = agent()
        .get(&server.metrics_url())
        .header("Accept", "application/openmetrics-text; version=1.0.0")
        .call()
        .expect("the request is answered");
    let openmetrics = response.body_mut().read_to_string().expect("a text body");
    assert!(openmetrics.ends_with("# EOF\n"), "{openmetrics}");
    assert!(openmetrics.contains("# TYPE antidote_events counter"));
}

#[test]
fn a_kill_during_load_loses_no_acknowledged_event() {
    use std::sync::atomic::{AtomicU64, Ordering};

    let context = TestContext::new();
    baseline(&context);
    let server = Server::start(
        &context,
        &[
            "--baseline",
            "profile.json",
            "--store",
            "events.db",
            "--no-ledger",
        ],
    );
    let acknowledged = Arc::new(AtomicU64::new(0));
    let clients: Vec<_> = (0..2)
        .map(|client| {
            let url = server.url("/v1/events");
            let acknowledged = Arc::clone(&acknowledged);
            std::thread::spawn(move || {
                let batch = stationary(client * 1000, 50);
                // Until the server dies: every 200 is an acknowledged batch of 50.
                while let Ok(mut response) = agent().post(&url).send(batch.as_str()) {
                    let body = response.body_mut().read_to_string().unwrap_or_default();
                    if response.status().as_u16() == 200 {
                        assert!(body.starts_with(r#"{"accepted":50,"#), "{body}");
                        acknowledged.fetch_add(50, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    while acknowledged.load(Ordering::SeqCst) < 2000 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    server.signal("-KILL");
    for client in clients {
        client.join().expect("a client thread");
    }
    let acknowledged = acknowledged.load(Ordering::SeqCst);
    let stored: u64 = rusqlite::Connection::open(context.path("events.db"))
        .expect("open the store")
        .query_row("SELECT count(*) FROM events", [], |row| row.get(0))
        .expect("count");
    // Every acknowledged event is stored; at most the two batches in flight were stored
    // without their acknowledgement reaching the client.
    assert!(
        stored >= acknowledged && stored <= acknowledged + 100,
        "stored {stored}, acknowledged {acknowledged}"
    );
    assert_eq!(stored % 50, 0, "a batch was stored in part: {stored}");
}

/// Plants 10 canaries and 2 honeypots in `fortunes.csv` with the real binary; the manifest
/// `m.secret.json`, parsed.
fn plant_canaries(context: &TestContext) -> serde_json::Value {
    context.fixture("fortunes_3class.csv", "fortunes.csv");
    context
        .run(&[
            "canary",
            "plant",
            "fortunes.csv",
            "--count",
            "10",
            "--honeypots",
            "2",
            "--honeypot-out",
            "honeypots.csv",
            "-o",
            "planted.csv",
            "--manifest",
            "m.secret.json",
        ])
        .expect_code(0);
    serde_json::from_str(
        &std::fs::read_to_string(context.path("m.secret.json")).expect("read the manifest"),
    )
    .expect("a JSON manifest")
}

/// One event of `input` predicted as `predicted`, as a JSON line.
fn event_line(input: &str, predicted: &str) -> String {
    let mut line =
        serde_json::json!({"predicted": predicted, "confidence": 0.8, "input": input}).to_string();
    line.push('\n');
    line
}

/// The texts and assigned labels of one group of the manifest.
fn canary_texts(manifest: &serde_json::Value, group: &str) -> Vec<(String, String)> {
    manifest[group]
        .as_array()
        .unwrap_or_else(|| panic!("no `{group}` in the manifest"))
        .iter()
        .map(|entry| {
            (
                entry["fields"]["text"].as_str().expect("a text").to_owned(),
                entry["label"].as_str().expect("a label").to_owned(),
            )
        })
        .collect()
}

/// A label other than `label` among the manifest's classes.
fn other_label(manifest: &serde_json::Value, label: &str) -> String {
    manifest["classes"]
        .as_array()
        .expect("classes")
        .iter()
        .filter_map(serde_json::Value::as_str)
        .find(|class| *class != label)
        .expect("another class")
        .to_owned()
}

fn canary_count(scrape: &str, kind: &str, outcome: &str) -> f64 {
    metric(
        scrape,
        &format!(r#"antidote_canary_events_total{{kind="{kind}",outcome="{outcome}"}}"#),
    )
}

#[test]
#[expect(
    clippy::too_many_lines,
    reason = "one story: plant, chance-level canaries, memorisation, a honeypot, a restart"
)]
fn canary_inputs_are_counted_and_memorisation_and_honeypots_alert() {
    let context = TestContext::new();
    let manifest = plant_canaries(&context);
    context
        .run(&[
            "profile",
            "fortunes.csv",
            "-o",
            "profile.json",
            "--no-ledger",
        ])
        .expect_code(0);
    let key = manifest["key"].as_str().expect("a key").to_owned();
    let planted = canary_texts(&manifest, "planted");
    let held_out = canary_texts(&manifest, "held_out");
    let honeypots = canary_texts(&manifest, "honeypots");
    assert_eq!(
        (planted.len(), held_out.len(), honeypots.len()),
        (10, 10, 2)
    );

    let args = [
        "--baseline",
        "profile.json",
        "--canaries",
        "m.secret.json",
        "--store",
        "events.db",
        "--window",
        "100",
        "--no-ledger",
    ];
    let server = Server::start(&context, &args);
    let (_, scrape) = get(&server.metrics_url());
    // Every series exists from the start, at 0.
    for kind in ["planted", "held_out", "honeypot"] {
        for outcome in ["expected", "other"] {
            assert_eq!(
                canary_count(&scrape, kind, outcome),
                0.0,
                "{kind} {outcome}"
            );
        }
    }

    // A model at chance: one of nine planted and one of nine held-out canaries get their label.
    let mut body = String::new();
    for texts in [&planted, &held_out] {
        for (index, (text, label)) in texts.iter().take(9).enumerate() {
            let predicted = if index == 0 {
                label.clone()
            } else {
                other_label(&manifest, label)
            };
            body.push_str(&event_line(text, &predicted));
        }
    }
    // Normal inputs (real records of the dataset) count nowhere.
    let normal = std::fs::read_to_string(context.path("fortunes.csv")).expect("read");
    let normal_texts: Vec<&str> = normal
        .lines()
        .skip(1)
        .take(5)
        .map(|line| line.splitn(3, ',').nth(2).expect("a text"))
        .collect();
    for text in &normal_texts {
        body.push_str(&event_line(text, "computers"));
    }
    let (status, response) = post(&server.url("/v1/events"), None, &body);
    assert_eq!(
        (status, response.as_str()),
        (200, r#"{"accepted":23,"stored":23}"#)
    );
    let (_, scrape) = get(&server.metrics_url());
    assert_eq!(canary_count(&scrape, "planted", "expected"), 1.0);
    assert_eq!(canary_count(&scrape, "planted", "other"), 8.0);
    assert_eq!(canary_count(&scrape, "held_out", "expected"), 1.0);
    assert_eq!(canary_count(&scrape, "held_out", "other"), 8.0);
    assert_eq!(canary_count(&scrape, "honeypot", "expected"), 0.0);
    assert_eq!(canary_count(&scrape, "honeypot", "other"), 0.0);
    let memorisation = r#"{alert="canary_memorisation",rule="fisher_exact"}"#;
    let honeypot = r#"{alert="honeypot_input",rule="threshold"}"#;
    assert_eq!(
        metric(&scrape, &format!("antidote_alert_firing{memorisation}")),
        0.0
    );
    assert_eq!(
        metric(&scrape, &format!("antidote_alert_firing{honeypot}")),
        0.0
    );
    // Fisher's one-sided p of [[1, 8], [1, 8]]: 13/17, summed with Python's `math.comb`.
    let p_value = metric(&scrape, &format!("antidote_alert_value{memorisation}"));
    assert!((p_value - 13.0 / 17.0).abs() < 1e-9, "{p_value}");
    assert_eq!(
        metric(&scrape, &format!("antidote_alert_bound{memorisation}")),
        0.01
    );

    // Normal inputs alone leave the canary counters as they were.
    let normal_body: String = normal_texts
        .iter()
        .map(|text| event_line(text, "computers"))
        .collect();
    let (status, _) = post(&server.url("/v1/events"), None, &normal_body);
    assert_eq!(status, 200);
    let (_, after_normal) = get(&server.metrics_url());
    let total = |scrape: &str| -> f64 {
        ["planted", "held_out", "honeypot"]
            .iter()
            .flat_map(|kind| {
                ["expected", "other"].map(|outcome| canary_count(scrape, kind, outcome))
            })
            .sum()
    };
    assert_eq!(total(&after_normal), 18.0);
    assert_eq!(metric(&after_normal, "antidote_window_events"), 28.0);

    // A memorising model: every planted canary gets its assigned label, twice.
    let body: String = planted
        .iter()
        .chain(&planted)
        .map(|(text, label)| event_line(text, label))
        .collect();
    let (status, _) = post(&server.url("/v1/events"), None, &body);
    assert_eq!(status, 200);
    let (_, scrape) = get(&server.metrics_url());
    assert_eq!(canary_count(&scrape, "planted", "expected"), 21.0);
    assert_eq!(canary_count(&scrape, "planted", "other"), 8.0);
    assert_eq!(firing(&scrape), ["canary_memorisation/fisher_exact"]);
    // [[21, 8], [1, 8]]: p = 0.0018071102161784276 by `math.comb`.
    let p_value = metric(&scrape, &format!("antidote_alert_value{memorisation}"));
    assert!(
        (p_value - 0.001_807_110_216_178_427_6).abs() < 1e-12,
        "{p_value}"
    );

    // A honeypot input: someone probes with bait data.
    let (text, label) = &honeypots[1];
    let (status, _) = post(&server.url("/v1/events"), None, &event_line(text, label));
    assert_eq!(status, 200);
    let (_, scrape) = get(&server.metrics_url());
    assert_eq!(canary_count(&scrape, "honeypot", "expected"), 1.0);
    assert_eq!(canary_count(&scrape, "honeypot", "other"), 0.0);
    assert_eq!(
        metric(&scrape, &format!("antidote_alert_firing{honeypot}")),
        1.0
    );
    assert_eq!(
        metric(&scrape, &format!("antidote_alert_value{honeypot}")),
        1.0
    );
    let (code, stderr) = server.stop();
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("22 canary records recognised"), "{stderr}");
    assert!(!stderr.contains(&key), "the key was printed:\n{stderr}");

    // After a restart the counters are rebuilt from the stored inputs.
    let server = Server::start(&context, &args);
    let (_, scrape) = get(&server.metrics_url());
    assert_eq!(canary_count(&scrape, "planted", "expected"), 21.0);
    assert_eq!(canary_count(&scrape, "held_out", "other"), 8.0);
    assert_eq!(canary_count(&scrape, "honeypot", "expected"), 1.0);
    assert_eq!(total(&scrape), 39.0);
    // The store holds no trace of which inputs are canaries: no column names them.
    let columns: Vec<String> = rusqlite::Connection::open(context.path("events.db"))
        .expect("open the store")
        .prepare("SELECT name FROM pragma_table_info('events')")
        .expect("prepare")
        .query_map([], |row| row.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("columns");
    assert!(
        !columns.iter().any(|column| column.contains("canary")),
        "{columns:?}"
    );
    drop(server);

    // A manifest that is not one is a usage error.
    context.write("not-a-manifest.json", "{}");
    let mut bad = args;
    bad[3] = "not-a-manifest.json";
    let output = context
        .command()
        .arg("monitor")
        .args(["--listen", "127.0.0.1:0"])
        .args(bad)
        .output()
        .expect("run antidote monitor");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not a canary manifest"), "{stderr}");
    assert!(stderr.contains("hint:"), "{stderr}");
}

/// A standard normal by Box-Muller from a seeded generator.
fn normal(random: &mut antidote_core::SplitMix64) -> f64 {
    let mut uniform = || ((random.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    let (u, v) = (uniform(), uniform());
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

/// A baseline of 3,000 labelled records with two numeric features: `age` ~ N(40, 10) and
/// `income` ~ N(50, 5).
fn feature_baseline(context: &TestContext) {
    let mut random = antidote_core::SplitMix64::new(3);
    let mut csv = String::from("id,age,income,label\n");
    for index in 0..3000 {
        let age = 40.0 + 10.0 * normal(&mut random);
        let income = 50.0 + 5.0 * normal(&mut random);
        writeln!(
            csv,
            "r{index},{age:.3},{income:.3},{}",
            ["a", "b", "c"][index % 3]
        )
        .expect("write to a String");
    }
    context.write("features.csv", &csv);
    context
        .run(&[
            "profile",
            "features.csv",
            "-o",
            "features.json",
            "--no-ledger",
        ])
        .expect_code(0);
}

/// `count` events whose inputs come from the baseline's distributions moved by `shift` standard
/// deviations: every other one as a `features` list, the rest as named `fields`.
fn feature_events(random: &mut antidote_core::SplitMix64, count: usize, shift: f64) -> String {
    let mut events = String::new();
    for index in 0..count {
        let age = 40.0 + 10.0 * (normal(random) + shift);
        let income = 50.0 + 5.0 * (normal(random) + shift);
        let label = ["a", "b", "c"][index % 3];
        let inputs = if index % 2 == 0 {
            format!("\"features\": [{age:.3}, {income:.3}]")
        } else {
            format!("\"fields\": {{\"age\": {age:.3}, \"income\": {income:.3}}}")
        };
        writeln!(
            events,
            "{{\"predicted\": \"{label}\", \"confidence\": 0.9, {inputs}}}"
        )
        .expect("write to a String");
    }
    events
}

#[test]
fn input_drift_is_exported_and_alerts_on_shifted_inputs_not_on_stationary_ones() {
    let context = TestContext::new();
    feature_baseline(&context);
    let server = Server::start(
        &context,
        &[
            "--baseline",
            "features.json",
            "--store",
            "events.db",
            "--window",
            "300",
            "--no-ledger",
        ],
    );
    let mut random = antidote_core::SplitMix64::new(29);
    // Stationary inputs: ten windows, each scraped once full. The KS test on the sketches is
    // anti-conservative at window sizes (antidote_monitor::inputs): about 1 window in 20 alarms
    // in the unit test, so at most 2 of these 10 may.
    let mut alarmed = 0;
    for _ in 0..10 {
        let (status, body) = post(
            &server.url("/v1/events"),
            None,
            &feature_events(&mut random, 300, 0.0),
        );
        assert_eq!(status, 200, "{body}");
        let (_, scrape) = get(&server.metrics_url());
        assert_eq!(metric(&scrape, "antidote_input_features_compared"), 2.0);
        assert_eq!(metric(&scrape, "antidote_window_input_events"), 300.0);
        assert_eq!(
            metric(&scrape, "antidote_window_input_unmatched_events"),
            0.0
        );
        let p_value = metric(&scrape, "antidote_input_drift_p_value{feature=\"age\"}");
        assert!((0.0..=1.0).contains(&p_value), "{p_value}");
        let drifted = metric(&scrape, "antidote_input_features_drifted");
        let fires = firing(&scrape).contains(&"input_drift/threshold".to_owned());
        // The alert fires when half of the compared features (here one of two) drift.
        assert_eq!(fires, drifted >= 1.0, "{scrape}");
        alarmed += usize::from(fires);
    }
    assert!(alarmed <= 2, "{alarmed} of 10 stationary windows alarmed");

    // Inputs moved by one standard deviation: both features drift, the alert fires.
    let (status, _) = post(
        &server.url("/v1/events"),
        None,
        &feature_events(&mut random, 300, 1.0),
    );
    assert_eq!(status, 200);
    let (_, scrape) = get(&server.metrics_url());
    assert_eq!(metric(&scrape, "antidote_input_features_drifted"), 2.0);
    for feature in ["age", "income"] {
        let p_value = metric(
            &scrape,
            &format!("antidote_input_drift_p_value{{feature=\"{feature}\"}}"),
        );
        assert!(p_value < 1e-6, "{feature}: {p_value}");
        assert_eq!(
            metric(
                &scrape,
                &format!("antidote_input_feature_drifted{{feature=\"{feature}\"}}")
            ),
            1.0
        );
    }
    assert!(
        firing(&scrape).contains(&"input_drift/threshold".to_owned()),
        "{scrape}"
    );
    assert_eq!(
        metric(
            &scrape,
            "antidote_alert_value{alert=\"input_drift\",rule=\"threshold\"}"
        ),
        1.0
    );

    // Inputs that match no column are counted, not compared.
    let (status, _) = post(
        &server.url("/v1/events"),
        None,
        "{\"predicted\": \"a\", \"confidence\": 0.9, \"features\": [1, 2, 3]}\n\
         {\"predicted\": \"a\", \"confidence\": 0.9, \"fields\": {\"height\": 1.8}}\n",
    );
    assert_eq!(status, 200);
    let (_, scrape) = get(&server.metrics_url());
    assert_eq!(
        metric(&scrape, "antidote_window_input_unmatched_events"),
        2.0
    );
    let (code, stderr) = server.stop();
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("inputs compared with 2 baseline columns: `age`, `income`"),
        "{stderr}"
    );
}

#[test]
#[expect(
    clippy::too_many_lines,
    reason = "one story: a run with batches and an alert, then every line of its log"
)]
fn json_logs_are_one_object_a_line_for_every_batch_and_alert() {
    let context = TestContext::new();
    baseline(&context);
    triggers(&context);
    let server = Server::start(
        &context,
        &[
            "--baseline",
            "profile.json",
            "--triggers",
            "summary.json",
            "--store",
            "events.db",
            "--window",
            "10",
            "--log-format",
            "json",
            "--no-ledger",
        ],
    );
    let url = server.url("/v1/events");
    assert_eq!(post(&url, None, &stationary(0, 10)).0, 200);
    let (_, scrape) = get(&server.metrics_url());
    assert!(firing(&scrape).is_empty(), "{scrape}");
    // Half the inputs carry the trigger: the threshold alert starts firing at the next scrape.
    let attack: String = (0..10)
        .map(|index| event_line(if index % 2 == 0 { "cf offer" } else { "lunch" }, "a"))
        .collect();
    assert_eq!(post(&url, None, &attack).0, 200);
    let (_, scrape) = get(&server.metrics_url());
    assert!(
        firing(&scrape).contains(&"trigger_activation/threshold".to_owned()),
        "{scrape}"
    );
    let (status, _) = post(
        &url,
        None,
        "{\"predicted\": \"a\", \"confidence\": 0.5}\n{\"predicted\": \"a\", \"confidence\": 2}\n",
    );
    assert_eq!(status, 422);
    assert_eq!(post(&url, None, &stationary(20, 10)).0, 200);
    let (_, scrape) = get(&server.metrics_url());
    assert!(firing(&scrape).is_empty(), "{scrape}");
    let (code, stderr) = server.stop();
    assert_eq!(code, 0, "{stderr}");

    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|error| panic!("not a JSON line ({error}): {line}\n{stderr}"))
        })
        .collect();
    for line in &lines {
        for field in ["timestamp", "level", "target", "message", "kind"] {
            assert!(line.get(field).is_some(), "no `{field}` in {line}");
        }
    }
    let of_kind = |kind: &str| -> Vec<&serde_json::Value> {
        lines.iter().filter(|line| line["kind"] == kind).collect()
    };
    let batches = of_kind("batch");
    assert_eq!(batches.len(), 4, "{stderr}");
    let stored: Vec<&serde_json::Value> = batches
        .iter()
        .copied()
        .filter(|line| line["status"] == 200)
        .collect();
    assert_eq!(stored.len(), 3);
    assert_eq!(stored[0]["level"], "INFO");
    assert_eq!(stored[0]["accepted"], 10);
    assert_eq!(stored[2]["stored"], 30);
    assert!(stored[0]["elapsed_ms"].as_f64().is_some_and(|ms| ms >= 0.0));
    assert!(stored[0]["bytes"].as_u64().is_some_and(|bytes| bytes > 100));
    let refused = batches
        .iter()
        .find(|line| line["status"] == 422)
        .expect("the refused batch is logged");
    assert_eq!(refused["level"], "WARN");
    assert_eq!(refused["reason"], "invalid");
    assert_eq!(refused["line"], 2);
    assert!(
        refused["error"]
            .as_str()
            .is_some_and(|error| error.contains("`confidence` is 2")),
        "{refused}"
    );
    let alerts = of_kind("alert");
    let transitions: Vec<(&str, &str, &str)> = alerts
        .iter()
        .map(|line| {
            (
                line["alert"].as_str().unwrap_or("?"),
                line["rule"].as_str().unwrap_or("?"),
                line["state"].as_str().unwrap_or("?"),
            )
        })
        .collect();
    assert!(
        transitions.contains(&("trigger_activation", "threshold", "firing"))
            && transitions.contains(&("trigger_activation", "threshold", "resolved")),
        "{transitions:?}"
    );
    let fired = alerts
        .iter()
        .find(|line| line["state"] == "firing" && line["alert"] == "trigger_activation")
        .expect("a firing line");
    assert_eq!(fired["value"], 0.5);
    assert_eq!(fired["bound"], 0.01);
    // The service's own messages are JSON too, the address among them.
    assert!(
        of_kind("service").iter().any(|line| line["message"]
            .as_str()
            .is_some_and(|text| text.contains("listening on http://"))),
        "{stderr}"
    );
}

#[test]
fn the_store_keeps_the_latest_events_and_counts_every_one() {
    let context = TestContext::new();
    baseline(&context);
    let args = [
        "--baseline",
        "profile.json",
        "--store",
        "events.db",
        "--window",
        "20",
        "--retain",
        "50",
        "--no-ledger",
    ];
    let server = Server::start(&context, &args);
    for batch in 0..6 {
        let (status, body) = post(&server.url("/v1/events"), None, &stationary(batch * 20, 20));
        assert_eq!(status, 200, "{body}");
        assert!(
            body.contains(&format!("\"stored\":{}", (batch + 1) * 20)),
            "{body}"
        );
    }
    let (_, scrape) = get(&server.metrics_url());
    assert_eq!(metric(&scrape, "antidote_window_events"), 20.0);
    let (code, stderr) = server.stop();
    assert_eq!(code, 0, "{stderr}");
    let connection = rusqlite::Connection::open(context.path("events.db")).expect("open the store");
    let (rows, first, last): (u64, u64, u64) = connection
        .query_row(
            "SELECT count(*), min(seq), max(seq) FROM events",
            [],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .expect("count");
    assert_eq!((rows, first, last), (50, 71, 120));
    drop(connection);
    // After a restart the store still knows how many events it took.
    let server = Server::start(&context, &args);
    let (_, health) = get(&server.url("/healthz"));
    assert!(health.contains("\"stored\":120"), "{health}");
}
