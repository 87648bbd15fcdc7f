//! Signatures over manifests: ECDSA P-256 with SHA-256, in a [DSSE] envelope around an
//! [in-toto Statement v1], so that existing verifiers (`cosign verify-blob-attestation`,
//! `in-toto-attestation` libraries, `openssl dgst`) can check what antidote signed. Keys are
//! plain PEM files: the private key is PKCS#8 (`-----BEGIN PRIVATE KEY-----`, mode `0600`), the
//! public key is SPKI (`-----BEGIN PUBLIC KEY-----`); SEC1 keys from `openssl ecparam -genkey`
//! are read too. Start with [`generate_key`], [`sign`] and [`verify`].
//!
//! [DSSE]: https://github.com/secure-systems-lab/dsse/blob/master/protocol.md
//! [in-toto Statement v1]: https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md

use std::collections::BTreeMap;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use antidote_core::Digest;
use antidote_data::output::{AtomicFile, OutputError};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::ecdsa::{DerSignature, SigningKey, VerifyingKey};
use p256::pkcs8::{DecodePrivateKey as _, DecodePublicKey as _, EncodePrivateKey as _};
use p256::pkcs8::{EncodePublicKey as _, LineEnding};
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

/// The `_type` of an in-toto Statement v1.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";

/// The DSSE `payloadType` of an in-toto Statement.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// Errors from creating, reading or writing keys and from signing.
#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    /// The key file already exists; keys are never overwritten.
    #[error("refusing to overwrite `{path}`, which already exists", path = path.display())]
    Exists {
        /// The existing file.
        path: PathBuf,
    },
    /// Writing a key file failed.
    #[error("failed to write `{path}`", path = path.display())]
    Write {
        /// The file being written.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Reading a key file failed.
    #[error(transparent)]
    Read(#[from] io::Error),
    /// The file holds no PEM block at all.
    #[error("`{path}` is not a PEM file (expected a line like `-----BEGIN {expected}-----`)", path = path.display())]
    NotPem {
        /// The file that was read.
        path: PathBuf,
        /// The PEM label that was expected.
        expected: &'static str,
    },
    /// A public key was given where a private key was expected.
    #[error("`{path}` is a public key, but a private key is needed here", path = path.display())]
    PublicKeyGiven {
        /// The file that was read.
        path: PathBuf,
    },
    /// A private key was given where a public key was expected.
    #[error("`{path}` is a private key, but a public key is expected here (pass the `.pub` file)", path = path.display())]
    PrivateKeyGiven {
        /// The file that was read.
        path: PathBuf,
    },
    /// The private key is password-protected, which is not supported.
    #[error("`{path}` is an encrypted private key, which is not supported (decrypt it with `openssl pkcs8 -nocrypt`)", path = path.display())]
    EncryptedKey {
        /// The file that was read.
        path: PathBuf,
    },
    /// The file holds PEM blocks, but not of the expected kind.
    #[error("`{path}` holds a `{label}` PEM block, not a `{expected}`", path = path.display())]
    UnexpectedPem {
        /// The file that was read.
        path: PathBuf,
        /// The label of the first PEM block in the file.
        label: String,
        /// The PEM label that was expected.
        expected: &'static str,
    },
    /// The PEM block is of the right kind but does not hold a valid ECDSA P-256 key.
    #[error("`{path}` is not a valid ECDSA P-256 key", path = path.display())]
    InvalidKey {
        /// The file that was read.
        path: PathBuf,
        /// What the decoder rejected.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Encoding a key as PEM failed.
    #[error("failed to encode the key as PEM")]
    Encode(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The statement could not be serialized.
    #[error("failed to serialize the statement")]
    Serialize(#[source] serde_json::Error),
}

/// Why an envelope failed verification.
#[derive(Debug, thiserror::Error)]
pub enum SignatureError {
    /// The envelope carries no signatures.
    #[error("the envelope has no signatures")]
    Unsigned,
    /// No signature is by the given key.
    #[error(
        "the envelope is not signed by key `{expected_key_id}` (it is signed by {})",
        describe_key_ids(found_key_ids)
    )]
    WrongKey {
        /// The id of the key verification used.
        expected_key_id: String,
        /// The key ids the signatures name (empty ids left out).
        found_key_ids: Vec<String>,
    },
    /// A signature names the given key but does not verify: the payload or the signature was
    /// altered after signing.
    #[error(
        "the signature by key `{key_id}` does not match the envelope: the payload or the signature was altered after signing"
    )]
    Invalid {
        /// The id of the key verification used.
        key_id: String,
    },
    /// The envelope is not a well-formed DSSE envelope around an in-toto Statement.
    #[error("the envelope is malformed")]
    Malformed(#[from] MalformedEnvelope),
}

/// The ways an envelope can be malformed.
#[derive(Debug, thiserror::Error)]
pub enum MalformedEnvelope {
    /// The payload is not standard base64.
    #[error("the payload is not valid base64")]
    PayloadBase64(#[source] base64::DecodeError),
    /// A signature is not standard base64.
    #[error("the signature by key `{keyid}` is not valid base64")]
    SignatureBase64 {
        /// The key id the signature names.
        keyid: String,
        /// The decoding error.
        #[source]
        source: base64::DecodeError,
    },
    /// The payload type is not the in-toto one.
    #[error("the payload type is `{found}`, expected `{PAYLOAD_TYPE}`")]
    PayloadType {
        /// The payload type the envelope declares.
        found: String,
    },
    /// The payload is not an in-toto Statement.
    #[error("the payload is not an in-toto Statement")]
    Statement(#[source] serde_json::Error),
    /// The payload is JSON of the right shape but with an unknown `_type`.
    #[error("the payload's `_type` is `{found}`, expected `{STATEMENT_TYPE}`")]
    StatementType {
        /// The `_type` the payload declares.
        found: String,
    },
}

/// An in-toto Statement: what was signed (the subjects, by digest) and a typed predicate saying
/// something about them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    /// Always [`STATEMENT_TYPE`].
    #[serde(rename = "_type")]
    pub statement_type: String,
    /// The artifacts the statement is about.
    pub subject: Vec<Subject>,
    /// A URI naming the schema of [`Statement::predicate`].
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    /// What is stated about the subjects.
    pub predicate: serde_json::Value,
}

impl Statement {
    /// A Statement v1 with the given subjects and predicate.
    #[must_use]
    pub fn new(
        subject: Vec<Subject>,
        predicate_type: impl Into<String>,
        predicate: serde_json::Value,
    ) -> Self {
        Self {
            statement_type: STATEMENT_TYPE.to_owned(),
            subject,
            predicate_type: predicate_type.into(),
            predicate,
        }
    }
}

/// One artifact a statement is about, named and pinned by digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    /// A name for the artifact, such as a file path.
    pub name: String,
    /// Digests by algorithm name, for example `{"sha256": "<hex>"}`.
    pub digest: BTreeMap<String, String>,
}

impl Subject {
    /// A subject pinned by one digest.
    #[must_use]
    pub fn new(name: impl Into<String>, digest: &Digest) -> Self {
        Self {
            name: name.into(),
            digest: BTreeMap::from([(digest.algorithm().name().to_owned(), digest.hex())]),
        }
    }
}

/// A DSSE envelope: a base64 payload, its type, and signatures over both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// The standard base64 of the payload bytes.
    pub payload: String,
    /// The payload's media type, [`PAYLOAD_TYPE`] for in-toto Statements.
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    /// Signatures over [`pae`] of the type and the payload.
    pub signatures: Vec<Signature>,
}

