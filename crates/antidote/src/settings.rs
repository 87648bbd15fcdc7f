//! Settings resolved once per run: where the project folder, the ledger and the configuration
//! are, and what the configuration says. The command line overrides the environment, which
//! overrides `antidote.toml`; commands read the resolved [`Settings`], never the raw flags.

use std::path::{Path, PathBuf};

use crate::cli::GlobalArgs;

/// The name of the configuration file that marks a project folder.
pub const CONFIG_FILE: &str = "antidote.toml";

/// The folder antidote keeps its state in, inside the project folder.
pub const STATE_FOLDER: &str = ".antidote";

/// The project folder: the nearest folder from `start` upward that holds `antidote.toml` or
/// `.antidote/`; `start` itself when there is none.
#[must_use]
pub fn project_folder(start: &Path) -> PathBuf {
    start
        .ancestors()
        .find(|folder| folder.join(CONFIG_FILE).is_file() || folder.join(STATE_FOLDER).is_dir())
        .unwrap_or(start)
        .to_owned()
}

/// What every command needs beyond its own arguments, resolved once by [`Settings::resolve`].
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// The configuration: `--config`, else `antidote.toml` in the project folder, else defaults.
    pub config: Config,
    /// Where the configuration was read from, when it was read from a file.
    pub config_path: Option<PathBuf>,
    /// The ledger to record the run in; `None` with `--no-ledger`.
    pub ledger: Option<PathBuf>,
    /// The most bytes one record may take when reading data: `--max-record-bytes`
    /// (or `ANTIDOTE_MAX_RECORD_BYTES`), else `[data] max_record_bytes`, else 64 MiB.
    pub max_record_bytes: u64,
}

impl Settings {
    /// Resolves the global options, the environment and the configuration file.
    pub fn resolve(global: &GlobalArgs) -> anyhow::Result<Self> {
        let (config, config_path) = load_config(global.config.as_deref())?;
        let max_record_bytes = global
            .max_record_bytes
            .or(config.data.max_record_bytes)
            .map_or(antidote_data::limits::DEFAULT_MAX_RECORD_BYTES, |size| {
                size.0
            });
        Ok(Self {
            config,
            config_path,
            ledger: ledger_path(global),
            max_record_bytes,
        })
    }
}

/// The ledger to write to, or `None` with `--no-ledger`.
#[must_use]
fn ledger_path(global: &GlobalArgs) -> Option<PathBuf> {
    if global.no_ledger {
        return None;
    }
    if let Some(path) = &global.ledger {
        return Some(path.clone());
    }
    let current = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    Some(
        project_folder(&current)
            .join(STATE_FOLDER)
            .join("ledger.db"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_folder_is_the_nearest_marked_ancestor() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a/b");
        std::fs::create_dir_all(&nested).unwrap();
        assert_eq!(project_folder(&nested), nested);
        std::fs::write(dir.path().join("a").join(CONFIG_FILE), "").unwrap();
        assert_eq!(project_folder(&nested), dir.path().join("a"));
    }

    #[test]
    fn sizes_read_with_binary_units() {
        let parse = |text: &str| text.parse::<ByteSize>().map(|size| size.0);
        assert_eq!(parse("1048576"), Ok(1 << 20));
        assert_eq!(parse("64 MiB"), Ok(64 << 20));
        assert_eq!(parse("512k"), Ok(512 << 10));
        assert_eq!(parse("2G"), Ok(2 << 30));
        assert!(parse("0").is_err());
        assert!(parse("12 parsecs").unwrap_err().contains("not a size"));
        assert!(parse("99999999999 TiB").unwrap_err().contains("too large"));
        let config: Config = toml::from_str("[data]\nmax_record_bytes = \"1 KiB\"\n").unwrap();
        assert_eq!(config.data.max_record_bytes, Some(ByteSize(1024)));
        let config: Config = toml::from_str("[data]\nmax_record_bytes = 4096\n").unwrap();
        assert_eq!(config.data.max_record_bytes, Some(ByteSize(4096)));
    }
}

/// The parts of `antidote.toml` this build reads. Sections for later layers are ignored.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct Config {
    /// `[check]`: thresholds of `antidote check`.
    pub check: antidote_validate::check::Thresholds,
    /// `[rules]`: declarative rules checked by `antidote check`.
    pub rules: antidote_validate::rules::Rules,
    /// `[severity]`: severities by check name, overriding the defaults
    /// (`drift = "error"` makes any drifted column fail the run).
    pub severity: std::collections::BTreeMap<String, antidote_core::Severity>,
    /// `[scan]`: the policy of `antidote scan` (quarantine score, when the data fails).
    pub scan: antidote_detect::policy::Policy,
    /// `[data]`: how datasets are read.
    pub data: DataConfig,
    /// `[gate]`: the thresholds of `antidote gate`.
    pub gate: antidote_gate::Thresholds,
}

