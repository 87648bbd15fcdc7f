//! `antidote sign-model` and `antidote verify-model`, and interoperability with the Python
//! `model-signing` package (OpenSSF model signing 1.1.1).
//!
//! The interoperability tests are `#[ignore]`d because they need that package: `scripts/test.sh`
//! creates a virtual environment with it and runs them with `--ignored`, pointing
//! `ANTIDOTE_MODEL_SIGNING_PY` at its Python. Run without it, they fail and say so.

use std::path::PathBuf;
use std::process::Command;

use crate::{Output, TestContext};

/// A keyed context with a model folder `bert/` of three files and a `.git` folder.
fn model() -> TestContext {
    let context = TestContext::new();
    context.run(&["keygen"]).expect_code(0);
    context.write("bert/config.json", "{\"layers\": 12}\n");
    context.write("bert/weights.bin", &"0123456789".repeat(10_000));
    context.write("bert/tokenizer/vocab.txt", "a\nb\nc\n");
    context.write("bert/.git/HEAD", "ref: refs/heads/main\n");
    context
}

fn sign(context: &TestContext) -> Output {
    context
        .run(&["sign-model", "bert", "--key", "antidote.key"])
        .expect_code(0)
}

fn verify(context: &TestContext, code: i32) -> Output {
    context
        .run(&["verify-model", "bert", "--pubkey", "antidote.pub"])
        .expect_code(code)
}

fn signature(context: &TestContext) -> serde_json::Value {
    let text = std::fs::read_to_string(context.path("model.sig")).expect("model.sig was written");
    serde_json::from_str(&text).expect("model.sig is JSON")
}

#[test]
fn a_signed_model_verifies_and_the_ledger_names_its_root_digest() {
    let context = model();
    let output = sign(&context);
    assert!(
        output.stdout.contains("signed model `bert`: 3 files"),
        "{}",
        output.stdout
    );
    let bundle = signature(&context);
    assert_eq!(
        bundle["mediaType"],
        "application/vnd.dev.sigstore.bundle.v0.3+json"
    );
    let output = verify(&context, 0);
    assert!(
        output
            .stdout
            .starts_with("OK: model `bert` matches `model.sig`: 3 files"),
        "{}",
        output.stdout
    );

    let output = context.run(&["log", "--json"]).expect_code(0);
    let events: serde_json::Value = serde_json::from_str(&output.stdout).unwrap();
    let events = events.as_array().unwrap();
    let signed = events
        .iter()
        .find(|event| event["kind"] == "sign-model")
        .expect("a sign-model event");
    let root = signed["details"]["root_digest"].as_str().unwrap();
    assert!(root.starts_with("sha256:"), "{root}");
    let verified = events
        .iter()
        .find(|event| event["kind"] == "verify-model")
        .expect("a verify-model event");
    assert_eq!(verified["details"]["root_digest"], root);
    assert_eq!(verified["outcome"], "passed");
    let output = context.run(&["log"]).expect_code(0);
    let short = &root["sha256:".len().."sha256:".len() + 12];
    assert!(
        output
            .stdout
            .lines()
            .any(|line| line.contains("sign-model")
                && line.contains(&format!("bert sha256:{short}"))),
        "{}",
        output.stdout
    );
}

#[test]
fn tampered_added_and_removed_files_are_named() {
    let context = model();
    sign(&context);
    context.write("bert/config.json", "{\"layers\": 13}\n");
    context.write("bert/backdoor.py", "import os\n");
    std::fs::remove_file(context.path("bert/tokenizer/vocab.txt")).unwrap();
    context.write("bert/.git/HEAD", "ref: refs/heads/other\n");
    let output = verify(&context, 1);
    assert!(
        output
            .stdout
            .starts_with("FAILED: model `bert` does not match `model.sig`"),
        "{}",
        output.stdout
    );
    assert!(
        output.stdout.contains("modified: `config.json`"),
        "{}",
        output.stdout
    );
    assert!(
        output.stdout.contains("added, not signed: `backdoor.py`"),
        "{}",
        output.stdout
    );
    assert!(
        output.stdout.contains("removed: `tokenizer/vocab.txt`"),
        "{}",
        output.stdout
    );
    assert!(!output.stdout.contains(".git"), "{}", output.stdout);
}