/// One signature in an [`Envelope`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    /// A hint naming the key, [`key_id`] for antidote's signatures; may be empty.
    #[serde(default)]
    pub keyid: String,
    /// The standard base64 of the DER-encoded ECDSA signature.
    pub sig: String,
}

/// Generates a new P-256 signing key from the operating system's random source.
#[must_use]
pub fn generate_key() -> SigningKey {
    SigningKey::random(&mut rand_core::OsRng)
}

/// Writes a key pair: the private key as PKCS#8 PEM with mode `0600`, the public key as SPKI PEM.
///
/// Neither file is overwritten if it exists. Each is written to a temporary file in the same
/// directory and moved into place, so a crash leaves no half-written key; if the public key cannot
/// be written, the private key just written is removed again.
pub fn write_key_pair(
    key: &SigningKey,
    private_path: &Path,
    public_path: &Path,
) -> Result<(), SigningError> {
    for path in [private_path, public_path] {
        if path.exists() {
            return Err(SigningError::Exists {
                path: path.to_owned(),
            });
        }
    }
    let private_pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|err| SigningError::Encode(Box::new(err)))?;
    let public_pem = key
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|err| SigningError::Encode(Box::new(err)))?;
    write_new_file(private_path, private_pem.as_bytes(), 0o600)?;
    if let Err(err) = write_new_file(public_path, public_pem.as_bytes(), 0o644) {
        // Best effort: a lone private key without its public half is confusing, and the error
        // below is the one the user needs to see.
        let _ = fs_err::remove_file(private_path);
        return Err(err);
    }
    Ok(())
}

