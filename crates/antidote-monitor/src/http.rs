//! The HTTP routes of the monitor, as an axum [`Router`]:
//!
//! - `POST /v1/events`: one JSON event, or JSON Lines with one event per line. With a token
//!   configured, it requires `Authorization: Bearer TOKEN` (401 otherwise). A body over the limit
//!   gets 413; a body that is not JSON gets 400 and one that is JSON but not valid events 422,
//!   each with `{"error": "...", "line": N}` naming the line of the batch. A batch is stored in
//!   one transaction and acknowledged (200, `{"accepted": N, "stored": TOTAL}`) only after it
//!   committed: an acknowledged event is never lost.
//! - `GET /metrics`: the metrics in the OpenMetrics text format when the scraper accepts it
//!   (Prometheus does), else in the Prometheus text format 0.0.4.
//! - `GET /healthz`: `{"status": "ok", "stored": TOTAL}`.
//!
//! Every request batch is logged once, through `tracing` at `info` when stored and at `warn`
//! when refused, with the fields `kind = "batch"`, `status`, `bytes`, `elapsed_ms` and either
//! `accepted` and `stored` or `reason` and `error` (and `line` when the error names one).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use crate::event::parse_batch;
use crate::metrics::Rejection;
use crate::monitor::Monitor;

/// The default body limit: 1 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1 << 20;

/// The default limit of events in one request.
pub const DEFAULT_MAX_BATCH_EVENTS: usize = 10_000;

/// The content type of `/metrics` for scrapers that accept OpenMetrics (Prometheus does).
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The content type of `/metrics` for other clients: the Prometheus text format.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Which routes a listener serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Routes {
    /// Events, metrics and health.
    All,
    /// Events and health (metrics are served on another address).
    Events,
    /// Metrics and health.
    Metrics,
}

/// How the event endpoint guards itself.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// The bearer token required on `POST /v1/events`, if any.
    pub token: Option<String>,
    /// The largest body accepted, in bytes.
    pub max_body_bytes: usize,
    /// The most events one request may hold.
    pub max_batch_events: usize,
    /// The deployed model, to predict events that carry only their input (`--model`).
    pub model: Option<Arc<crate::model::ModelWatch>>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            token: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_batch_events: DEFAULT_MAX_BATCH_EVENTS,
            model: None,
        }
    }
}

#[derive(Debug, Clone)]
struct AppState {
    monitor: Arc<Monitor>,
    config: Arc<HttpConfig>,
}

/// The router of one listener.
///
/// ```no_run
/// # async fn run(monitor: std::sync::Arc<antidote_monitor::Monitor>) -> std::io::Result<()> {
/// use antidote_monitor::http::{HttpConfig, Routes, router};
///
/// let app = router(monitor, HttpConfig::default(), Routes::All);
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:9464").await?;
/// axum::serve(listener, app).await
/// # }
/// ```
pub fn router(monitor: Arc<Monitor>, config: HttpConfig, routes: Routes) -> Router {
    let max_body_bytes = config.max_body_bytes;
    let state = AppState {
        monitor,
        config: Arc::new(config),
    };
    let mut app = Router::new().route("/healthz", get(healthz));
    if routes != Routes::Metrics {
        app = app.route(
            "/v1/events",
            post(ingest).route_layer(middleware::from_fn_with_state(state.clone(), require_token)),
        );
    }
    if routes != Routes::Events {
        app = app.route("/metrics", get(metrics));
    }
    app.layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(state)
}

fn error(status: StatusCode, message: &str, line: Option<usize>) -> Response {
    let body = match line {
        Some(line) => json!({"error": message, "line": line}),
        None => json!({"error": message}),
    };
    (status, axum::Json(body)).into_response()
}

async fn require_token(
    State(state): State<AppState>,
    headers: HeaderMap,
    request: Request,
    next: Next,
) -> Response {
    let Some(expected) = &state.config.token else {
        return next.run(request).await;
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    match given {
        Some(given) if same_secret(given.trim().as_bytes(), expected.as_bytes()) => {
            next.run(request).await
        }
        given => {
            state.monitor.reject(Rejection::Unauthorized);
            let message = if given.is_some() {
                "the bearer token is wrong"
            } else {
                "missing `Authorization: Bearer TOKEN` header: this endpoint requires the token of `--token-file`"
            };
            let mut response = error(StatusCode::UNAUTHORIZED, message, None);
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
            response
        }
    }
}

/// Compares two secrets in time independent of where they differ.
fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    given.len() == expected.len()
        && given
            .iter()
            .zip(expected)
            .fold(0u8, |difference, (a, b)| difference | (a ^ b))
            == 0
}

