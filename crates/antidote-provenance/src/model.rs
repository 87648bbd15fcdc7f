//! Model signatures in the format of [OpenSSF model signing] v1.x, private-key method.
//!
//! A model (one file, or a folder of files) is hashed file by file; the signed payload is an
//! in-toto Statement v1 whose predicate (type [`PREDICATE_TYPE`]) lists every file as a resource
//! (`name`, `algorithm`, hex `digest`) with the parameters of the serialization (`method`
//! `files`, `hash_type`, `allow_symlinks`, `ignore_paths`), and whose one subject is the model's
//! name pinned by its root digest: SHA-256 over the raw bytes of the file digests, in resource
//! order. The Statement is signed with ECDSA P-256 / SHA-256 in a DSSE envelope, and the
//! envelope is wrapped in a Sigstore bundle ([`BUNDLE_MEDIA_TYPE`]) whose verification material
//! names the key by a hint, the SHA-256 of its SPKI PEM text, and holds no transparency-log
//! entries. `model_signing sign key` and `model_signing verify key` (the `model-signing` package,
//! 1.x) read and write exactly this, so each side accepts the other's signatures.
//!
//! Start with [`hash_model`], [`sign`] and [`verify_model`].
//!
//! [OpenSSF model signing]: https://github.com/sigstore/model-transparency

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Read as _, Write as _};
use std::path::{Component, Path, PathBuf};

use antidote_core::{Digest, Progress, ProgressUnit};
use antidote_data::output::{AtomicFile, OutputError};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{DerSignature, SigningKey, VerifyingKey};
use p256::pkcs8::{EncodePublicKey as _, LineEnding};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest as _, Sha256};

use crate::signing::{self, Envelope, PAYLOAD_TYPE, SignatureError, Statement, Subject};

/// The predicate type of a model signature, v1.0 of the model signing specification.
pub const PREDICATE_TYPE: &str = "https://model_signing/signature/v1.0";

/// The media type of the Sigstore bundle that holds a model signature.
pub const BUNDLE_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

/// The signature file's name when none is given, as with `model_signing`.
pub const DEFAULT_SIGNATURE: &str = "model.sig";

/// The serialization method that hashes whole files (the other, `shards`, is not supported).
pub const METHOD_FILES: &str = "files";

/// The paths below the model root that are ignored unless told otherwise, as `model_signing`
/// does: what git keeps next to a model checked out of a repository.
pub const GIT_PATHS: [&str; 4] = [".git", ".gitattributes", ".github", ".gitignore"];

/// Size of the read buffer for BLAKE3 streaming.
const BUFFER_BYTES: usize = 1 << 20;

/// The hash applied to each file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum HashType {
    /// SHA-256, the default of model signing.
    #[default]
    Sha256,
    /// BLAKE3, which model signing 1.1 accepts as `hash_type` `blake3`.
    Blake3,
}

impl HashType {
    /// The name model signing records, `sha256` or `blake3`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "sha256",
            Self::Blake3 => "blake3",
        }
    }

    /// The hash type of a recorded name.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "sha256" => Some(Self::Sha256),
            "blake3" => Some(Self::Blake3),
            _ => None,
        }
    }
}

/// How a model is hashed.
#[derive(Debug, Clone)]
pub struct HashOptions {
    /// The hash applied to each file.
    pub hash_type: HashType,
    /// Paths relative to the model root that are left out, with everything below them.
    pub ignore_paths: Vec<PathBuf>,
    /// Whether [`GIT_PATHS`] are left out too.
    pub ignore_git_paths: bool,
}

impl Default for HashOptions {
    fn default() -> Self {
        Self {
            hash_type: HashType::Sha256,
            ignore_paths: Vec::new(),
            ignore_git_paths: true,
        }
    }
}

/// One file of a model and its digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// The path relative to the model root with `/` separators, `.` when the model is one file.
    pub name: String,
    /// The hash that produced [`Resource::digest`], such as `sha256`.
    pub algorithm: String,
    /// The raw digest bytes.
    pub digest: Vec<u8>,
}

/// What a model signature pins: every file of the model with its digest, and how they were
/// hashed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelManifest {
    /// The model's name: the last component of its path. Informative only.
    pub model_name: String,
    /// The hash type recorded in the serialization parameters.
    pub hash_type: String,
    /// Whether symbolic links were followed (antidote never does).
    pub allow_symlinks: bool,
    /// The ignored paths recorded in the signature, relative to the model root.
    pub ignore_paths: Vec<String>,
    /// The files, in canonical order: by path, component by component.
    pub resources: Vec<Resource>,
}

