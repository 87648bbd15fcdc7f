//! The ledger: an append-only, hash-chained record of every lock, verify, diff, sign, scan and
//! gate event, kept in one `SQLite` file. Each [`Event`] carries the SHA-256 of its own content and
//! of the event before it, so editing, deleting or reordering events afterwards shows up in
//! [`Ledger::verify`]. Open one with [`Ledger::open`] and add to it with [`Ledger::append`].
//!
//! ## Limits
//!
//! The chain proves that the events form one unbroken sequence, not that the sequence is
//! complete: removing the newest events (truncating the tail), or rewriting an event and every
//! event after it, leaves a chain that verifies. Both are detectable only against a head hash
//! recorded somewhere the attacker cannot reach (a signed manifest, a CI log, a ticket), which
//! is why [`ChainReport::head`] is returned for callers to record. `SQLite` triggers refuse
//! `UPDATE` and `DELETE` on the events table, but they defend against accidents only: anyone who
//! can write the file can drop them.

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension as _, TransactionBehavior, params};
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

/// The `prev_hash` of the first event: 64 zeros.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The schema version this code writes, kept in `SQLite`'s `user_version`.
const SCHEMA_VERSION: i64 = 1;

/// Domain separation for event hashes, so they cannot collide with any other SHA-256 antidote
/// computes; bump the version if the encoding in [`event_hash`] ever changes.
const HASH_DOMAIN: &[u8] = b"antidote-ledger-event-v1\0";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    seq       INTEGER PRIMARY KEY,
    time      TEXT NOT NULL,
    kind      TEXT NOT NULL,
    subject   TEXT NOT NULL,
    outcome   TEXT NOT NULL,
    actor     TEXT NOT NULL,
    details   TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
";

const TRIGGERS: &str = "
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'the antidote ledger is append-only: events cannot be updated');
END;
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'the antidote ledger is append-only: events cannot be deleted');
END;
";

/// Errors from opening, reading or appending to a ledger.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The directory that should hold the ledger could not be created.
    #[error("failed to create the directory for the ledger `{path}`", path = path.display())]
    CreateDir {
        /// The ledger file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file could not be opened as a `SQLite` database, or its schema could not be created.
    #[error("failed to open the ledger `{path}`", path = path.display())]
    Open {
        /// The ledger file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: rusqlite::Error,
    },
    /// The ledger was written by a newer antidote.
    #[error(
        "the ledger `{path}` has schema version `{found}`, but this antidote reads only version `{SCHEMA_VERSION}`",
        path = path.display()
    )]
    UnsupportedSchema {
        /// The ledger file.
        path: PathBuf,
        /// The schema version in the file.
        found: i64,
    },
    /// Reading events failed.
    #[error("failed to read the ledger `{path}`", path = path.display())]
    Read {
        /// The ledger file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: rusqlite::Error,
    },
    /// Appending an event failed.
    #[error("failed to append to the ledger `{path}`", path = path.display())]
    Append {
        /// The ledger file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: rusqlite::Error,
    },
    /// A stored event's details are not JSON; the row was altered outside antidote.
    #[error("event {seq} in the ledger `{path}` has details that are not valid JSON", path = path.display())]
    Details {
        /// The ledger file.
        path: PathBuf,
        /// The event's sequence number.
        seq: i64,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
}

/// An event to append; the ledger adds the sequence number, time, actor and hashes.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// What happened: `lock`, `verify`, `diff`, `sign`, `keygen`, `scan`, `gate`.
    pub kind: String,
    /// What it is about: a lock file path, a dataset, a model.
    pub subject: String,
    /// How it ended: `ok`, `failed`, ...
    pub outcome: String,
    /// Anything else worth keeping, such as digests and counts.
    pub details: serde_json::Value,
}

