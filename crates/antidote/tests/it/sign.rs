use crate::{TestContext, edit};

fn signed() -> TestContext {
    let context = TestContext::new();
    context.fixture("fortunes_3class.csv", "data/fortunes.csv");
    let output = context.run(&["keygen"]).expect_code(0);
    assert!(
        output.stdout.contains("wrote private key `antidote.key`"),
        "{}",
        output.stdout
    );
    let output = context
        .run(&["lock", "data", "--key", "antidote.key"])
        .expect_code(0);
    assert!(
        output.stdout.contains("signed with key"),
        "{}",
        output.stdout
    );
    context
}

#[test]
fn a_valid_signature_verifies() {
    let context = signed();
    let output = context
        .run(&["verify", "--pubkey", "antidote.pub"])
        .expect_code(0);
    assert!(
        output.stdout.contains("signature: valid, key"),
        "{}",
        output.stdout
    );
    let envelope: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(context.path("antidote.lock.intoto.jsonl")).unwrap(),
    )
    .unwrap();
    assert_eq!(envelope["payloadType"], "application/vnd.in-toto+json");
}

#[test]
fn without_a_pubkey_the_signature_is_not_checked_but_reported() {
    let context = signed();
    let output = context.run(&["verify"]).expect_code(0);
    assert!(
        output.stdout.contains("signature: present, not checked"),
        "{}",
        output.stdout
    );
}

#[test]
fn another_key_is_a_wrong_key() {
    let context = signed();
    context.run(&["keygen", "-o", "other.key"]).expect_code(0);
    let output = context
        .run(&["verify", "--pubkey", "other.pub"])
        .expect_code(1);
    assert!(
        output.stdout.contains("signature: WRONG KEY"),
        "{}",
        output.stdout
    );
}

#[test]
fn a_stripped_signature_is_missing() {
    let context = signed();
    std::fs::remove_file(context.path("antidote.lock.intoto.jsonl")).unwrap();
    let output = context
        .run(&["verify", "--pubkey", "antidote.pub"])
        .expect_code(1);
    assert!(
        output.stdout.contains("signature: MISSING"),
        "{}",
        output.stdout
    );
}

#[test]
fn a_lock_edited_after_signing_is_invalid() {
    let context = signed();
    // Re-point the lock at other data without re-signing: the attacker's move.
    edit(
        &context.path("antidote.lock"),
        "\"record_count\": 120",
        "\"record_count\": 121",
    );
    let output = context
        .run(&["verify", "--pubkey", "antidote.pub"])
        .expect_code(1);
    assert!(
        output.stdout.contains("signature: INVALID"),
        "{}",
        output.stdout
    );
    assert!(
        output.stdout.contains("changed after it was signed"),
        "{}",
        output.stdout
    );
}

#[test]
fn sign_refuses_a_stale_lock_and_signs_a_fresh_one() {
    let context = TestContext::new();
    context.fixture("fortunes_3class.csv", "data/fortunes.csv");
    context.run(&["keygen"]).expect_code(0);
    context.run(&["lock", "data"]).expect_code(0);
    context
        .run(&["sign", "--key", "antidote.key"])
        .expect_code(0);
    context
        .run(&["verify", "--pubkey", "antidote.pub"])
        .expect_code(0);
    edit(
        &context.path("data/fortunes.csv"),
        "computers-003,computers,",
        "computers-003,food,",
    );
    let output = context
        .run(&["sign", "--key", "antidote.key"])
        .expect_code(2);
    assert!(
        output.stderr.contains("refusing to sign"),
        "{}",
        output.stderr
    );
}

#[test]
fn keygen_never_overwrites_a_key() {
    let context = signed();
    let before = std::fs::read(context.path("antidote.key")).unwrap();
    let output = context.run(&["keygen"]).expect_code(2);
    assert!(
        output
            .stderr
            .starts_with("error: failed to write the key pair `antidote.key`"),
        "{}",
        output.stderr
    );
    assert_eq!(std::fs::read(context.path("antidote.key")).unwrap(), before);
}

#[test]
fn the_public_key_is_not_a_signing_key() {
    let context = signed();
    let output = context
        .run(&["lock", "data", "--key", "antidote.pub"])
        .expect_code(2);
    assert!(output.stderr.contains("antidote.pub"), "{}", output.stderr);
}