/// Writes `contents` to a new file at `path` atomically, failing if `path` exists.
fn write_new_file(path: &Path, contents: &[u8], mode: u32) -> Result<(), SigningError> {
    let error = |error: OutputError| match error {
        OutputError::Exists { path } => SigningError::Exists { path },
        OutputError::Io { path, source } => SigningError::Write { path, source },
    };
    let mut file = AtomicFile::create_new(path).map_err(error)?.with_mode(mode);
    file.write_all(contents)
        .map_err(|source| SigningError::Write {
            path: path.to_owned(),
            source,
        })?;
    file.commit().map_err(error)
}

const PRIVATE_KEY_LABEL: &str = "PRIVATE KEY";
const SEC1_PRIVATE_KEY_LABEL: &str = "EC PRIVATE KEY";
const ENCRYPTED_PRIVATE_KEY_LABEL: &str = "ENCRYPTED PRIVATE KEY";
const PUBLIC_KEY_LABEL: &str = "PUBLIC KEY";

/// Reads a P-256 private key from a PKCS#8 (`PRIVATE KEY`) or SEC1 (`EC PRIVATE KEY`) PEM file.
///
/// Other PEM blocks in the file, such as the `EC PARAMETERS` block `openssl ecparam -genkey`
/// writes first, are skipped.
pub fn read_signing_key(path: &Path) -> Result<SigningKey, SigningError> {
    let text = fs_err::read_to_string(path)?;
    let blocks = pem_blocks(&text);
    let invalid = |source: Box<dyn std::error::Error + Send + Sync>| SigningError::InvalidKey {
        path: path.to_owned(),
        source,
    };
    for block in &blocks {
        match block.label.as_str() {
            PRIVATE_KEY_LABEL => {
                return SigningKey::from_pkcs8_pem(&block.text).map_err(|err| invalid(err.into()));
            }
            SEC1_PRIVATE_KEY_LABEL => {
                return p256::SecretKey::from_sec1_pem(&block.text)
                    .map(SigningKey::from)
                    .map_err(|err| invalid(err.into()));
            }
            _ => {}
        }
    }
    let path = path.to_owned();
    Err(if has_label(&blocks, ENCRYPTED_PRIVATE_KEY_LABEL) {
        SigningError::EncryptedKey { path }
    } else if has_label(&blocks, PUBLIC_KEY_LABEL) {
        SigningError::PublicKeyGiven { path }
    } else if let Some(block) = blocks.first() {
        SigningError::UnexpectedPem {
            path,
            label: block.label.clone(),
            expected: PRIVATE_KEY_LABEL,
        }
    } else {
        SigningError::NotPem {
            path,
            expected: PRIVATE_KEY_LABEL,
        }
    })
}