impl ModelManifest {
    /// The root digest: SHA-256 over the raw digests of every resource, in order.
    #[must_use]
    pub fn root_digest(&self) -> Digest {
        let mut hasher = Sha256::new();
        for resource in &self.resources {
            hasher.update(&resource.digest);
        }
        Digest::sha256(hasher.finalize().into())
    }

    /// The in-toto Statement that a model signature signs.
    #[must_use]
    pub fn statement(&self) -> Statement {
        let resources: Vec<serde_json::Value> = self
            .resources
            .iter()
            .map(|resource| {
                json!({
                    "name": resource.name,
                    "algorithm": resource.algorithm,
                    "digest": hex::encode(&resource.digest),
                })
            })
            .collect();
        let mut serialization = json!({
            "method": METHOD_FILES,
            "hash_type": self.hash_type,
            "allow_symlinks": self.allow_symlinks,
        });
        if !self.ignore_paths.is_empty() {
            serialization["ignore_paths"] = json!(self.ignore_paths);
        }
        Statement::new(
            vec![Subject::new(self.model_name.clone(), &self.root_digest())],
            PREDICATE_TYPE,
            json!({ "serialization": serialization, "resources": resources }),
        )
    }

    /// Reads the manifest back from a signed Statement, checking that its root digest matches
    /// its resources.
    pub fn from_statement(statement: &Statement) -> Result<Self, ModelSignatureError> {
        let malformed = |what: String| ModelSignatureError::Malformed { what };
        if statement.predicate_type != PREDICATE_TYPE {
            return Err(ModelSignatureError::PredicateType {
                found: statement.predicate_type.clone(),
            });
        }
        let [subject] = statement.subject.as_slice() else {
            return Err(malformed(format!(
                "expected one subject, found {}",
                statement.subject.len()
            )));
        };
        let expected_root = subject
            .digest
            .get("sha256")
            .ok_or_else(|| malformed("the subject has no `sha256` digest".to_owned()))?;
        let predicate = &statement.predicate;
        let serialization = &predicate["serialization"];
        let method = serialization["method"].as_str().unwrap_or_default();
        if method != METHOD_FILES {
            return Err(ModelSignatureError::Unsupported {
                what: format!("serialization method `{method}`"),
            });
        }
        let hash_type = serialization["hash_type"]
            .as_str()
            .ok_or_else(|| malformed("the serialization has no `hash_type`".to_owned()))?;
        if HashType::parse(hash_type).is_none() {
            return Err(ModelSignatureError::Unsupported {
                what: format!("hash type `{hash_type}`"),
            });
        }
        let allow_symlinks = serialization["allow_symlinks"].as_bool().unwrap_or(false);
        let ignore_paths = match &serialization["ignore_paths"] {
            serde_json::Value::Null => Vec::new(),
            serde_json::Value::Array(paths) => paths
                .iter()
                .map(|path| {
                    path.as_str().map(str::to_owned).ok_or_else(|| {
                        malformed("an entry of `ignore_paths` is not a string".to_owned())
                    })
                })
                .collect::<Result<_, _>>()?,
            _ => return Err(malformed("`ignore_paths` is not a list".to_owned())),
        };
        let entries = predicate["resources"]
            .as_array()
            .ok_or_else(|| malformed("the predicate has no `resources` list".to_owned()))?;
        let mut resources = Vec::with_capacity(entries.len());
        for entry in entries {
            let field = |name: &str| {
                entry[name]
                    .as_str()
                    .ok_or_else(|| malformed(format!("a resource has no `{name}`")))
            };
            let name = field("name")?;
            let digest = hex::decode(field("digest")?)
                .map_err(|_| malformed(format!("the digest of `{name}` is not hex")))?;
            resources.push(Resource {
                name: name.to_owned(),
                algorithm: field("algorithm")?.to_owned(),
                digest,
            });
        }
        let manifest = Self {
            model_name: subject.name.clone(),
            hash_type: hash_type.to_owned(),
            allow_symlinks,
            ignore_paths,
            resources,
        };
        let actual_root = manifest.root_digest().hex();
        if actual_root != *expected_root {
            return Err(ModelSignatureError::RootDigest {
                expected: expected_root.clone(),
                actual: actual_root,
            });
        }
        Ok(manifest)
    }
}

/// A Sigstore bundle holding a model signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bundle {
    /// Always [`BUNDLE_MEDIA_TYPE`] for a model signature.
    pub media_type: String,
    /// How the signer is identified.
    pub verification_material: VerificationMaterial,
    /// The DSSE envelope around the signed Statement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dsse_envelope: Option<Envelope>,
}