/// An event as stored in the ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// The position in the ledger, starting at 1.
    pub seq: i64,
    /// When the event was appended, RFC 3339 in UTC with milliseconds.
    pub time: String,
    /// What happened, as in [`NewEvent::kind`].
    pub kind: String,
    /// What it is about, as in [`NewEvent::subject`].
    pub subject: String,
    /// How it ended, as in [`NewEvent::outcome`].
    pub outcome: String,
    /// Who appended it: `$USER@hostname`, or `unknown`.
    pub actor: String,
    /// Anything else worth keeping.
    pub details: serde_json::Value,
    /// The hash of the previous event, or [`GENESIS_HASH`] for the first.
    pub prev_hash: String,
    /// The lowercase hex SHA-256 of this event's content and `prev_hash`.
    pub hash: String,
}

/// What [`Ledger::verify`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainReport {
    /// How many events the ledger holds.
    pub events: u64,
    /// The stored hash of the newest event, `None` for an empty ledger. Record it elsewhere to
    /// detect later truncation.
    pub head: Option<String>,
    /// Every problem found, in sequence order.
    pub problems: Vec<ChainProblem>,
}

impl ChainReport {
    /// Whether the chain has no problems.
    #[must_use]
    pub fn is_intact(&self) -> bool {
        self.problems.is_empty()
    }
}

/// A break in the hash chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum ChainProblem {
    /// The event's content no longer matches its stored hash.
    Edited {
        /// The edited event.
        seq: i64,
    },
    /// Sequence numbers jump: events between `after_seq` and `before_seq` are missing.
    /// `after_seq` is 0 when the first events are missing.
    Deleted {
        /// The last event before the gap, or 0.
        after_seq: i64,
        /// The first event after the gap.
        before_seq: i64,
    },
    /// The event links to another event than the one before it.
    Reordered {
        /// The out-of-place event.
        seq: i64,
    },
    /// The event links to no event in the ledger.
    BrokenLink {
        /// The event whose link is broken.
        seq: i64,
    },
}

impl fmt::Display for ChainProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Edited { seq } => write!(
                f,
                "event {seq} was edited after it was written (its content no longer matches its hash)"
            ),
            Self::Deleted {
                after_seq: 0,
                before_seq,
            } => {
                if before_seq == 2 {
                    write!(f, "event 1 was deleted (the ledger starts at event 2)")
                } else {
                    write!(
                        f,
                        "events 1 to {} were deleted (the ledger starts at event {before_seq})",
                        before_seq - 1
                    )
                }
            }
            Self::Deleted {
                after_seq,
                before_seq,
            } => {
                if before_seq - after_seq == 2 {
                    write!(
                        f,
                        "event {} was deleted (the ledger jumps from event {after_seq} to event {before_seq})",
                        after_seq + 1
                    )
                } else {
                    write!(
                        f,
                        "events {} to {} were deleted (the ledger jumps from event {after_seq} to event {before_seq})",
                        after_seq + 1,
                        before_seq - 1
                    )
                }
            }
            Self::Reordered { seq } => write!(
                f,
                "event {seq} is out of order (it follows a different event than the one before it)"
            ),
            Self::BrokenLink { seq } => write!(
                f,
                "event {seq} does not link to the event before it (an event was altered or inserted)"
            ),
        }
    }
}

/// An append-only, hash-chained event log in a `SQLite` file.
#[derive(Debug)]
pub struct Ledger {
    path: PathBuf,
    connection: Connection,
    actor: String,
}