/// Logs a refused batch.
fn refused(
    status: StatusCode,
    reason: Rejection,
    bytes: usize,
    message: &str,
    line: Option<usize>,
) {
    let status = status.as_u16();
    let reason = reason.as_str();
    if let Some(line) = line {
        tracing::warn!(
            kind = "batch",
            status,
            reason,
            bytes,
            line,
            error = message,
            "batch refused ({status}): {message}"
        );
    } else {
        tracing::warn!(
            kind = "batch",
            status,
            reason,
            bytes,
            error = message,
            "batch refused ({status}): {message}"
        );
    }
}

async fn ingest(State(state): State<AppState>, body: Result<Bytes, BytesRejection>) -> Response {
    let started = std::time::Instant::now();
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            state.monitor.reject(Rejection::TooLarge);
            let message = format!(
                "the body is larger than the limit of {} bytes; send smaller batches",
                state.config.max_body_bytes
            );
            refused(
                StatusCode::PAYLOAD_TOO_LARGE,
                Rejection::TooLarge,
                state.config.max_body_bytes,
                &message,
                None,
            );
            return error(StatusCode::PAYLOAD_TOO_LARGE, &message, None);
        }
        Err(rejection) => {
            state.monitor.reject(Rejection::Malformed);
            refused(
                rejection.status(),
                Rejection::Malformed,
                0,
                &rejection.body_text(),
                None,
            );
            return error(rejection.status(), &rejection.body_text(), None);
        }
    };
    let bytes = body.len();
    let body = match crate::model::complete_body(state.config.model.as_ref(), body).await {
        Ok(body) => body,
        Err(response) => {
            state.monitor.reject(Rejection::Invalid);
            return response;
        }
    };
    let events = match parse_batch(&body, state.config.max_batch_events) {
        Ok(events) => events,
        Err(batch_error) => {
            let (status, reason) = if batch_error.is_syntax() {
                (StatusCode::BAD_REQUEST, Rejection::Malformed)
            } else {
                (StatusCode::UNPROCESSABLE_ENTITY, Rejection::Invalid)
            };
            state.monitor.reject(reason);
            let message = batch_error.to_string();
            refused(status, reason, bytes, &message, batch_error.line());
            return error(status, &message, batch_error.line());
        }
    };
    let monitor = Arc::clone(&state.monitor);
    match tokio::task::spawn_blocking(move || monitor.ingest(&events)).await {
        Ok(Ok(ingested)) => {
            let elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
            tracing::info!(
                kind = "batch",
                status = 200,
                bytes,
                accepted = ingested.accepted,
                stored = ingested.stored,
                elapsed_ms,
                "batch stored: {} events",
                ingested.accepted
            );
            (StatusCode::OK, axum::Json(ingested)).into_response()
        }
        Ok(Err(store_error)) => {
            tracing::error!(kind = "batch", status = 503, bytes, "{store_error}");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("the events were not stored: {store_error}"),
                None,
            )
        }
        Err(join_error) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("the events were not stored: {join_error}"),
            None,
        ),
    }
}

async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let monitor = Arc::clone(&state.monitor);
    let openmetrics = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|value| value.contains("application/openmetrics-text"));
    let model = state.config.model.clone();
    let scrape = move || {
        monitor.scrape().map(|text| match &model {
            Some(model) => model.append_metrics(&text).into_owned(),
            None => text,
        })
    };
    match tokio::task::spawn_blocking(scrape).await {
        Ok(Ok(text)) if openmetrics => {
            ([(header::CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE)], text).into_response()
        }
        Ok(Ok(text)) => (
            [(header::CONTENT_TYPE, TEXT_CONTENT_TYPE)],
            crate::metrics::to_text_format(&text),
        )
            .into_response(),
        Ok(Err(store_error)) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            &store_error.to_string(),
            None,
        ),
        Err(join_error) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &join_error.to_string(),
            None,
        ),
    }
}

async fn healthz(State(state): State<AppState>) -> Response {
    axum::Json(json!({"status": "ok", "stored": state.monitor.stored()})).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret(b"abc", b"abc"));
        assert!(!same_secret(b"abd", b"abc"));
        assert!(!same_secret(b"ab", b"abc"));
        assert!(!same_secret(b"", b"abc"));
    }
}