/// The verification material of a key-signed bundle: a hint naming the public key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerificationMaterial {
    /// The public key's identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<PublicKeyIdentifier>,
    /// Transparency-log entries; empty for key signing.
    #[serde(default)]
    pub tlog_entries: Vec<serde_json::Value>,
}

/// Names the public key that verifies a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicKeyIdentifier {
    /// [`key_hint`] of the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Bundle {
    /// Reads a bundle from a signature file.
    pub fn read(path: &Path) -> Result<Self, ModelError> {
        let bytes = match fs_err::read(path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                return Err(ModelError::SignatureMissing {
                    path: path.to_owned(),
                });
            }
            Err(error) => return Err(ModelError::Io(error)),
        };
        serde_json::from_slice(&bytes).map_err(|source| ModelError::SignatureUnreadable {
            path: path.to_owned(),
            source,
        })
    }

    /// Writes the bundle as compact JSON, as `model_signing` does, replacing the file atomically.
    pub fn write(&self, path: &Path) -> Result<(), ModelError> {
        let bytes = serde_json::to_vec(self).map_err(ModelError::Serialize)?;
        let mut file = AtomicFile::create(path)?;
        file.write_all(&bytes).map_err(|source| ModelError::Write {
            path: path.to_owned(),
            source,
        })?;
        Ok(file.commit()?)
    }
}

/// Errors from hashing, signing and reading signatures of models.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The model path does not exist.
    #[error("the model `{path}` does not exist", path = path.display())]
    ModelMissing {
        /// The path given.
        path: PathBuf,
    },
    /// The model holds a symbolic link, which model signing refuses by default.
    #[error("`{path}` is a symbolic link; model signatures cover regular files only", path = path.display())]
    Symlink {
        /// The link.
        path: PathBuf,
    },
    /// The model holds something that is neither a file nor a folder.
    #[error("`{path}` is neither a regular file nor a folder", path = path.display())]
    SpecialFile {
        /// The special file.
        path: PathBuf,
    },
    /// A file name is not UTF-8, so it cannot be named in a signature.
    #[error("the name of `{path}` is not UTF-8", path = path.display())]
    NonUtf8 {
        /// The file.
        path: PathBuf,
    },
    /// Reading a file of the model failed.
    #[error("failed to hash `{path}`", path = path.display())]
    Hash {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Walking the model folder failed.
    #[error("failed to list the model folder")]
    Walk(#[from] walkdir::Error),
    /// The signature file does not exist.
    #[error("the signature `{path}` does not exist", path = path.display())]
    SignatureMissing {
        /// The path given.
        path: PathBuf,
    },
    /// The signature file is not a Sigstore bundle in JSON.
    #[error("the signature `{path}` is not a Sigstore bundle", path = path.display())]
    SignatureUnreadable {
        /// The signature file.
        path: PathBuf,
        /// What the parser rejected.
        #[source]
        source: serde_json::Error,
    },
    /// The signature was read but does not hold up.
    #[error("the signature `{path}` is not valid", path = path.display())]
    SignatureRejected {
        /// The signature file.
        path: PathBuf,
        /// Why.
        #[source]
        source: ModelSignatureError,
    },
    /// Signing failed.
    #[error(transparent)]
    Signing(#[from] signing::SigningError),
    /// The bundle could not be serialized.
    #[error("failed to serialize the signature")]
    Serialize(#[source] serde_json::Error),
    /// Writing the signature failed.
    #[error("failed to write `{path}`", path = path.display())]
    Write {
        /// The file being written.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Writing the signature through its temporary file failed.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// Another I/O error.
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl ModelError {
    /// Whether this error says the model is not authentically signed (missing, unreadable or
    /// rejected signature), as opposed to a problem reading the model.
    #[must_use]
    pub fn is_signature_failure(&self) -> bool {
        matches!(
            self,
            Self::SignatureMissing { .. }
                | Self::SignatureUnreadable { .. }
                | Self::SignatureRejected { .. }
        )
    }
}

/// Why a signature bundle is rejected.
#[derive(Debug, thiserror::Error)]
pub enum ModelSignatureError {
    /// The bundle's media type is not the one of key-signed model signatures.
    #[error("its media type is `{found}`, expected `{BUNDLE_MEDIA_TYPE}`")]
    MediaType {
        /// The media type the bundle declares.
        found: String,
    },
    /// The bundle names another public key than the one given.
    #[error(
        "it was made with another key: the bundle names the key `{hint}`, the public key given is `{expected}`"
    )]
    KeyMismatch {
        /// The hint in the bundle.
        hint: String,
        /// The hint of the key given.
        expected: String,
    },
    /// The bundle holds no DSSE envelope.
    #[error("it holds no DSSE envelope")]
    NoEnvelope,
    /// The envelope carries no signature.
    #[error("its envelope carries no signature (it was stripped)")]
    Unsigned,
    /// The signature does not verify.
    #[error(
        "the signature does not verify under the public key given: the signed statement or the signature was altered, or another key made it"
    )]
    BadSignature,
    /// The envelope or its Statement is malformed.
    #[error("its envelope is malformed")]
    Envelope(#[source] signing::MalformedEnvelope),
    /// The Statement is not a model signature.
    #[error("its predicate type is `{found}`, expected `{PREDICATE_TYPE}`")]
    PredicateType {
        /// The predicate type found.
        found: String,
    },
    /// The Statement holds a feature antidote does not implement.
    #[error("it uses {what}, which antidote does not support")]
    Unsupported {
        /// What is unsupported.
        what: String,
    },
    /// The predicate is not of the expected shape.
    #[error("its statement is malformed: {what}")]
    Malformed {
        /// What is wrong.
        what: String,
    },
    /// The subject's root digest does not match the resources.
    #[error("its root digest `{expected}` does not match its files, which hash to `{actual}`")]
    RootDigest {
        /// The root digest in the subject.
        expected: String,
        /// The root digest of the resources.
        actual: String,
    },
}

/// The hint that names a public key in a bundle: the lowercase hex SHA-256 of its SPKI PEM text
/// (with `\n` line endings and 64-character lines), as `model_signing` computes it.
///
/// # Panics
///
/// Never: every valid P-256 public key has an SPKI encoding.
#[must_use]
pub fn key_hint(key: &VerifyingKey) -> String {
    let pem = key
        .to_public_key_pem(LineEnding::LF)
        .expect("a valid P-256 public key always has an SPKI encoding");
    hex::encode(Sha256::digest(pem.as_bytes()))
}

/// Resolves ignore paths given on the command line (relative to the current folder, or
/// absolute) to paths relative to the model root; paths outside the model are dropped, as
/// `model_signing` does.
pub fn resolve_ignore_paths(model: &Path, paths: &[PathBuf]) -> io::Result<Vec<PathBuf>> {
    let root = fs_err::canonicalize(model)?;
    let mut resolved = Vec::new();
    for path in paths {
        let absolute = resolve_lexically(&std::path::absolute(path)?);
        if let Ok(relative) = absolute.strip_prefix(&root) {
            resolved.push(relative.to_owned());
        }
    }
    Ok(resolved)
}

/// Canonicalizes the longest existing prefix of an absolute path and appends the rest, so that
/// paths that do not exist (yet) resolve like Python's `Path.resolve()`.
fn resolve_lexically(path: &Path) -> PathBuf {
    let mut normal = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                normal.pop();
            }
            Component::CurDir => {}
            other => normal.push(other),
        }
    }
    let mut existing = normal.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(canonical) = existing.canonicalize() {
            let mut result = canonical;
            for part in rest.iter().rev() {
                result.push(part);
            }
            return result;
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                existing = parent;
            }
            _ => return normal,
        }
    }
}