#[test]
fn wrong_key_stripped_corrupted_and_missing_signatures_fail() {
    let context = model();
    sign(&context);
    context.run(&["keygen", "-o", "other.key"]).expect_code(0);
    let output = context
        .run(&["verify-model", "bert", "--pubkey", "other.pub"])
        .expect_code(1);
    assert!(
        output.stdout.contains("made with another key"),
        "{}",
        output.stdout
    );

    let original = std::fs::read_to_string(context.path("model.sig")).unwrap();
    let mut bundle = signature(&context);
    bundle["dsseEnvelope"]["signatures"] = serde_json::json!([]);
    std::fs::write(context.path("model.sig"), bundle.to_string()).unwrap();
    let output = verify(&context, 1);
    assert!(output.stdout.contains("stripped"), "{}", output.stdout);

    // The attacker edits the signed statement (one base64 character of the payload).
    let mut bundle: serde_json::Value = serde_json::from_str(&original).unwrap();
    let payload = bundle["dsseEnvelope"]["payload"]
        .as_str()
        .unwrap()
        .to_owned();
    let middle = payload.len() / 2;
    let swapped = if &payload[middle..=middle] == "A" {
        "B"
    } else {
        "A"
    };
    let payload = format!("{}{swapped}{}", &payload[..middle], &payload[middle + 1..]);
    bundle["dsseEnvelope"]["payload"] = payload.into();
    std::fs::write(context.path("model.sig"), bundle.to_string()).unwrap();
    let output = verify(&context, 1);
    assert!(
        output.stdout.contains("the signature does not verify"),
        "{}",
        output.stdout
    );

    std::fs::write(context.path("model.sig"), "garbage").unwrap();
    let output = verify(&context, 1);
    assert!(
        output
            .stdout
            .contains("`model.sig` is not a Sigstore bundle"),
        "{}",
        output.stdout
    );

    std::fs::remove_file(context.path("model.sig")).unwrap();
    let output = verify(&context, 1);
    assert!(
        output
            .stdout
            .contains("the signature `model.sig` does not exist"),
        "{}",
        output.stdout
    );
}

#[test]
fn a_signature_inside_the_model_and_ignored_paths_are_left_out() {
    let context = model();
    context.write("bert/README.md", "notes\n");
    context
        .run(&[
            "sign-model",
            "bert",
            "--key",
            "antidote.key",
            "-o",
            "bert/model.sig",
            "--ignore-paths",
            "bert/README.md",
        ])
        .expect_code(0);
    context.write("bert/README.md", "edited notes\n");
    let output = context
        .run(&[
            "verify-model",
            "bert",
            "--pubkey",
            "antidote.pub",
            "--signature",
            "bert/model.sig",
        ])
        .expect_code(0);
    assert!(output.stdout.contains("3 files"), "{}", output.stdout);
}

/// The Python of the virtual environment holding `model-signing` 1.1.1.
fn python() -> PathBuf {
    let Some(python) = std::env::var_os("ANTIDOTE_MODEL_SIGNING_PY") else {
        panic!(
            "ANTIDOTE_MODEL_SIGNING_PY is not set: it names the Python of a virtual environment \
             with `pip install model-signing==1.1.1 pyOpenSSL`; scripts/test.sh creates one and \
             runs these tests with `cargo test -p antidote --test it -- --ignored model_signing`"
        );
    };
    PathBuf::from(python)
}

/// Runs `python -m model_signing ARGS` in the context folder.
fn model_signing(context: &TestContext, args: &[&str]) -> Output {
    run_python(context, &[&["-m", "model_signing"], args].concat())
}