impl Ledger {
    /// Opens the ledger at `path`, creating the file, its parent directories and the schema if
    /// needed.
    ///
    /// If the append-only triggers were dropped, they are put back (with a warning); whatever
    /// was changed meanwhile shows up in [`Ledger::verify`].
    pub fn open(path: &Path) -> Result<Ledger, LedgerError> {
        if let Some(parent) = path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
        {
            fs_err::create_dir_all(parent).map_err(|source| LedgerError::CreateDir {
                path: path.to_owned(),
                source,
            })?;
        }
        let open_error = |source| LedgerError::Open {
            path: path.to_owned(),
            source,
        };
        let connection = Connection::open(path).map_err(open_error)?;
        // Another process may be appending; wait for it rather than fail.
        connection
            .busy_timeout(Duration::from_secs(10))
            .map_err(open_error)?;
        let version: i64 = connection
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(open_error)?;
        if version > SCHEMA_VERSION {
            return Err(LedgerError::UnsupportedSchema {
                path: path.to_owned(),
                found: version,
            });
        }
        if version == 0 {
            connection
                .execute_batch(&format!(
                    "BEGIN IMMEDIATE; {SCHEMA} {TRIGGERS} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
                ))
                .map_err(open_error)?;
        } else {
            let triggers: i64 = connection
                .query_row(
                    "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' \
                     AND name IN ('events_no_update', 'events_no_delete')",
                    [],
                    |row| row.get(0),
                )
                .map_err(open_error)?;
            if triggers < 2 {
                tracing::warn!(
                    "the append-only triggers of the ledger `{}` were removed; restoring them",
                    path.display()
                );
                connection.execute_batch(TRIGGERS).map_err(open_error)?;
            }
        }
        Ok(Ledger {
            path: path.to_owned(),
            connection,
            actor: default_actor(),
        })
    }

    /// The file the ledger lives in.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Who new events are attributed to: `$USER@hostname` by default.
    #[must_use]
    pub fn actor(&self) -> &str {
        &self.actor
    }

    /// Attributes new events to `actor` instead, for example a CI job id.
    pub fn set_actor(&mut self, actor: impl Into<String>) {
        self.actor = actor.into();
    }

    /// Appends an event, chained to the newest one, and returns it as stored.
    ///
    /// Reading the newest hash and inserting happen in one `IMMEDIATE` transaction, so concurrent
    /// writers cannot fork the chain.
    pub fn append(&mut self, event: NewEvent) -> Result<Event, LedgerError> {
        let append_error = |source| LedgerError::Append {
            path: self.path.clone(),
            source,
        };
        let details = canonical_json(&event.details);
        let time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(append_error)?;
        let last: Option<(i64, String)> = transaction
            .query_row(
                "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
            .map_err(append_error)?;
        let (seq, prev_hash) = match last {
            Some((seq, hash)) => (seq + 1, hash),
            None => (1, GENESIS_HASH.to_owned()),
        };
        let stored = StoredEvent {
            seq,
            time,
            kind: event.kind,
            subject: event.subject,
            outcome: event.outcome,
            actor: self.actor.clone(),
            details,
            prev_hash,
            hash: String::new(),
        };
        let hash = stored.compute_hash();
        transaction
            .execute(
                "INSERT INTO events (seq, time, kind, subject, outcome, actor, details, prev_hash, hash) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    stored.seq,
                    stored.time,
                    stored.kind,
                    stored.subject,
                    stored.outcome,
                    stored.actor,
                    stored.details,
                    stored.prev_hash,
                    hash,
                ],
            )
            .map_err(append_error)?;
        transaction.commit().map_err(append_error)?;
        tracing::debug!(seq, %hash, "appended a `{}` event to the ledger", stored.kind);
        Ok(Event {
            seq: stored.seq,
            time: stored.time,
            kind: stored.kind,
            subject: stored.subject,
            outcome: stored.outcome,
            actor: stored.actor,
            details: event.details,
            prev_hash: stored.prev_hash,
            hash,
        })
    }

    /// All events, in sequence order.
    pub fn events(&self) -> Result<Vec<Event>, LedgerError> {
        self.stored_events()?
            .into_iter()
            .map(|stored| {
                let details = serde_json::from_str(&stored.details).map_err(|source| {
                    LedgerError::Details {
                        path: self.path.clone(),
                        seq: stored.seq,
                        source,
                    }
                })?;
                Ok(Event {
                    seq: stored.seq,
                    time: stored.time,
                    kind: stored.kind,
                    subject: stored.subject,
                    outcome: stored.outcome,
                    actor: stored.actor,
                    details,
                    prev_hash: stored.prev_hash,
                    hash: stored.hash,
                })
            })
            .collect()
    }

