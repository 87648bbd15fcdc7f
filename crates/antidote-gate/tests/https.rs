//! The HTTP predictor against a real local HTTPS server: a rustls server on a loopback port
//! with a certificate issued, for the test, by a private certificate authority that `openssl`
//! creates. The endpoint is trusted with `ca_cert` and refused without it.
#![expect(
    clippy::unwrap_used,
    reason = "the test helpers fail the test on any error"
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use antidote_core::RecordId;
use antidote_data::{Record, Value};
use antidote_gate::{HttpOptions, HttpPredictor, PredictError, Predictor};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl is installed (scripts/test.sh installs it)");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A certificate authority (`ca.pem`) and a server certificate for `127.0.0.1` and `localhost`
/// that it issued (`server.pem`, `server.key`).
fn certificates(dir: &Path) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=antidote test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    openssl(dir, &ca);
    let mut request = vec!["req"];
    request.extend(ec);
    request.extend([
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
    ]);
    openssl(dir, &request);
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ],
    );
}

/// Serves HTTPS on a free loopback port: every request is answered with the label `"tls"` for
/// each instance. Returns the URL.
fn serve(dir: &Path) -> String {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(dir.join("server.pem"))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(dir.join("server.key")).unwrap();
    let config = Arc::new(
        rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "https://127.0.0.1:{}/predict",
        listener.local_addr().unwrap().port()
    );
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let config = Arc::clone(&config);
            std::thread::spawn(move || {
                let connection = rustls::ServerConnection::new(config).unwrap();
                let mut tls = rustls::StreamOwned::new(connection, stream);
                // A client that refuses the certificate ends the handshake: nothing to answer.
                let _ = answer(&mut tls);
            });
        }
    });
    url
}

fn answer(stream: &mut (impl Read + Write)) -> std::io::Result<()> {
    let mut reader = BufReader::new(&mut *stream);
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = value.trim().parse().unwrap();
        }
        if line == "\r\n" || line.is_empty() {
            break;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let request: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let instances = request["instances"].as_array().unwrap().len();
    let answer = serde_json::json!({ "predictions": vec!["tls"; instances] }).to_string();
    write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
        answer.len()
    )?;
    stream.flush()
}

fn records() -> Vec<Record> {
    (0..3)
        .map(|index| Record {
            position: index,
            id: RecordId::from(format!("r{index}")),
            label: None,
            source: None,
            fields: vec![(Arc::from("x"), Value::Int(i64::try_from(index).unwrap()))],
        })
        .collect()
}

fn options(ca_cert: Option<&Path>) -> HttpOptions {
    HttpOptions {
        timeout: Duration::from_secs(10),
        retries: 0,
        ca_cert: ca_cert.map(Path::to_owned),
        ..HttpOptions::default()
    }
}

#[test]
fn an_https_endpoint_is_trusted_through_its_private_ca_and_refused_without_it() {
    let dir = tempfile::tempdir().unwrap();
    certificates(dir.path());
    let url = serve(dir.path());

    let predictor = HttpPredictor::new(&url, options(Some(&dir.path().join("ca.pem")))).unwrap();
    let predictions = predictor.predict(&records()).unwrap();
    assert_eq!(predictions.len(), 3);
    assert!(
        predictions
            .iter()
            .all(|prediction| prediction.label == "tls")
    );

    // The built-in Mozilla roots do not know the private CA: the handshake fails.
    let predictor = HttpPredictor::new(&url, options(None)).unwrap();
    let error = predictor.predict(&records()).unwrap_err();
    let PredictError::Http { message, .. } = &error else {
        panic!("expected an HTTP error, got {error}")
    };
    assert!(
        message.to_ascii_lowercase().contains("certificate")
            || message.to_ascii_lowercase().contains("issuer"),
        "{error}"
    );

    // A CA of another name does not vouch for this server either.
    let other = tempfile::tempdir().unwrap();
    certificates(other.path());
    let predictor = HttpPredictor::new(&url, options(Some(&other.path().join("ca.pem")))).unwrap();
    assert!(matches!(
        predictor.predict(&records()),
        Err(PredictError::Http { .. })
    ));
}

#[test]
fn a_ca_file_without_a_certificate_is_refused_up_front() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("empty.pem"), "not a certificate\n").unwrap();
    let error = HttpPredictor::new(
        "https://127.0.0.1:1/predict",
        options(Some(&dir.path().join("empty.pem"))),
    )
    .unwrap_err();
    assert!(matches!(error, PredictError::Certificate { .. }), "{error}");
    assert!(
        error.to_string().contains("no `BEGIN CERTIFICATE`"),
        "{error}"
    );
    let error = HttpPredictor::new(
        "https://127.0.0.1:1/predict",
        options(Some(&dir.path().join("missing.pem"))),
    )
    .unwrap_err();
    assert!(matches!(error, PredictError::Certificate { .. }), "{error}");
}