fn run_python(context: &TestContext, args: &[&str]) -> Output {
    let output = Command::new(python())
        .args(args)
        .current_dir(context.dir.path())
        .output()
        .expect("run the model_signing Python");
    Output {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn python_verify(context: &TestContext, model: &str, signature: &str, code: i32) -> Output {
    model_signing(
        context,
        &[
            "verify",
            "key",
            model,
            "--signature",
            signature,
            "--public_key",
            "antidote.pub",
        ],
    )
    .expect_code(code)
}

#[test]
#[ignore = "needs the model-signing Python package; scripts/test.sh runs it"]
fn model_signing_verifies_what_antidote_signs() {
    let context = model();
    sign(&context);
    let output = python_verify(&context, "bert", "model.sig", 0);
    assert!(
        output.stdout.contains("Verification succeeded"),
        "{output:?}"
    );

    context.write("bert/config.json", "{\"layers\": 13}\n");
    let output = python_verify(&context, "bert", "model.sig", 1);
    assert!(
        output.stderr.contains("Hash mismatch for") && output.stderr.contains("config.json"),
        "{output:?}"
    );
    context.write("bert/config.json", "{\"layers\": 12}\n");
    context.write("bert/backdoor.py", "import os\n");
    let output = python_verify(&context, "bert", "model.sig", 1);
    assert!(
        output
            .stderr
            .contains("Extra files found in model 'bert': backdoor.py"),
        "{output:?}"
    );

    std::fs::remove_file(context.path("bert/backdoor.py")).unwrap();
    // A signature inside the model, with an ignored file.
    context.write("bert/README.md", "notes\n");
    context
        .run(&[
            "sign-model",
            "bert",
            "--key",
            "antidote.key",
            "-o",
            "bert/model.sig",
            "--ignore-paths",
            "bert/README.md",
        ])
        .expect_code(0);
    context.write("bert/README.md", "edited notes\n");
    python_verify(&context, "bert", "bert/model.sig", 0);

    // One file as the model.
    context
        .run(&[
            "sign-model",
            "bert/weights.bin",
            "--key",
            "antidote.key",
            "-o",
            "weights.sig",
        ])
        .expect_code(0);
    python_verify(&context, "bert/weights.bin", "weights.sig", 0);
}

#[test]
#[ignore = "needs the model-signing Python package; scripts/test.sh runs it"]
fn antidote_verifies_what_model_signing_signs() {
    let context = model();
    let output = model_signing(
        &context,
        &[
            "sign",
            "key",
            "bert",
            "--private_key",
            "antidote.key",
            "--signature",
            "model.sig",
        ],
    )
    .expect_code(0);
    assert!(output.stdout.contains("Signing succeeded"), "{output:?}");
    let output = verify(&context, 0);
    assert!(output.stdout.contains("3 files"), "{}", output.stdout);

    // The same model hashes to the same root digest on both sides.
    let python_root = output.stdout.clone();
    std::fs::rename(context.path("model.sig"), context.path("python.sig")).unwrap();
    sign(&context);
    let output = verify(&context, 0);
    let root = |text: &str| {
        text.split_whitespace()
            .find(|word| word.starts_with("sha256:"))
            .map(|word| word.trim_end_matches(',').to_owned())
    };
    assert_eq!(root(&python_root), root(&output.stdout));
    assert!(root(&python_root).is_some(), "{python_root}");
    std::fs::rename(context.path("python.sig"), context.path("model.sig")).unwrap();

    context.write("bert/weights.bin", "poisoned");
    context.write("bert/extra.bin", "more");
    let output = verify(&context, 1);
    assert!(
        output.stdout.contains("modified: `weights.bin`"),
        "{}",
        output.stdout
    );
    assert!(
        output.stdout.contains("added, not signed: `extra.bin`"),
        "{}",
        output.stdout
    );

    // One file as the model, signed by Python.
    model_signing(
        &context,
        &[
            "sign",
            "key",
            "bert/config.json",
            "--private_key",
            "antidote.key",
            "--signature",
            "config.sig",
        ],
    )
    .expect_code(0);
    context
        .run(&[
            "verify-model",
            "bert/config.json",
            "--pubkey",
            "antidote.pub",
            "--signature",
            "config.sig",
        ])
        .expect_code(0);
}

#[test]
#[ignore = "needs the model-signing Python package; scripts/test.sh runs it"]
fn blake3_signatures_verify_through_the_model_signing_api_not_its_cli() {
    let context = model();
    context
        .run(&["sign-model", "bert", "--key", "antidote.key", "--blake3"])
        .expect_code(0);
    let script = "import sys, model_signing\n\
        model_signing.verifying.Config().use_elliptic_key_verifier(public_key='antidote.pub')\
        .verify('bert', 'model.sig')\nprint('api verified')";
    let output = run_python(&context, &["-c", script]).expect_code(0);
    assert!(output.stdout.contains("api verified"), "{output:?}");
    // The 1.1.1 command line always hashes with SHA-256, so it rejects BLAKE3 signatures.
    python_verify(&context, "bert", "model.sig", 1);
    verify(&context, 0);
}