    /// Walks the chain in sequence order and reports every problem found, not just the first.
    ///
    /// An intact report means that no event was edited, deleted from the middle or moved since it
    /// was written. It cannot show that the newest events were not removed: compare
    /// [`ChainReport::head`] with a head recorded earlier for that (see the module docs).
    pub fn verify(&self) -> Result<ChainReport, LedgerError> {
        let events = self.stored_events()?;
        let known_hashes: HashSet<&str> = events.iter().map(|event| event.hash.as_str()).collect();
        let mut problems = Vec::new();
        let mut previous: Option<&StoredEvent> = None;
        for event in &events {
            if event.compute_hash() != event.hash {
                problems.push(ChainProblem::Edited { seq: event.seq });
            }
            let previous_seq = previous.map_or(0, |previous| previous.seq);
            if event.seq > previous_seq + 1 {
                // The link points at a missing event, so it cannot be checked; the gap is the
                // problem to report.
                problems.push(ChainProblem::Deleted {
                    after_seq: previous_seq,
                    before_seq: event.seq,
                });
            } else {
                let expected = previous.map_or(GENESIS_HASH, |previous| previous.hash.as_str());
                if event.prev_hash != expected {
                    if known_hashes.contains(event.prev_hash.as_str()) {
                        problems.push(ChainProblem::Reordered { seq: event.seq });
                    } else {
                        problems.push(ChainProblem::BrokenLink { seq: event.seq });
                    }
                }
            }
            previous = Some(event);
        }
        Ok(ChainReport {
            events: events.len() as u64,
            head: events.last().map(|event| event.hash.clone()),
            problems,
        })
    }

    fn stored_events(&self) -> Result<Vec<StoredEvent>, LedgerError> {
        let read_error = |source| LedgerError::Read {
            path: self.path.clone(),
            source,
        };
        let mut statement = self
            .connection
            .prepare(
                "SELECT seq, time, kind, subject, outcome, actor, details, prev_hash, hash \
                 FROM events ORDER BY seq",
            )
            .map_err(read_error)?;
        statement
            .query_map([], |row| {
                Ok(StoredEvent {
                    seq: row.get(0)?,
                    time: row.get(1)?,
                    kind: row.get(2)?,
                    subject: row.get(3)?,
                    outcome: row.get(4)?,
                    actor: row.get(5)?,
                    details: row.get(6)?,
                    prev_hash: row.get(7)?,
                    hash: row.get(8)?,
                })
            })
            .map_err(read_error)?
            .collect::<Result<_, _>>()
            .map_err(read_error)
    }
}

/// A row as stored, with `details` as the exact JSON text that was hashed.
struct StoredEvent {
    seq: i64,
    time: String,
    kind: String,
    subject: String,
    outcome: String,
    actor: String,
    details: String,
    prev_hash: String,
    hash: String,
}

impl StoredEvent {
    /// The hash this event should have; see [`event_hash`].
    fn compute_hash(&self) -> String {
        event_hash(
            self.seq,
            [
                &self.time,
                &self.kind,
                &self.subject,
                &self.outcome,
                &self.actor,
                &self.details,
                &self.prev_hash,
            ],
        )
    }
}