/// The model's name: the last component of its path (of the resolved path for `.` or `..`).
fn model_name(model: &Path) -> io::Result<String> {
    if let Some(name) = model.file_name() {
        return Ok(name.to_string_lossy().into_owned());
    }
    Ok(fs_err::canonicalize(model)?
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default())
}

/// Compares two resource names as paths, component by component, as `model_signing` orders
/// them.
fn path_order(left: &str, right: &str) -> Ordering {
    left.split('/').cmp(right.split('/'))
}

/// The files of a model, with their resource names, and their total size.
fn model_files(
    model: &Path,
    ignore: &[PathBuf],
) -> Result<Vec<(String, PathBuf, u64)>, ModelError> {
    let metadata = match fs_err::symlink_metadata(model) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            return Err(ModelError::ModelMissing {
                path: model.to_owned(),
            });
        }
        Err(error) => return Err(error.into()),
    };
    if metadata.file_type().is_symlink() {
        return Err(ModelError::Symlink {
            path: model.to_owned(),
        });
    }
    if metadata.is_file() {
        return Ok(vec![(".".to_owned(), model.to_owned(), metadata.len())]);
    }
    if !metadata.is_dir() {
        return Err(ModelError::SpecialFile {
            path: model.to_owned(),
        });
    }
    let ignored = |relative: &Path| ignore.iter().any(|path| relative.starts_with(path));
    let mut files = Vec::new();
    let walker = walkdir::WalkDir::new(model)
        .min_depth(1)
        .follow_links(false)
        .into_iter()
        .filter_entry(|entry| {
            entry
                .path()
                .strip_prefix(model)
                .is_ok_and(|relative| !ignored(relative))
        });
    for entry in walker {
        let entry = entry?;
        let file_type = entry.file_type();
        if file_type.is_dir() {
            continue;
        }
        let path = entry.path();
        if file_type.is_symlink() {
            return Err(ModelError::Symlink {
                path: path.to_owned(),
            });
        }
        if !file_type.is_file() {
            return Err(ModelError::SpecialFile {
                path: path.to_owned(),
            });
        }
        let relative = path
            .strip_prefix(model)
            .expect("walkdir yields paths below its root");
        let mut name = String::new();
        for component in relative.components() {
            let part = component
                .as_os_str()
                .to_str()
                .ok_or_else(|| ModelError::NonUtf8 {
                    path: path.to_owned(),
                })?;
            if !name.is_empty() {
                name.push('/');
            }
            name.push_str(part);
        }
        files.push((name, path.to_owned(), entry.metadata()?.len()));
    }
    Ok(files)
}