/// Reads a P-256 public key from an SPKI (`PUBLIC KEY`) PEM file.
pub fn read_verifying_key(path: &Path) -> Result<VerifyingKey, SigningError> {
    let text = fs_err::read_to_string(path)?;
    let blocks = pem_blocks(&text);
    if let Some(block) = blocks.iter().find(|block| block.label == PUBLIC_KEY_LABEL) {
        return VerifyingKey::from_public_key_pem(&block.text).map_err(|err| {
            SigningError::InvalidKey {
                path: path.to_owned(),
                source: err.into(),
            }
        });
    }
    let path = path.to_owned();
    Err(
        if [
            PRIVATE_KEY_LABEL,
            SEC1_PRIVATE_KEY_LABEL,
            ENCRYPTED_PRIVATE_KEY_LABEL,
        ]
        .iter()
        .any(|label| has_label(&blocks, label))
        {
            SigningError::PrivateKeyGiven { path }
        } else if let Some(block) = blocks.first() {
            SigningError::UnexpectedPem {
                path,
                label: block.label.clone(),
                expected: PUBLIC_KEY_LABEL,
            }
        } else {
            SigningError::NotPem {
                path,
                expected: PUBLIC_KEY_LABEL,
            }
        },
    )
}

/// One `-----BEGIN <label>----- ... -----END <label>-----` block, re-joined with `\n`.
struct PemBlock {
    label: String,
    text: String,
}

/// Splits text into its PEM blocks; text between blocks is ignored, as OpenSSL does.
fn pem_blocks(text: &str) -> Vec<PemBlock> {
    let mut blocks = Vec::new();
    let mut current: Option<PemBlock> = None;
    for line in text.lines().map(str::trim) {
        if let Some(block) = current.as_mut() {
            block.text.push_str(line);
            block.text.push('\n');
            let end = line
                .strip_prefix("-----END ")
                .and_then(|rest| rest.strip_suffix("-----"));
            if end.is_some() {
                blocks.extend(current.take());
            }
        } else if let Some(label) = line
            .strip_prefix("-----BEGIN ")
            .and_then(|rest| rest.strip_suffix("-----"))
        {
            current = Some(PemBlock {
                label: label.to_owned(),
                text: format!("{line}\n"),
            });
        }
    }
    blocks
}

fn has_label(blocks: &[PemBlock], label: &str) -> bool {
    blocks.iter().any(|block| block.label == label)
}

/// The id of a public key: the lowercase hex SHA-256 of its SPKI DER encoding.
///
/// This is the same value as `openssl pkey -pubin -in key.pub -outform DER | sha256sum`.
///
/// # Panics
///
/// Never: every valid P-256 public key has an SPKI encoding.
#[must_use]
pub fn key_id(key: &VerifyingKey) -> String {
    let der = key
        .to_public_key_der()
        .expect("a valid P-256 public key always has an SPKI encoding");
    hex::encode(sha2::Sha256::digest(der.as_bytes()))
}

/// The DSSE pre-authentication encoding of a payload: the bytes that are actually signed.
///
/// `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, with lengths as decimal ASCII.
#[must_use]
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let header = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    );
    let mut encoded = Vec::with_capacity(header.len() + payload.len());
    encoded.extend_from_slice(header.as_bytes());
    encoded.extend_from_slice(payload);
    encoded
}

