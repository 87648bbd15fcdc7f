//! The HTTP predictor against a real local server (a `std::net` thread): the documented JSON,
//! batching, timeouts and retries with backoff.
#![expect(
    clippy::unwrap_used,
    reason = "the test helpers fail the test on any error"
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use antidote_core::RecordId;
use antidote_data::{Image, Record, Value};
use antidote_gate::{HttpOptions, HttpPredictor, PredictError, Predictor};

/// What the server does with the `attempt`-th request (from 1): a status, a body and a delay.
type Behaviour = dyn Fn(usize, &serde_json::Value) -> (u16, String, Duration) + Send + Sync;

/// Serves `requests` requests on a free loopback port, then stops; returns the URL and the
/// request counter.
fn serve(requests: usize, behaviour: Arc<Behaviour>) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/predict", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&count);
    std::thread::spawn(move || {
        for stream in listener.incoming().take(requests) {
            let mut stream = stream.unwrap();
            let seen = Arc::clone(&seen);
            let behaviour = Arc::clone(&behaviour);
            // One thread per connection, so that a slow answer does not hold the next request.
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    let lower = line.to_ascii_lowercase();
                    if let Some(value) = lower.strip_prefix("content-length:") {
                        length = value.trim().parse().unwrap();
                    }
                    if line == "\r\n" || line.is_empty() {
                        break;
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                let request: serde_json::Value = serde_json::from_slice(&body).unwrap();
                let attempt = seen.fetch_add(1, Ordering::SeqCst) + 1;
                let (status, answer, delay) = behaviour(attempt, &request);
                std::thread::sleep(delay);
                // The client may have given up on a slow answer; that is the point of the test.
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                    answer.len()
                );
            });
        }
    });
    (url, count)
}

fn records() -> Vec<Record> {
    (0..5)
        .map(|index| Record {
            position: index,
            id: RecordId::from(format!("r{index}")),
            label: Some("secret".into()),
            source: None,
            fields: vec![
                (Arc::from("x"), Value::Float(index as f64 / 4.0)),
                (
                    Arc::from("image"),
                    Value::Image(Image {
                        width: 1,
                        height: 1,
                        channels: 1,
                        pixels: vec![index as u8],
                    }),
                ),
            ],
        })
        .collect()
}

/// Labels each instance `big` when its `x` is above one half, as the documented JSON asks.
fn classify(request: &serde_json::Value) -> String {
    let labels: Vec<serde_json::Value> = request["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|instance| {
            assert!(instance["id"].as_str().unwrap().starts_with('r'));
            assert!(instance.get("label").is_none(), "labels are never sent");
            assert_eq!(
                instance["features"]["image"]["pixels"]
                    .as_array()
                    .unwrap()
                    .len(),
                1
            );
            let x = instance["features"]["x"].as_f64().unwrap();
            if x > 0.5 {
                serde_json::json!("big")
            } else {
                serde_json::json!({"label": "small"})
            }
        })
        .collect();
    serde_json::json!({ "predictions": labels }).to_string()
}

fn options(timeout_ms: u64, retries: u32) -> HttpOptions {
    HttpOptions {
        timeout: Duration::from_millis(timeout_ms),
        retries,
        backoff: Duration::from_millis(20),
        batch: 2,
        ca_cert: None,
    }
}

#[test]
fn records_go_out_in_batches_and_labels_come_back_in_order() {
    let (url, count) = serve(
        3,
        Arc::new(|_, request| (200, classify(request), Duration::ZERO)),
    );
    let predictor = HttpPredictor::new(&url, options(2000, 0)).unwrap();
    let labels: Vec<String> = predictor
        .predict(&records())
        .unwrap()
        .into_iter()
        .map(|prediction| prediction.label)
        .collect();
    assert_eq!(labels, ["small", "small", "small", "big", "big"]);
    assert_eq!(count.load(Ordering::SeqCst), 3, "5 records in batches of 2");
}

#[test]
fn a_timed_out_request_is_retried_after_a_backoff() {
    let (url, count) = serve(
        2,
        Arc::new(|attempt, request| {
            let delay = if attempt == 1 {
                Duration::from_millis(1500)
            } else {
                Duration::ZERO
            };
            (200, classify(request), delay)
        }),
    );
    let predictor = HttpPredictor::new(
        &url,
        HttpOptions {
            batch: 8,
            ..options(300, 2)
        },
    )
    .unwrap();
    let started = Instant::now();
    let predictions = predictor.predict(&records()).unwrap();
    assert_eq!(predictions.len(), 5);
    assert_eq!(count.load(Ordering::SeqCst), 2, "one timeout, one answer");
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[test]
fn server_errors_are_retried_and_client_errors_are_not() {
    let (url, count) = serve(
        3,
        Arc::new(|attempt, request| match attempt {
            1 | 2 => (503, "{}".to_owned(), Duration::ZERO),
            _ => (200, classify(request), Duration::ZERO),
        }),
    );
    let predictor = HttpPredictor::new(
        &url,
        HttpOptions {
            batch: 8,
            ..options(2000, 3)
        },
    )
    .unwrap();
    assert_eq!(predictor.predict(&records()).unwrap().len(), 5);
    assert_eq!(count.load(Ordering::SeqCst), 3);

    let (url, count) = serve(1, Arc::new(|_, _| (400, "{}".to_owned(), Duration::ZERO)));
    let predictor = HttpPredictor::new(&url, options(2000, 3)).unwrap();
    let error = predictor.predict(&records()).unwrap_err();
    assert!(
        matches!(error, PredictError::Http { attempts: 1, .. }),
        "{error}"
    );
    assert!(error.to_string().contains("status 400"), "{error}");
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

#[test]
fn an_endpoint_that_never_answers_in_time_fails_after_every_retry() {
    let (url, count) = serve(
        3,
        Arc::new(|_, request| (200, classify(request), Duration::from_millis(800))),
    );
    let predictor = HttpPredictor::new(&url, options(200, 2)).unwrap();
    let error = predictor.predict(&records()).unwrap_err();
    assert!(
        matches!(error, PredictError::Http { attempts: 3, .. }),
        "{error}"
    );
    assert_eq!(count.load(Ordering::SeqCst), 3);
}

#[test]
fn answers_of_the_wrong_shape_are_refused() {
    let (url, _) = serve(
        1,
        Arc::new(|_, _| (200, r#"{"predictions": ["a"]}"#.to_owned(), Duration::ZERO)),
    );
    let predictor = HttpPredictor::new(&url, options(2000, 0)).unwrap();
    let error = predictor.predict(&records()[..2]).unwrap_err();
    assert!(
        error.to_string().contains("1 predictions for 2 instances"),
        "{error}"
    );
    assert!(HttpPredictor::new("ftp://x", HttpOptions::default()).is_err());
}
