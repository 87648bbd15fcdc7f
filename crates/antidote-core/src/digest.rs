use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The hash functions antidote uses to name content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DigestAlgorithm {
    /// SHA-256, for whole files: it is what `sha256sum`, in-toto and OCI registries speak.
    Sha256,
    /// BLAKE3, for records and Merkle trees: fast, and keyed-free domain separation is easy.
    Blake3,
}

impl DigestAlgorithm {
    /// The lowercase name used in `name:hex` strings.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "sha256",
            Self::Blake3 => "blake3",
        }
    }
}

/// A 32-byte content digest tagged with its algorithm, written `algorithm:hex`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    algorithm: DigestAlgorithm,
    bytes: [u8; 32],
}

impl Digest {
    /// Wraps raw digest bytes.
    #[must_use]
    pub fn new(algorithm: DigestAlgorithm, bytes: [u8; 32]) -> Self {
        Self { algorithm, bytes }
    }

    /// A SHA-256 digest.
    #[must_use]
    pub fn sha256(bytes: [u8; 32]) -> Self {
        Self::new(DigestAlgorithm::Sha256, bytes)
    }

    /// A BLAKE3 digest.
    #[must_use]
    pub fn blake3(bytes: [u8; 32]) -> Self {
        Self::new(DigestAlgorithm::Blake3, bytes)
    }

    /// The algorithm that produced this digest.
    #[must_use]
    pub fn algorithm(&self) -> DigestAlgorithm {
        self.algorithm
    }

    /// The raw bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.bytes
    }

    /// The lowercase hex of the bytes, without the algorithm prefix.
    #[must_use]
    pub fn hex(&self) -> String {
        hex::encode(self.bytes)
    }

    /// The first 12 hex characters, for people to read.
    #[must_use]
    pub fn short(&self) -> String {
        hex::encode(&self.bytes[..6])
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm.name(), self.hex())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Why a string is not a digest.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DigestParseError {
    /// The `algorithm:` prefix is missing.
    #[error("digest `{0}` has no `algorithm:` prefix")]
    MissingAlgorithm(String),
    /// The algorithm is not one antidote knows.
    #[error("unknown digest algorithm `{0}` (expected `sha256` or `blake3`)")]
    UnknownAlgorithm(String),
    /// The hex part is not 64 hex characters.
    #[error("digest `{0}` is not 64 hex characters")]
    BadHex(String),
}

impl FromStr for Digest {
    type Err = DigestParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (algorithm, hex_part) = text
            .split_once(':')
            .ok_or_else(|| DigestParseError::MissingAlgorithm(text.to_owned()))?;
        let algorithm = match algorithm {
            "sha256" => DigestAlgorithm::Sha256,
            "blake3" => DigestAlgorithm::Blake3,
            other => return Err(DigestParseError::UnknownAlgorithm(other.to_owned())),
        };
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(hex_part, &mut bytes)
            .map_err(|_| DigestParseError::BadHex(text.to_owned()))?;
        Ok(Self { algorithm, bytes })
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_text_and_json() {
        let digest = Digest::blake3([7; 32]);
        let text = digest.to_string();
        assert_eq!(text, format!("blake3:{}", "07".repeat(32)));
        assert_eq!(text.parse::<Digest>().unwrap(), digest);
        let json = serde_json::to_string(&digest).unwrap();
        assert_eq!(serde_json::from_str::<Digest>(&json).unwrap(), digest);
    }

    #[test]
    fn rejects_malformed_text() {
        assert!(matches!(
            "abc".parse::<Digest>(),
            Err(DigestParseError::MissingAlgorithm(_))
        ));
        assert!(matches!(
            "md5:00".parse::<Digest>(),
            Err(DigestParseError::UnknownAlgorithm(_))
        ));
        assert!(matches!(
            "sha256:zz".parse::<Digest>(),
            Err(DigestParseError::BadHex(_))
        ));
        assert!(matches!(
            "sha256:00".parse::<Digest>(),
            Err(DigestParseError::BadHex(_))
        ));
    }
}