/// `[data]` in `antidote.toml`.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct DataConfig {
    /// The most bytes one record may take (`max_record_bytes = "64 MiB"` or a number of bytes).
    pub max_record_bytes: Option<ByteSize>,
}

/// A size in bytes, written as a number of bytes or with a binary unit: `1048576`, `512 KiB`,
/// `64MiB`, `1G` (`K`, `M`, `G` and `T` are binary units, as `KiB`, `MiB`, `GiB` and `TiB`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl std::str::FromStr for ByteSize {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let trimmed = text.trim();
        let split = trimmed
            .find(|character: char| !character.is_ascii_digit())
            .unwrap_or(trimmed.len());
        let (number, unit) = trimmed.split_at(split);
        let invalid = || {
            format!(
                "`{text}` is not a size: write a number of bytes, or one with a unit such as `512 KiB` or `64 MiB`"
            )
        };
        let number: u64 = number.parse().map_err(|_| invalid())?;
        let shift = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 0,
            "k" | "kib" => 10,
            "m" | "mib" => 20,
            "g" | "gib" => 30,
            "t" | "tib" => 40,
            _ => return Err(invalid()),
        };
        let bytes = number
            .checked_mul(1 << shift)
            .ok_or_else(|| format!("`{text}` is too large"))?;
        if bytes == 0 {
            return Err(format!("`{text}`: the size must be at least one byte"));
        }
        Ok(Self(bytes))
    }
}

impl<'de> serde::Deserialize<'de> for ByteSize {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Written {
            Bytes(u64),
            Text(String),
        }
        match Written::deserialize(deserializer)? {
            Written::Bytes(0) => Err(serde::de::Error::custom(
                "the size must be at least one byte",
            )),
            Written::Bytes(bytes) => Ok(Self(bytes)),
            Written::Text(text) => text.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// Reads the configuration: the file given, else `antidote.toml` in the project folder, else
/// the defaults. Returns the path it was read from.
fn load_config(explicit: Option<&Path>) -> anyhow::Result<(Config, Option<PathBuf>)> {
    let path = if let Some(path) = explicit {
        Some(path.to_owned())
    } else {
        let current = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        let candidate = project_folder(&current).join(CONFIG_FILE);
        candidate.is_file().then_some(candidate)
    };
    let Some(path) = path else {
        return Ok((Config::default(), None));
    };
    let text = fs_err::read_to_string(&path)?;
    let config: Config = toml::from_str(&text).map_err(|error| {
        crate::UserError::new(
            format!(
                "`{}` is not a valid configuration: {}",
                path.display(),
                error.message()
            ),
            format!(
                "{}see `antidote check --help` for the `[check]` and `[rules]` tables and `antidote scan --help` for `[scan]`",
                error.span().map_or_else(String::new, |span| {
                    let line = text[..span.start].matches('\n').count() + 1;
                    format!("look at line {line}; ")
                })
            ),
        )
    })?;
    Ok((config, Some(path)))
}