/// Signs a statement: the payload is its compact JSON, the signature is ECDSA P-256 with SHA-256
/// over [`pae`] of the payload, DER-encoded, with [`key_id`] of the public key as `keyid`.
pub fn sign(statement: &Statement, key: &SigningKey) -> Result<Envelope, SigningError> {
    let payload = serde_json::to_vec(statement).map_err(SigningError::Serialize)?;
    let signature: DerSignature = key.sign(&pae(PAYLOAD_TYPE, &payload));
    Ok(Envelope {
        payload: BASE64.encode(&payload),
        payload_type: PAYLOAD_TYPE.to_owned(),
        signatures: vec![Signature {
            keyid: key_id(key.verifying_key()),
            sig: BASE64.encode(signature.as_bytes()),
        }],
    })
}

/// Verifies that an envelope is signed by `key` and returns the statement it carries.
///
/// Following DSSE, `keyid` is only a hint: any signature that verifies under `key` is accepted,
/// including one with an empty `keyid`. The statement is parsed only after a signature verified.
pub fn verify(envelope: &Envelope, key: &VerifyingKey) -> Result<Statement, SignatureError> {
    if envelope.signatures.is_empty() {
        return Err(SignatureError::Unsigned);
    }
    let payload = BASE64
        .decode(&envelope.payload)
        .map_err(MalformedEnvelope::PayloadBase64)?;
    let message = pae(&envelope.payload_type, &payload);
    let expected_key_id = key_id(key);
    let mut claimed_but_invalid = false;
    let mut verified = false;
    for signature in &envelope.signatures {
        let bytes =
            BASE64
                .decode(&signature.sig)
                .map_err(|source| MalformedEnvelope::SignatureBase64 {
                    keyid: signature.keyid.clone(),
                    source,
                })?;
        // DER is what DSSE implementations write; the fixed 64-byte form is accepted too.
        let valid = match p256::ecdsa::Signature::from_der(&bytes)
            .or_else(|_| p256::ecdsa::Signature::from_slice(&bytes))
        {
            Ok(parsed) => key.verify(&message, &parsed).is_ok(),
            Err(_) => false,
        };
        if valid {
            verified = true;
            break;
        }
        if signature.keyid == expected_key_id {
            claimed_but_invalid = true;
        }
    }
    if !verified {
        return Err(if claimed_but_invalid {
            SignatureError::Invalid {
                key_id: expected_key_id,
            }
        } else {
            SignatureError::WrongKey {
                expected_key_id,
                found_key_ids: envelope
                    .signatures
                    .iter()
                    .filter(|signature| !signature.keyid.is_empty())
                    .map(|signature| signature.keyid.clone())
                    .collect(),
            }
        });
    }
    if envelope.payload_type != PAYLOAD_TYPE {
        return Err(MalformedEnvelope::PayloadType {
            found: envelope.payload_type.clone(),
        }
        .into());
    }
    let statement: Statement =
        serde_json::from_slice(&payload).map_err(MalformedEnvelope::Statement)?;
    // Statement v0.1 has the same shape as v1 for what antidote reads.
    if !statement
        .statement_type
        .starts_with("https://in-toto.io/Statement/")
    {
        return Err(MalformedEnvelope::StatementType {
            found: statement.statement_type,
        }
        .into());
    }
    Ok(statement)
}