/// The hash of an event: lowercase hex SHA-256 over
///
/// ```text
/// "antidote-ledger-event-v1" 0x00
/// seq as 8 bytes, big-endian two's complement
/// for each of time, kind, subject, outcome, actor, details, prev_hash:
///     its UTF-8 length as 8 bytes, big-endian
///     its UTF-8 bytes
/// ```
///
/// `details` is the stored text, which [`Ledger::append`] writes as canonical JSON (see
/// [`canonical_json`]). Length prefixes make the encoding unambiguous: no two different events
/// encode to the same bytes.
fn event_hash(seq: i64, fields: [&str; 7]) -> String {
    let mut hasher = sha2::Sha256::new();
    hasher.update(HASH_DOMAIN);
    hasher.update(seq.to_be_bytes());
    for field in fields {
        hasher.update((field.len() as u64).to_be_bytes());
        hasher.update(field.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// Compact JSON with object keys sorted by their UTF-8 bytes at every level.
///
/// Written out by hand rather than relying on `serde_json::Map` being a `BTreeMap`: any crate in
/// the build that turns on `serde_json`'s `preserve_order` feature would silently change that, and
/// with it every hash.
fn canonical_json(value: &serde_json::Value) -> String {
    let mut out = String::new();
    write_canonical_json(value, &mut out);
    out
}

fn write_canonical_json(value: &serde_json::Value, out: &mut String) {
    use serde_json::Value;
    match value {
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {
            out.push_str(&value.to_string());
        }
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_canonical_json(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_unstable_by_key(|(key, _)| *key);
            out.push('{');
            for (index, (key, item)) in entries.into_iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical_json(item, out);
            }
            out.push('}');
        }
    }
}

/// `$USER@hostname`, or as much of it as is known, or `unknown`.
fn default_actor() -> String {
    let user = ["USER", "USERNAME"]
        .into_iter()
        .find_map(|name| std::env::var(name).ok().filter(|value| !value.is_empty()));
    let Some(user) = user else {
        return "unknown".to_owned();
    };
    match hostname() {
        Some(host) => format!("{user}@{host}"),
        None => user,
    }
}

fn hostname() -> Option<String> {
    // Not every shell exports `HOSTNAME`; Linux has the kernel's name in `/proc`.
    let from_proc = std::fs::read_to_string("/proc/sys/kernel/hostname").ok();
    from_proc
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .map(|host| host.trim().to_owned())
        .filter(|host| !host.is_empty())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn new_event(kind: &str, number: u64) -> NewEvent {
        NewEvent {
            kind: kind.to_owned(),
            subject: format!("data/v{number}.lock"),
            outcome: "ok".to_owned(),
            details: json!({"records": number, "root": format!("blake3:{number:064x}")}),
        }
    }

    /// A ledger with `count` events in a fresh temporary directory.
    fn ledger_with(count: u64) -> Result<(tempfile::TempDir, Ledger), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let mut ledger = Ledger::open(&dir.path().join("nested/ledger.sqlite"))?;
        for number in 1..=count {
            ledger.append(new_event("lock", number))?;
        }
        Ok((dir, ledger))
    }

    /// A raw connection to the same file with the protective triggers dropped, as an attacker
    /// would have it.
    fn tamper(ledger: &Ledger) -> Result<Connection, Box<dyn std::error::Error>> {
        let connection = Connection::open(ledger.path())?;
        connection
            .execute_batch("DROP TRIGGER events_no_update; DROP TRIGGER events_no_delete;")?;
        Ok(connection)
    }

    #[test]
    fn append_then_read_round_trips() -> TestResult {
        let (_dir, mut ledger) = ledger_with(0)?;
        let first = ledger.append(new_event("lock", 1))?;
        let second = ledger.append(NewEvent {
            kind: "verify".to_owned(),
            subject: "data/v1.lock".to_owned(),
            outcome: "failed".to_owned(),
            details: json!({"z": [1, 2.5, null], "a": {"y": true, "b": "ü\n"}}),
        })?;
        assert_eq!(first.seq, 1);
        assert_eq!(first.prev_hash, GENESIS_HASH);
        assert_eq!(second.seq, 2);
        assert_eq!(second.prev_hash, first.hash);
        assert_eq!(second.hash.len(), 64);
        assert!(
            second
                .hash
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_eq!(first.time.len(), "2024-01-01T00:00:00.000Z".len());
        assert!(first.time.ends_with('Z'));
        assert!(!first.actor.is_empty());
        assert_eq!(ledger.events()?, [first, second]);
        Ok(())
    }

    #[test]
    fn empty_ledger_is_intact() -> TestResult {
        let (_dir, ledger) = ledger_with(0)?;
        let report = ledger.verify()?;
        assert!(report.is_intact());
        assert_eq!(report.events, 0);
        assert_eq!(report.head, None);
        Ok(())
    }

    #[test]
    fn untouched_ledger_is_intact() -> TestResult {
        let (_dir, ledger) = ledger_with(5)?;
        let report = ledger.verify()?;
        assert!(report.is_intact(), "{:?}", report.problems);
        assert_eq!(report.events, 5);
        assert_eq!(report.head.as_ref(), Some(&ledger.events()?[4].hash));
        Ok(())
    }

    #[test]
    fn edited_details_are_found() -> TestResult {
        let (_dir, ledger) = ledger_with(5)?;
        tamper(&ledger)?.execute(
            "UPDATE events SET details = ?1 WHERE seq = 3",
            [r#"{"records":3000,"root":"blake3:00"}"#],
        )?;
        let report = ledger.verify()?;
        assert_eq!(report.problems, [ChainProblem::Edited { seq: 3 }]);
        assert_eq!(
            report.problems[0].to_string(),
            "event 3 was edited after it was written (its content no longer matches its hash)"
        );
        Ok(())
    }

    #[test]
    fn edit_with_recomputed_hash_breaks_the_next_link() -> TestResult {
        let (_dir, ledger) = ledger_with(4)?;
        let connection = tamper(&ledger)?;
        let mut event = ledger
            .stored_events()?
            .into_iter()
            .nth(1)
            .expect("the ledger holds 4 events");
        event.outcome = "failed".to_owned();
        let forged = event.compute_hash();
        connection.execute(
            "UPDATE events SET outcome = 'failed', hash = ?1 WHERE seq = 2",
            [forged],
        )?;
        let report = ledger.verify()?;
        assert_eq!(report.problems, [ChainProblem::BrokenLink { seq: 3 }]);
        Ok(())
    }

    #[test]
    fn deleted_events_are_found() -> TestResult {
        let (_dir, ledger) = ledger_with(6)?;
        let connection = tamper(&ledger)?;
        connection.execute("DELETE FROM events WHERE seq IN (1, 3, 4)", [])?;
        let report = ledger.verify()?;
        assert_eq!(
            report.problems,
            [
                ChainProblem::Deleted {
                    after_seq: 0,
                    before_seq: 2
                },
                ChainProblem::Deleted {
                    after_seq: 2,
                    before_seq: 5
                },
            ]
        );
        assert_eq!(
            report.problems[0].to_string(),
            "event 1 was deleted (the ledger starts at event 2)"
        );
        assert_eq!(
            report.problems[1].to_string(),
            "events 3 to 4 were deleted (the ledger jumps from event 2 to event 5)"
        );
        Ok(())
    }

    #[test]
    fn swapped_events_are_found() -> TestResult {
        let (_dir, ledger) = ledger_with(5)?;
        let connection = tamper(&ledger)?;
        // Swap every column but `seq` between events 2 and 4, going through a free seq.
        connection.execute_batch(
            "UPDATE events SET seq = 100 WHERE seq = 2;
                 UPDATE events SET seq = 2 WHERE seq = 4;
                 UPDATE events SET seq = 4 WHERE seq = 100;",
        )?;
        let report = ledger.verify()?;
        assert!(!report.is_intact());
        for seq in [2, 4] {
            assert!(
                report.problems.contains(&ChainProblem::Edited { seq }),
                "{:?}",
                report.problems
            );
        }
        // Event 2 now holds old event 4, which follows old event 3.
        assert!(
            report
                .problems
                .contains(&ChainProblem::Reordered { seq: 2 }),
            "{:?}",
            report.problems
        );
        Ok(())
    }

    #[test]
    fn triggers_abort_update_and_delete() -> TestResult {
        let (_dir, ledger) = ledger_with(2)?;
        let connection = Connection::open(ledger.path())?;
        let err = connection
            .execute("UPDATE events SET outcome = 'failed' WHERE seq = 1", [])
            .expect_err("the trigger must abort UPDATE");
        assert!(err.to_string().contains("append-only"), "{err}");
        let err = connection
            .execute("DELETE FROM events WHERE seq = 2", [])
            .expect_err("the trigger must abort DELETE");
        assert!(err.to_string().contains("append-only"), "{err}");
        assert!(ledger.verify()?.is_intact());
        assert_eq!(ledger.events()?.len(), 2);
        Ok(())
    }

    #[test]
    fn reopening_keeps_the_chain_and_restores_triggers() -> TestResult {
        let (_dir, mut ledger) = ledger_with(3)?;
        let path = ledger.path().to_owned();
        let before = ledger.events()?;
        ledger.append(new_event("sign", 4))?;
        drop(ledger);
        Connection::open(&path)?.execute_batch("DROP TRIGGER events_no_update;")?;

        let mut ledger = Ledger::open(&path)?;
        let fifth = ledger.append(new_event("verify", 5))?;
        let events = ledger.events()?;
        assert_eq!(events.len(), 5);
        assert_eq!(events[..3], before[..]);
        assert_eq!(fifth.seq, 5);
        assert_eq!(fifth.prev_hash, events[3].hash);
        assert!(ledger.verify()?.is_intact());
        let err = Connection::open(&path)?
            .execute("UPDATE events SET kind = 'x'", [])
            .expect_err("the restored trigger must abort UPDATE");
        assert!(err.to_string().contains("append-only"), "{err}");
        Ok(())
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let value = json!({"b": 1, "a": {"d": [{"z": 0, "y": 1}], "c": "\"quoted\""}});
        assert_eq!(
            canonical_json(&value),
            r#"{"a":{"c":"\"quoted\"","d":[{"y":1,"z":0}]},"b":1}"#
        );
    }

    /// The hash follows the documented encoding and is pinned, so a change to the encoding cannot
    /// slip through unnoticed: every existing ledger would stop verifying.
    #[test]
    fn event_hash_is_stable() {
        let hash = event_hash(
            1,
            [
                "2024-01-01T00:00:00.000Z",
                "lock",
                "data.lock",
                "ok",
                "alice@host",
                "{}",
                GENESIS_HASH,
            ],
        );
        let mut preimage = b"antidote-ledger-event-v1\0".to_vec();
        preimage.extend_from_slice(&1_i64.to_be_bytes());
        for field in [
            "2024-01-01T00:00:00.000Z",
            "lock",
            "data.lock",
            "ok",
            "alice@host",
            "{}",
            GENESIS_HASH,
        ] {
            preimage.extend_from_slice(&(field.len() as u64).to_be_bytes());
            preimage.extend_from_slice(field.as_bytes());
        }
        assert_eq!(hash, hex::encode(sha2::Sha256::digest(&preimage)));
        // Computed independently with Python's `hashlib` and `struct.pack(">q" / ">Q", ...)`.
        assert_eq!(
            hash,
            "96eb8fbf2e639a4ecfbee32501e4efaa1711340e84f9b552f6fef1a2c5840646"
        );
        // Moving a byte from one field to the next changes the hash.
        assert_ne!(
            event_hash(1, ["a", "bc", "", "", "", "{}", GENESIS_HASH]),
            event_hash(1, ["ab", "c", "", "", "", "{}", GENESIS_HASH])
        );
    }

    #[test]
    fn not_a_database_is_an_error_naming_the_path() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("ledger.sqlite");
        fs_err::write(
            &path,
            "this is not a SQLite file, it is long enough to have a header",
        )?;
        let err = Ledger::open(&path).expect_err("a text file is not a ledger");
        assert!(matches!(err, LedgerError::Open { .. }), "{err:?}");
        assert!(err.to_string().contains(&path.display().to_string()));
        Ok(())
    }
}