/// BLAKE3 of one file, streaming.
fn blake3_file(path: &Path) -> io::Result<(u64, [u8; 32])> {
    let mut file = fs_err::File::open(path)?;
    let mut hasher = blake3::Hasher::new();
    let mut buffer = vec![0u8; BUFFER_BYTES];
    let mut size = 0u64;
    loop {
        let read = match file.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        hasher.update(&buffer[..read]);
        size += read as u64;
    }
    Ok((size, *hasher.finalize().as_bytes()))
}

/// Hashes every file of a model (a file, or a folder and everything below it) in parallel.
///
/// Ignored paths and everything below them are skipped, and so are [`GIT_PATHS`] when
/// `options.ignore_git_paths` is set; all of them are recorded in the manifest. Symbolic links
/// and special files are refused.
pub fn hash_model(
    model: &Path,
    options: &HashOptions,
    progress: &dyn Progress,
) -> Result<ModelManifest, ModelError> {
    let mut ignore: Vec<PathBuf> = options.ignore_paths.clone();
    if options.ignore_git_paths {
        ignore.extend(GIT_PATHS.iter().map(PathBuf::from));
    }
    let mut files = model_files(model, &ignore)?;
    files.sort_by(|left, right| path_order(&left.0, &right.0));
    let total = files.iter().map(|(_, _, size)| size).sum();
    progress.start("hashing the model", Some(total), ProgressUnit::Bytes);
    // Largest files first, each taken by the next free thread: a model's few large shards are
    // hashed side by side, not one after another in one thread's half of the sorted list (4
    // shards of 1.2 GB took 4 single-core hashes' time on 2 cores).
    let mut order: Vec<usize> = (0..files.len()).collect();
    order.sort_by_key(|&index| std::cmp::Reverse(files[index].2));
    let hash_one = |path: &PathBuf| -> Result<Vec<u8>, ModelError> {
        let hashed = match options.hash_type {
            HashType::Sha256 => crate::hashing::sha256_file(path)
                .map(|hash| (hash.size, hash.sha256.as_bytes().to_vec())),
            HashType::Blake3 => blake3_file(path).map(|(size, bytes)| (size, bytes.to_vec())),
        };
        let (size, digest) = hashed.map_err(|source| ModelError::Hash {
            path: path.clone(),
            source,
        })?;
        progress.advance(size);
        Ok(digest)
    };
    let mut hashed: Vec<(usize, Result<Vec<u8>, ModelError>)> = order
        .into_iter()
        .par_bridge()
        .map(|index| (index, hash_one(&files[index].1)))
        .collect();
    progress.finish();
    hashed.sort_unstable_by_key(|(index, _)| *index);
    let digests = hashed.into_iter().map(|(_, digest)| digest);
    let mut resources = Vec::with_capacity(files.len());
    for ((name, _, _), digest) in files.into_iter().zip(digests) {
        resources.push(Resource {
            name,
            algorithm: options.hash_type.name().to_owned(),
            digest: digest?,
        });
    }
    let ignore_paths: BTreeSet<String> = ignore
        .iter()
        .map(|path| {
            path.components()
                .map(|component| component.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/")
        })
        .filter(|path| !path.is_empty())
        .collect();
    Ok(ModelManifest {
        model_name: model_name(model)?,
        hash_type: options.hash_type.name().to_owned(),
        allow_symlinks: false,
        ignore_paths: ignore_paths.into_iter().collect(),
        resources,
    })
}

/// Signs a model manifest: the Statement as indented JSON in a DSSE envelope, signed with
/// ECDSA P-256 / SHA-256 (DER), inside a Sigstore bundle naming the key by [`key_hint`].
pub fn sign(manifest: &ModelManifest, key: &SigningKey) -> Result<Bundle, ModelError> {
    let payload =
        serde_json::to_vec_pretty(&manifest.statement()).map_err(ModelError::Serialize)?;
    let signature: DerSignature = key.sign(&signing::pae(PAYLOAD_TYPE, &payload));
    Ok(Bundle {
        media_type: BUNDLE_MEDIA_TYPE.to_owned(),
        verification_material: VerificationMaterial {
            public_key: Some(PublicKeyIdentifier {
                hint: Some(key_hint(key.verifying_key())),
            }),
            tlog_entries: Vec::new(),
        },
        dsse_envelope: Some(Envelope {
            payload: BASE64.encode(&payload),
            payload_type: PAYLOAD_TYPE.to_owned(),
            signatures: vec![signing::Signature {
                keyid: String::new(),
                sig: BASE64.encode(signature.as_bytes()),
            }],
        }),
    })
}

/// Checks a bundle's signature under `key` and returns the manifest it signs.
pub fn open(bundle: &Bundle, key: &VerifyingKey) -> Result<ModelManifest, ModelSignatureError> {
    if bundle.media_type != BUNDLE_MEDIA_TYPE {
        return Err(ModelSignatureError::MediaType {
            found: bundle.media_type.clone(),
        });
    }
    let expected = key_hint(key);
    if let Some(hint) = bundle
        .verification_material
        .public_key
        .as_ref()
        .and_then(|public_key| public_key.hint.as_ref())
        && *hint != expected
    {
        return Err(ModelSignatureError::KeyMismatch {
            hint: hint.clone(),
            expected,
        });
    }
    let envelope = bundle
        .dsse_envelope
        .as_ref()
        .ok_or(ModelSignatureError::NoEnvelope)?;
    let statement = signing::verify(envelope, key).map_err(|error| match error {
        SignatureError::Unsigned => ModelSignatureError::Unsigned,
        SignatureError::WrongKey { .. } | SignatureError::Invalid { .. } => {
            ModelSignatureError::BadSignature
        }
        SignatureError::Malformed(malformed) => ModelSignatureError::Envelope(malformed),
    })?;
    ModelManifest::from_statement(&statement)
}

/// A difference between the signed model and the model on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "change", content = "file", rename_all = "lowercase")]
pub enum ModelChange {
    /// The file's content differs from what was signed.
    Modified(String),
    /// The file is on disk but was not signed.
    Added(String),
    /// The file was signed but is not on disk.
    Removed(String),
}

impl ModelChange {
    /// The resource name of the file.
    #[must_use]
    pub fn file(&self) -> &str {
        match self {
            Self::Modified(file) | Self::Added(file) | Self::Removed(file) => file,
        }
    }
}

/// The differences between a signed manifest and the model's manifest now, by file name.
#[must_use]
pub fn compare(signed: &ModelManifest, actual: &ModelManifest) -> Vec<ModelChange> {
    let index = |manifest: &ModelManifest| -> BTreeMap<String, (String, Vec<u8>)> {
        manifest
            .resources
            .iter()
            .map(|resource| {
                (
                    resource.name.clone(),
                    (resource.algorithm.clone(), resource.digest.clone()),
                )
            })
            .collect()
    };
    let signed = index(signed);
    let actual = index(actual);
    let mut changes = Vec::new();
    for (name, digest) in &signed {
        match actual.get(name) {
            None => changes.push(ModelChange::Removed(name.clone())),
            Some(now) if now != digest => changes.push(ModelChange::Modified(name.clone())),
            Some(_) => {}
        }
    }
    for name in actual.keys() {
        if !signed.contains_key(name) {
            changes.push(ModelChange::Added(name.clone()));
        }
    }
    changes.sort_by(|left, right| path_order(left.file(), right.file()));
    changes
}

/// The outcome of checking a model against its signature.
#[derive(Debug, Clone)]
pub struct ModelVerification {
    /// What the signature pins.
    pub signed: ModelManifest,
    /// The model as it is now, hashed as the signature says.
    pub actual: ModelManifest,
    /// Every file that differs; empty when the model is intact.
    pub changes: Vec<ModelChange>,
}

impl ModelVerification {
    /// Whether the model matches its signature.
    #[must_use]
    pub fn passed(&self) -> bool {
        self.changes.is_empty()
    }
}

/// Checks a model against a signature file: the signature must verify under `key`, then the
/// model is hashed the way the signature records (its hash type and ignored paths, plus
/// `options.ignore_paths` and [`GIT_PATHS`] if asked) and compared file by file.
pub fn verify_model(
    model: &Path,
    signature: &Path,
    key: &VerifyingKey,
    options: &HashOptions,
    progress: &dyn Progress,
) -> Result<ModelVerification, ModelError> {
    let bundle = Bundle::read(signature)?;
    let signed = open(&bundle, key).map_err(|source| ModelError::SignatureRejected {
        path: signature.to_owned(),
        source,
    })?;
    let mut options = options.clone();
    options.hash_type = HashType::parse(&signed.hash_type).unwrap_or_default();
    for path in &signed.ignore_paths {
        let path = PathBuf::from(path);
        if path
            .components()
            .all(|component| matches!(component, Component::Normal(_)))
        {
            options.ignore_paths.push(path);
        }
    }
    let actual = hash_model(model, &options, progress)?;
    let changes = compare(&signed, &actual);
    Ok(ModelVerification {
        signed,
        actual,
        changes,
    })
}

#[cfg(test)]
mod tests {
    use antidote_core::NoProgress;

    use super::*;
    use crate::signing::generate_key;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn model() -> Result<tempfile::TempDir, Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let root = dir.path().join("bert");
        fs_err::create_dir_all(root.join("sub"))?;
        fs_err::create_dir_all(root.join(".git"))?;
        fs_err::write(root.join("a.txt"), "hello\n")?;
        fs_err::write(root.join("a.b"), "x\n")?;
        fs_err::write(root.join("sub/b.bin"), "w\n")?;
        fs_err::write(root.join(".git/HEAD"), "ref\n")?;
        Ok(dir)
    }

    /// The same model and digests as `model_signing sign key` gave for it (1.1.1): file digests
    /// are SHA-256 of the content, resources are ordered by path components (`a.b`, `a.txt`,
    /// `sub/b.bin`) and the root digest is SHA-256 of the raw digests in that order.
    #[test]
    fn manifest_matches_model_signing() -> TestResult {
        let dir = model()?;
        let manifest = hash_model(
            &dir.path().join("bert"),
            &HashOptions::default(),
            &NoProgress,
        )?;
        let names: Vec<&str> = manifest.resources.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["a.b", "a.txt", "sub/b.bin"]);
        assert_eq!(
            hex::encode(&manifest.resources[1].digest),
            "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
        );
        assert_eq!(
            manifest.root_digest().hex(),
            "f0914dfb3350686612823976907645767024fd59d720d0026b52995e93802672"
        );
        assert_eq!(manifest.model_name, "bert");
        assert_eq!(
            manifest.ignore_paths,
            [".git", ".gitattributes", ".github", ".gitignore"]
        );
        Ok(())
    }

    #[test]
    fn path_order_is_by_component() {
        let mut names = vec!["a.txt", "a/b", "a", "b"];
        names.sort_by(|left, right| path_order(left, right));
        assert_eq!(names, ["a", "a/b", "a.txt", "b"]);
    }

    #[test]
    fn a_single_file_is_named_dot() -> TestResult {
        let dir = model()?;
        let manifest = hash_model(
            &dir.path().join("bert/a.txt"),
            &HashOptions::default(),
            &NoProgress,
        )?;
        assert_eq!(manifest.model_name, "a.txt");
        assert_eq!(manifest.resources.len(), 1);
        assert_eq!(manifest.resources[0].name, ".");
        Ok(())
    }

    #[test]
    fn sign_then_verify_round_trips_and_detects_changes() -> TestResult {
        let dir = model()?;
        let root = dir.path().join("bert");
        let signature = dir.path().join("model.sig");
        let key = generate_key();
        let manifest = hash_model(&root, &HashOptions::default(), &NoProgress)?;
        sign(&manifest, &key)?.write(&signature)?;
        let options = HashOptions::default();
        let report = verify_model(
            &root,
            &signature,
            key.verifying_key(),
            &options,
            &NoProgress,
        )?;
        assert!(report.passed(), "{:?}", report.changes);

        fs_err::write(root.join("a.txt"), "tampered\n")?;
        fs_err::write(root.join("new.bin"), "added\n")?;
        fs_err::remove_file(root.join("sub/b.bin"))?;
        fs_err::write(root.join(".git/HEAD"), "ignored\n")?;
        let report = verify_model(
            &root,
            &signature,
            key.verifying_key(),
            &options,
            &NoProgress,
        )?;
        assert_eq!(
            report.changes,
            [
                ModelChange::Modified("a.txt".to_owned()),
                ModelChange::Added("new.bin".to_owned()),
                ModelChange::Removed("sub/b.bin".to_owned()),
            ]
        );
        Ok(())
    }

    #[test]
    fn bundle_layout_is_the_sigstore_one() -> TestResult {
        let dir = model()?;
        let key = generate_key();
        let manifest = hash_model(
            &dir.path().join("bert"),
            &HashOptions::default(),
            &NoProgress,
        )?;
        let json = serde_json::to_value(sign(&manifest, &key)?)?;
        assert_eq!(json["mediaType"], BUNDLE_MEDIA_TYPE);
        assert_eq!(
            json["verificationMaterial"]["publicKey"]["hint"],
            key_hint(key.verifying_key())
        );
        assert_eq!(json["verificationMaterial"]["tlogEntries"], json!([]));
        assert_eq!(json["dsseEnvelope"]["payloadType"], PAYLOAD_TYPE);
        let payload: serde_json::Value = serde_json::from_slice(
            &BASE64.decode(json["dsseEnvelope"]["payload"].as_str().unwrap_or_default())?,
        )?;
        assert_eq!(payload["predicateType"], PREDICATE_TYPE);
        assert_eq!(payload["subject"][0]["name"], "bert");
        assert_eq!(payload["predicate"]["serialization"]["method"], "files");
        assert_eq!(payload["predicate"]["serialization"]["hash_type"], "sha256");
        assert_eq!(
            payload["predicate"]["serialization"]["allow_symlinks"],
            false
        );
        assert_eq!(payload["predicate"]["resources"][2]["name"], "sub/b.bin");
        Ok(())
    }

    #[test]
    fn key_hint_is_sha256_of_the_pem_text() {
        let key = generate_key();
        let pem = key
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .expect("a PEM encoding");
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        assert!(pem.ends_with("-----END PUBLIC KEY-----\n"));
        assert_eq!(
            key_hint(key.verifying_key()),
            hex::encode(Sha256::digest(pem.as_bytes()))
        );
    }

    #[test]
    fn wrong_key_stripped_and_corrupted_signatures_are_rejected() -> TestResult {
        let dir = model()?;
        let key = generate_key();
        let manifest = hash_model(
            &dir.path().join("bert"),
            &HashOptions::default(),
            &NoProgress,
        )?;
        let bundle = sign(&manifest, &key)?;

        let other = generate_key();
        let err = open(&bundle, other.verifying_key()).expect_err("another key");
        assert!(
            matches!(err, ModelSignatureError::KeyMismatch { .. }),
            "{err:?}"
        );

        let mut no_hint = bundle.clone();
        no_hint.verification_material.public_key = None;
        let err = open(&no_hint, other.verifying_key()).expect_err("another key, no hint");
        assert!(matches!(err, ModelSignatureError::BadSignature), "{err:?}");

        let mut stripped = bundle.clone();
        if let Some(envelope) = stripped.dsse_envelope.as_mut() {
            envelope.signatures.clear();
        }
        let err = open(&stripped, key.verifying_key()).expect_err("stripped");
        assert!(matches!(err, ModelSignatureError::Unsigned), "{err:?}");

        let mut corrupted = bundle.clone();
        if let Some(envelope) = corrupted.dsse_envelope.as_mut() {
            let mut sig = BASE64.decode(&envelope.signatures[0].sig)?;
            let last = sig.len() - 1;
            sig[last] ^= 1;
            envelope.signatures[0].sig = BASE64.encode(sig);
        }
        let err = open(&corrupted, key.verifying_key()).expect_err("corrupted");
        assert!(matches!(err, ModelSignatureError::BadSignature), "{err:?}");

        assert_eq!(open(&bundle, key.verifying_key())?, manifest);
        Ok(())
    }

    #[test]
    fn blake3_is_recorded_and_verified() -> TestResult {
        let dir = model()?;
        let root = dir.path().join("bert");
        let options = HashOptions {
            hash_type: HashType::Blake3,
            ..HashOptions::default()
        };
        let manifest = hash_model(&root, &options, &NoProgress)?;
        assert_eq!(manifest.hash_type, "blake3");
        assert_eq!(
            manifest.resources[1].digest,
            blake3::hash(b"hello\n").as_bytes().to_vec()
        );
        let key = generate_key();
        let signature = dir.path().join("model.sig");
        sign(&manifest, &key)?.write(&signature)?;
        let report = verify_model(
            &root,
            &signature,
            key.verifying_key(),
            &HashOptions::default(),
            &NoProgress,
        )?;
        assert!(report.passed(), "{:?}", report.changes);
        assert_eq!(report.actual.hash_type, "blake3");
        Ok(())
    }
}