fn describe_key_ids(key_ids: &[String]) -> String {
    match key_ids {
        [] => "keys it does not name".to_owned(),
        [key_id] => format!("key `{key_id}`"),
        _ => {
            let quoted: Vec<String> = key_ids.iter().map(|id| format!("`{id}`")).collect();
            format!("keys {}", quoted.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn statement() -> Statement {
        Statement::new(
            vec![Subject::new(
                "data/train.csv",
                &Digest::sha256(sha2::Sha256::digest(b"a,b\n1,2\n").into()),
            )],
            "https://antidote.dev/lock/v1",
            serde_json::json!({"records": 1, "root": "blake3:00"}),
        )
    }

    #[test]
    fn sign_then_verify_round_trips() -> TestResult {
        let key = generate_key();
        let envelope = sign(&statement(), &key)?;
        assert_eq!(envelope.payload_type, PAYLOAD_TYPE);
        assert_eq!(envelope.signatures.len(), 1);
        assert_eq!(envelope.signatures[0].keyid, key_id(key.verifying_key()));
        let verified = verify(&envelope, key.verifying_key())?;
        assert_eq!(verified, statement());
        Ok(())
    }

    #[test]
    fn envelope_json_uses_dsse_and_in_toto_field_names() -> TestResult {
        let envelope = sign(&statement(), &generate_key())?;
        let json = serde_json::to_value(&envelope)?;
        let keys: Vec<&str> = json
            .as_object()
            .expect("an envelope serializes to a JSON object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["payload", "payloadType", "signatures"]);
        let payload: serde_json::Value =
            serde_json::from_slice(&BASE64.decode(&envelope.payload)?)?;
        assert_eq!(payload["_type"], STATEMENT_TYPE);
        assert_eq!(payload["predicateType"], "https://antidote.dev/lock/v1");
        assert!(payload["subject"][0]["digest"]["sha256"].is_string());
        Ok(())
    }

    /// Known answer from the DSSE protocol specification's test vector.
    #[test]
    fn pae_matches_the_dsse_specification() {
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
        );
    }

    #[test]
    fn tampered_payload_is_invalid() -> TestResult {
        let key = generate_key();
        let mut envelope = sign(&statement(), &key)?;
        let mut payload = BASE64.decode(&envelope.payload)?;
        let middle = payload.len() / 2;
        payload[middle] ^= 0x01;
        envelope.payload = BASE64.encode(&payload);
        let err =
            verify(&envelope, key.verifying_key()).expect_err("a tampered payload must not verify");
        assert!(
            matches!(&err, SignatureError::Invalid { key_id: id } if *id == key_id(key.verifying_key())),
            "{err:?}"
        );
        Ok(())
    }

    #[test]
    fn tampered_signature_is_invalid() -> TestResult {
        let key = generate_key();
        let mut envelope = sign(&statement(), &key)?;
        let mut sig = BASE64.decode(&envelope.signatures[0].sig)?;
        let last = sig.len() - 1;
        sig[last] ^= 0x01;
        envelope.signatures[0].sig = BASE64.encode(&sig);
        let err = verify(&envelope, key.verifying_key())
            .expect_err("a tampered signature must not verify");
        assert!(matches!(err, SignatureError::Invalid { .. }), "{err:?}");
        Ok(())
    }

    #[test]
    fn different_key_is_wrong_key() -> TestResult {
        let signer = generate_key();
        let other = generate_key();
        let envelope = sign(&statement(), &signer)?;
        let err =
            verify(&envelope, other.verifying_key()).expect_err("another key must not verify");
        match &err {
            SignatureError::WrongKey {
                expected_key_id,
                found_key_ids,
            } => {
                assert_eq!(*expected_key_id, key_id(other.verifying_key()));
                assert_eq!(*found_key_ids, [key_id(signer.verifying_key())]);
            }
            _ => panic!("expected WrongKey, got {err:?}"),
        }
        assert!(err.to_string().contains(&key_id(signer.verifying_key())));
        Ok(())
    }

    #[test]
    fn stripped_signatures_are_unsigned() -> TestResult {
        let key = generate_key();
        let mut envelope = sign(&statement(), &key)?;
        envelope.signatures.clear();
        let err = verify(&envelope, key.verifying_key())
            .expect_err("an unsigned envelope must not verify");
        assert!(matches!(err, SignatureError::Unsigned), "{err:?}");
        Ok(())
    }

    #[test]
    fn empty_keyid_is_accepted_when_the_signature_verifies() -> TestResult {
        let key = generate_key();
        let mut envelope = sign(&statement(), &key)?;
        envelope.signatures[0].keyid.clear();
        assert_eq!(verify(&envelope, key.verifying_key())?, statement());
        Ok(())
    }

    #[test]
    fn wrong_payload_type_and_non_statement_payload_are_malformed() -> TestResult {
        let key = generate_key();
        let mut envelope = sign(&statement(), &key)?;
        envelope.payload = "not base64!".to_owned();
        let err = verify(&envelope, key.verifying_key()).expect_err("bad base64 must not verify");
        assert!(
            matches!(
                err,
                SignatureError::Malformed(MalformedEnvelope::PayloadBase64(_))
            ),
            "{err:?}"
        );

        // A correctly signed envelope whose payload is not an in-toto Statement.
        let payload = br#"{"hello":"world"}"#;
        let signature: DerSignature = key.sign(&pae(PAYLOAD_TYPE, payload));
        let envelope = Envelope {
            payload: BASE64.encode(payload),
            payload_type: PAYLOAD_TYPE.to_owned(),
            signatures: vec![Signature {
                keyid: String::new(),
                sig: BASE64.encode(signature.as_bytes()),
            }],
        };
        let err = verify(&envelope, key.verifying_key())
            .expect_err("a non-Statement payload must be rejected");
        assert!(
            matches!(
                err,
                SignatureError::Malformed(MalformedEnvelope::Statement(_))
            ),
            "{err:?}"
        );

        let payload = serde_json::to_vec(&statement())?;
        let signature: DerSignature = key.sign(&pae("text/plain", &payload));
        let envelope = Envelope {
            payload: BASE64.encode(&payload),
            payload_type: "text/plain".to_owned(),
            signatures: vec![Signature {
                keyid: String::new(),
                sig: BASE64.encode(signature.as_bytes()),
            }],
        };
        let err = verify(&envelope, key.verifying_key())
            .expect_err("a foreign payload type must be rejected");
        assert!(
            matches!(
                err,
                SignatureError::Malformed(MalformedEnvelope::PayloadType { .. })
            ),
            "{err:?}"
        );
        Ok(())
    }

    #[test]
    fn key_pair_round_trips_through_pem_files() -> TestResult {
        let dir = tempfile::tempdir()?;
        let private_path = dir.path().join("antidote.key");
        let public_path = dir.path().join("antidote.pub");
        let key = generate_key();
        write_key_pair(&key, &private_path, &public_path)?;

        let private_pem = fs_err::read_to_string(&private_path)?;
        assert!(private_pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        let public_pem = fs_err::read_to_string(&public_path)?;
        assert!(public_pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));

        let read_back = read_signing_key(&private_path)?;
        assert_eq!(read_back.to_bytes(), key.to_bytes());
        assert_eq!(read_verifying_key(&public_path)?, *key.verifying_key());

        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs_err::metadata(&private_path)?.permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        Ok(())
    }

    #[test]
    fn write_key_pair_refuses_to_overwrite() -> TestResult {
        let dir = tempfile::tempdir()?;
        let private_path = dir.path().join("antidote.key");
        let public_path = dir.path().join("antidote.pub");
        fs_err::write(&private_path, "precious")?;
        let err = write_key_pair(&generate_key(), &private_path, &public_path)
            .expect_err("an existing key must not be overwritten");
        assert!(
            matches!(&err, SigningError::Exists { path } if *path == private_path),
            "{err:?}"
        );
        assert_eq!(fs_err::read_to_string(&private_path)?, "precious");
        assert!(!public_path.exists());
        Ok(())
    }

    #[test]
    fn public_key_given_as_private_key_names_the_path() -> TestResult {
        let dir = tempfile::tempdir()?;
        let private_path = dir.path().join("antidote.key");
        let public_path = dir.path().join("antidote.pub");
        write_key_pair(&generate_key(), &private_path, &public_path)?;

        let err = read_signing_key(&public_path).expect_err("a public key is not a private key");
        assert!(
            matches!(err, SigningError::PublicKeyGiven { .. }),
            "{err:?}"
        );
        let message = err.to_string();
        assert!(message.contains(&public_path.display().to_string()));
        assert!(message.contains("public key"), "{message}");

        let err = read_verifying_key(&private_path).expect_err("a private key is not a public key");
        assert!(
            matches!(err, SigningError::PrivateKeyGiven { .. }),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .contains(&private_path.display().to_string())
        );

        let text_path = dir.path().join("notes.txt");
        fs_err::write(&text_path, "hello")?;
        let err = read_signing_key(&text_path).expect_err("a text file is not a key");
        assert!(matches!(err, SigningError::NotPem { .. }), "{err:?}");
        assert!(err.to_string().contains(&text_path.display().to_string()));
        Ok(())
    }

    fn openssl(args: &[&str], dir: &Path) -> std::process::Output {
        Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("`openssl` must be installed to run the interoperability tests")
    }

    /// Proves that other tools can check our signatures: OpenSSL verifies the DER signature
    /// over the PAE bytes with the SPKI public key file.
    #[test]
    fn openssl_verifies_our_signature() -> TestResult {
        let dir = tempfile::tempdir()?;
        let private_path = dir.path().join("key.pem");
        let public_path = dir.path().join("pub.pem");
        let key = generate_key();
        write_key_pair(&key, &private_path, &public_path)?;
        let envelope = sign(&statement(), &key)?;
        let payload = BASE64.decode(&envelope.payload)?;
        fs_err::write(
            dir.path().join("pae.bin"),
            pae(&envelope.payload_type, &payload),
        )?;
        fs_err::write(
            dir.path().join("sig.der"),
            BASE64.decode(&envelope.signatures[0].sig)?,
        )?;
        let output = openssl(
            &[
                "dgst",
                "-sha256",
                "-verify",
                "pub.pem",
                "-signature",
                "sig.der",
                "pae.bin",
            ],
            dir.path(),
        );
        assert!(
            output.status.success(),
            "openssl rejected the signature: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );

        let output = openssl(
            &[
                "pkey", "-pubin", "-in", "pub.pem", "-outform", "DER", "-out", "pub.der",
            ],
            dir.path(),
        );
        assert!(output.status.success(), "{output:?}");
        let der = fs_err::read(dir.path().join("pub.der"))?;
        assert_eq!(
            key_id(key.verifying_key()),
            hex::encode(sha2::Sha256::digest(der))
        );
        Ok(())
    }

    /// The other direction: keys and signatures made by OpenSSL are read and verified.
    #[test]
    fn openssl_sec1_key_is_read_and_its_signature_verifies() -> TestResult {
        let dir = tempfile::tempdir()?;
        let output = openssl(
            &[
                "ecparam",
                "-genkey",
                "-name",
                "prime256v1",
                "-out",
                "sec1.pem",
            ],
            dir.path(),
        );
        assert!(output.status.success(), "{output:?}");
        let output = openssl(
            &["ec", "-in", "sec1.pem", "-pubout", "-out", "pub.pem"],
            dir.path(),
        );
        assert!(output.status.success(), "{output:?}");

        let key = read_signing_key(&dir.path().join("sec1.pem"))?;
        let public = read_verifying_key(&dir.path().join("pub.pem"))?;
        assert_eq!(*key.verifying_key(), public);

        let payload = serde_json::to_vec(&statement())?;
        fs_err::write(dir.path().join("pae.bin"), pae(PAYLOAD_TYPE, &payload))?;
        let output = openssl(
            &[
                "dgst", "-sha256", "-sign", "sec1.pem", "-out", "sig.der", "pae.bin",
            ],
            dir.path(),
        );
        assert!(output.status.success(), "{output:?}");
        let envelope = Envelope {
            payload: BASE64.encode(&payload),
            payload_type: PAYLOAD_TYPE.to_owned(),
            signatures: vec![Signature {
                keyid: String::new(),
                sig: BASE64.encode(fs_err::read(dir.path().join("sig.der"))?),
            }],
        };
        assert_eq!(verify(&envelope, &public)?, statement());
        Ok(())
    }
}
