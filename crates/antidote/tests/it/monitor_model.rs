//! `antidote monitor --model`: events that carry only their features are predicted by a model
//! folder of `antidote train`, and the canary inputs of a manifest are probed through the model,
//! here a clean one and a real HTTP endpoint that memorised the planted canaries.
#![expect(
    clippy::unwrap_used,
    reason = "the test helpers fail the test on any error"
)]
#![expect(
    clippy::float_cmp,
    reason = "the scraped counters and gauges are counts and shares of small integers, exact in f64"
)]

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::TestContext;

/// A running monitor, killed when dropped.
struct Monitor {
    child: Child,
    address: String,
}

impl Monitor {
    fn start(context: &TestContext, args: &[&str]) -> Self {
        let mut child = context
            .command()
            .args(["monitor", "--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut seen = String::new();
        let address = loop {
            let mut line = String::new();
            assert!(
                stderr.read_line(&mut line).unwrap() > 0,
                "the monitor exited before listening:\n{seen}"
            );
            seen.push_str(&line);
            if let Some(rest) = line.split("listening on http://").nth(1) {
                break rest.split_whitespace().next().unwrap().to_owned();
            }
        };
        assert!(
            seen.contains("predicts events without a prediction"),
            "{seen}"
        );
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut stderr, &mut std::io::sink());
        });
        Self { child, address }
    }

    fn agent() -> ureq::Agent {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into()
    }

    fn post(&self, body: &str) -> (u16, String) {
        let mut response = Self::agent()
            .post(&format!("http://{}/v1/events", self.address))
            .send(body)
            .unwrap();
        let status = response.status().as_u16();
        (status, response.body_mut().read_to_string().unwrap())
    }

    fn scrape(&self) -> String {
        Self::agent()
            .get(&format!("http://{}/metrics", self.address))
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap()
    }

    /// Scrapes until the first canary probe has been exported (at most a minute).
    fn probed(&self) -> String {
        let start = Instant::now();
        loop {
            let scrape = self.scrape();
            if scrape.contains("antidote_model_canary_probes_total 1") {
                return scrape;
            }
            assert!(
                start.elapsed() < Duration::from_mins(1),
                "no probe after a minute:\n{scrape}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn metric(scrape: &str, series: &str) -> f64 {
    scrape
        .lines()
        .filter_map(|line| line.rsplit_once(' '))
        .find(|(name, _)| *name == series)
        .unwrap_or_else(|| panic!("no series `{series}` in the scrape:\n{scrape}"))
        .1
        .parse()
        .unwrap()
}

/// 200 records of two numbers, labelled `a` above the line `x + y = 0` and `b` below; its
/// profile; and canaries planted in a copy (30 planted, 30 held out).
fn setup(context: &TestContext) -> serde_json::Value {
    let mut csv = String::from("id,x,y,label\n");
    let mut state: u64 = 7;
    let mut next = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        ((state >> 33) as f64 / f64::from(1u32 << 31)) * 8.0 - 4.0
    };
    for index in 0..200 {
        let (x, y) = (next(), next());
        let label = if x + y > 0.0 { "a" } else { "b" };
        writeln!(csv, "r{index},{x:.4},{y:.4},{label}").unwrap();
    }
    context.write("data.csv", &csv);
    context
        .run(&["profile", "data.csv", "-o", "profile.json"])
        .expect_code(0);
    context
        .run(&[
            "canary",
            "plant",
            "data.csv",
            "--count",
            "30",
            "-o",
            "planted.csv",
            "--manifest",
            "m.secret.json",
        ])
        .expect_code(0);
    serde_json::from_str(&std::fs::read_to_string(context.path("m.secret.json")).unwrap()).unwrap()
}

#[test]
fn a_model_folder_predicts_events_without_a_prediction_and_answers_the_canary_probe() {
    let context = TestContext::new();
    setup(&context);
    context
        .run(&[
            "train",
            "data.csv",
            "--holdout",
            "0",
            "--epochs",
            "30",
            "--out",
            "model",
        ])
        .expect_code(0);
    let monitor = Monitor::start(
        &context,
        &[
            "--baseline",
            "profile.json",
            "--model",
            "model",
            "--canaries",
            "m.secret.json",
            "--store",
            "events.db",
        ],
    );
    let body = concat!(
        "{\"id\": \"e1\", \"features\": [3.5, 3.0]}\n",
        "{\"id\": \"e2\",\n \"features\": [-3.0, -3.5]}\n",
        "{\"predicted\": \"a\", \"confidence\": 0.9}\n",
    );
    let (status, answer) = monitor.post(body);
    assert_eq!(status, 200, "{answer}");
    assert!(answer.contains("\"accepted\":3"), "{answer}");
    let scrape = monitor.probed();
    assert_eq!(metric(&scrape, "antidote_model_predictions_total"), 2.0);
    assert_eq!(
        metric(&scrape, r#"antidote_predictions_total{class="a"}"#),
        2.0
    );
    assert_eq!(
        metric(&scrape, r#"antidote_predictions_total{class="b"}"#),
        1.0
    );

    // Features that do not fit the model: 422, naming the line, and nothing is stored.
    let (status, answer) = monitor
        .post("{\"predicted\": \"a\", \"confidence\": 0.9}\n{\"features\": [1.0, 2.0, 3.0]}\n");
    assert_eq!(status, 422, "{answer}");
    assert!(answer.contains("\"line\":2"), "{answer}");
    assert!(answer.contains("the model reads 2"), "{answer}");

    // The probe: every canary input answered; a model trained on clean data has memorised
    // nothing.
    assert_eq!(
        metric(&scrape, r#"antidote_model_canary_inputs{group="planted"}"#),
        30.0
    );
    assert_eq!(
        metric(&scrape, r#"antidote_model_canary_inputs{group="held_out"}"#),
        30.0
    );
    assert_eq!(
        metric(
            &scrape,
            r#"antidote_model_canary_memorised{group="planted"}"#
        ),
        0.0
    );
    let p = metric(&scrape, r#"antidote_model_canary_p_value{group="planted"}"#);
    assert!(p > 0.001 && p <= 1.0, "{p}");
    // Every series of the model probe that deploy/'s rules and dashboard read is exposed.
    let model_series: Vec<_> = crate::monitor::deploy_series()
        .into_iter()
        .filter(|(_, name)| name.starts_with("antidote_model_"))
        .collect();
    assert!(model_series.len() >= 3, "{model_series:?}");
    for (file, name) in model_series {
        assert!(
            scrape.contains(&format!("\n{name}")),
            "{file} reads `{name}`, which the monitor with `--model` does not expose"
        );
    }
}

/// A model server that memorised the planted canaries: it answers each planted canary's
/// assigned label, and `b` to everything else.
fn memorising_endpoint(manifest: &serde_json::Value) -> String {
    let planted: Vec<(String, String)> = manifest["planted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            (
                entry["fields"].to_string(),
                entry["label"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/predict", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap();
                }
                if line == "\r\n" || line.is_empty() {
                    break;
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let request: serde_json::Value = serde_json::from_slice(&body).unwrap();
            let labels: Vec<String> = request["instances"]
                .as_array()
                .unwrap()
                .iter()
                .map(|instance| {
                    let fields = instance["features"].to_string();
                    planted
                        .iter()
                        .find(|(planted, _)| *planted == fields)
                        .map_or_else(|| "b".to_owned(), |(_, label)| label.clone())
                })
                .collect();
            let answer = serde_json::json!({ "predictions": labels }).to_string();
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    url
}

#[test]
fn an_endpoint_that_memorised_the_planted_canaries_raises_the_probe_alert() {
    let context = TestContext::new();
    let manifest = setup(&context);
    let url = memorising_endpoint(&manifest);
    let monitor = Monitor::start(
        &context,
        &[
            "--baseline",
            "profile.json",
            "--model",
            &url,
            "--canaries",
            "m.secret.json",
            "--store",
            "events.db",
        ],
    );
    let scrape = monitor.probed();
    assert_eq!(
        metric(
            &scrape,
            r#"antidote_model_canary_assigned_ratio{group="planted"}"#
        ),
        1.0
    );
    assert!(
        metric(
            &scrape,
            r#"antidote_model_canary_assigned_ratio{group="held_out"}"#
        ) < 1.0
    );
    assert!(metric(&scrape, r#"antidote_model_canary_p_value{group="planted"}"#) < 0.001);
    assert_eq!(
        metric(
            &scrape,
            r#"antidote_model_canary_memorised{group="planted"}"#
        ),
        1.0
    );
}
