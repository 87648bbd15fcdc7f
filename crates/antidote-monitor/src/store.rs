//! The event store: one SQLite file in WAL mode that survives restarts. A batch is inserted in one
//! transaction and acknowledged only after it committed, with `synchronous = FULL`, so an
//! acknowledged event survives a killed process and a power loss.
//!
//! With a retention ([`Store::with_retention`]), each batch's transaction also deletes the
//! events older than the latest `retain`, so that the file stops growing: SQLite reuses the
//! freed pages. Rows are numbered in commit order (`seq`) and the newest is never deleted, so
//! the latest `seq` is the number of events stored since the store was created.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rusqlite::{Connection, OpenFlags, params};

use crate::canaries::{CanaryHit, CanarySet};
use crate::event::Event;
use crate::inputs::Inputs;
use crate::triggers::TriggerSet;

/// The store's format version (`PRAGMA user_version`).
pub const STORE_VERSION: i64 = 2;

/// Errors from the event store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened or created.
    #[error("failed to open the event store `{path}`")]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: rusqlite::Error,
    },
    /// The file is an event store of another format version.
    #[error(
        "`{path}` is an event store of format version {version}, this antidote reads version {STORE_VERSION}"
    )]
    Version {
        /// The file.
        path: PathBuf,
        /// Its version.
        version: i64,
    },
    /// A statement failed.
    #[error("event store `{path}`: {source}")]
    Sql {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: rusqlite::Error,
    },
}

/// What the metrics need of one stored event.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    /// The model version, if given.
    pub model_version: Option<String>,
    /// The predicted label.
    pub predicted: String,
    /// The confidence.
    pub confidence: f64,
    /// The trigger the input carried, described, if any.
    pub trigger: Option<String>,
    /// The canary or honeypot the input is, if any (recognised again on every read, so that
    /// the store holds no trace of which inputs are canaries).
    pub canary: Option<CanaryHit>,
}

/// The writing side of the store.
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    connection: Connection,
    canaries: Arc<CanarySet>,
    retain: Option<u64>,
}

impl Store {
    /// Opens the store at `path`, creating it when missing.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let open_error = |source| StoreError::Open {
            path: path.to_owned(),
            source,
        };
        let connection = Connection::open(path).map_err(open_error)?;
        connection
            .busy_timeout(std::time::Duration::from_secs(5))
            .map_err(open_error)?;
        let mode: String = connection
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(open_error)?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(
                kind = "service",
                "event store `{}`: journal mode is `{mode}`, not WAL",
                path.display()
            );
        }
        connection
            .pragma_update(None, "synchronous", "FULL")
            .map_err(open_error)?;
        let version: i64 = connection
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(open_error)?;
        match version {
            0 => connection
                .execute_batch(&format!(
                    "BEGIN;
                     CREATE TABLE IF NOT EXISTS events (
                         seq INTEGER PRIMARY KEY,
                         id TEXT,
                         time REAL NOT NULL,
                         received REAL NOT NULL,
                         model_version TEXT,
                         predicted TEXT NOT NULL,
                         confidence REAL NOT NULL,
                         trigger TEXT,
                         probabilities TEXT,
                         input TEXT,
                         features TEXT,
                         fields TEXT
                     );
                     PRAGMA user_version = {STORE_VERSION};
                     COMMIT;"
                ))
                .map_err(open_error)?,
            // Version 1 had no named input fields.
            1 => connection
                .execute_batch(&format!(
                    "BEGIN;
                     ALTER TABLE events ADD COLUMN fields TEXT;
                     PRAGMA user_version = {STORE_VERSION};
                     COMMIT;"
                ))
                .map_err(open_error)?,
            STORE_VERSION => {}
            version => {
                return Err(StoreError::Version {
                    path: path.to_owned(),
                    version,
                });
            }
        }
        Ok(Self {
            path: path.to_owned(),
            connection,
            canaries: Arc::default(),
            retain: None,
        })
    }

    /// The store, keeping only the latest `retain` events (`None`: every event). A retention of
    /// 0 keeps one event: the newest is never deleted.
    #[must_use]
    pub fn with_retention(mut self, retain: Option<u64>) -> Self {
        self.retain = retain.map(|retain| retain.max(1));
        self
    }

    /// The store, recognising these canaries in the events it stores and reads.
    #[must_use]
    pub fn with_canaries(mut self, canaries: Arc<CanarySet>) -> Self {
        self.canaries = canaries;
        self
    }

    /// The file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stores a batch in one transaction; returns what the metrics need of each event once it
    /// committed. `received` is the time in seconds since the epoch.
    ///
    /// # Panics
    ///
    /// If an event was not validated ([`Event::validate`]): it must have a confidence.
    pub fn insert(
        &mut self,
        events: &[Event],
        triggers: &TriggerSet,
        received: f64,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let sql = |source| StoreError::Sql {
            path: self.path.clone(),
            source,
        };
        let canaries = Arc::clone(&self.canaries);
        let transaction = self.connection.transaction().map_err(sql)?;
        let mut stored = Vec::with_capacity(events.len());
        {
            let mut statement = transaction
                .prepare_cached(
                    "INSERT INTO events (id, time, received, model_version, predicted, confidence,
                         trigger, probabilities, input, features, fields)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                )
                .map_err(sql)?;
            for event in events {
                let confidence = event
                    .confidence()
                    .expect("a validated event has a confidence");
                let trigger = event
                    .input
                    .as_deref()
                    .and_then(|input| triggers.find(input));
                let probabilities = event.probabilities.as_ref().map(|probabilities| {
                    serde_json::to_string(probabilities).expect("a map of numbers serialises")
                });
                let features = event.features.as_ref().map(|features| {
                    serde_json::to_string(features).expect("a list of numbers serialises")
                });
                let fields = event.fields.as_ref().map(|fields| {
                    serde_json::to_string(fields).expect("a map of numbers serialises")
                });
                statement
                    .execute(params![
                        event.id,
                        event.time.unwrap_or(received),
                        received,
                        event.model_version,
                        event.predicted,
                        confidence,
                        trigger,
                        probabilities,
                        event.input,
                        features,
                        fields,
                    ])
                    .map_err(sql)?;
                let canary = canaries.find(
                    event.input.as_deref(),
                    event.features.as_deref(),
                    &event.predicted,
                );
                stored.push(StoredEvent {
                    model_version: event.model_version.clone(),
                    predicted: event.predicted.clone(),
                    confidence,
                    trigger,
                    canary,
                });
            }
        }
        if let Some(retain) = self.retain {
            let newest = transaction.last_insert_rowid();
            let keep_from = newest.saturating_sub(i64::try_from(retain).unwrap_or(i64::MAX));
            if keep_from > 0 {
                transaction
                    .prepare_cached("DELETE FROM events WHERE seq <= ?1")
                    .and_then(|mut statement| statement.execute([keep_from]))
                    .map_err(sql)?;
            }
        }
        transaction.commit().map_err(sql)?;
        Ok(stored)
    }

    /// A read-only connection to the same file, for scrapes that must not wait for writes.
    pub fn reader(&self) -> Result<Reader, StoreError> {
        let connection = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|source| StoreError::Open {
            path: self.path.clone(),
            source,
        })?;
        Ok(Reader {
            path: self.path.clone(),
            connection,
            canaries: Arc::clone(&self.canaries),
        })
    }
}

/// The reading side of the store.
#[derive(Debug)]
pub struct Reader {
    path: PathBuf,
    connection: Connection,
    canaries: Arc<CanarySet>,
}

impl Reader {
    fn sql(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sql {
            path: self.path.clone(),
            source,
        }
    }

    /// The number of stored events.
    pub fn count(&self) -> Result<u64, StoreError> {
        self.connection
            .query_row("SELECT count(*) FROM events", [], |row| row.get(0))
            .map_err(|source| self.sql(source))
    }

    /// Events stored since the store was created, pruned ones included: the latest `seq`.
    pub fn stored_ever(&self) -> Result<u64, StoreError> {
        self.connection
            .query_row("SELECT coalesce(max(seq), 0) FROM events", [], |row| {
                row.get(0)
            })
            .map_err(|source| self.sql(source))
    }

    /// The inputs of the latest `limit` events, newest first.
    pub fn latest_inputs(&self, limit: usize) -> Result<Vec<Inputs>, StoreError> {
        let mut statement = self
            .connection
            .prepare_cached("SELECT features, fields FROM events ORDER BY seq DESC LIMIT ?1")
            .map_err(|source| self.sql(source))?;
        let rows = statement
            .query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |row| {
                let features: Option<String> = row.get(0)?;
                let fields: Option<String> = row.get(1)?;
                // Written by `insert` from validated events: unreadable text is none.
                Ok(Inputs {
                    features: features.and_then(|text| serde_json::from_str(&text).ok()),
                    fields: fields.and_then(|text| serde_json::from_str(&text).ok()),
                })
            })
            .map_err(|source| self.sql(source))?;
        rows.collect::<Result<_, _>>()
            .map_err(|source| self.sql(source))
    }

    /// The time of the latest event received, in seconds since the epoch.
    pub fn last_received(&self) -> Result<Option<f64>, StoreError> {
        self.connection
            .query_row("SELECT max(received) FROM events", [], |row| row.get(0))
            .map_err(|source| self.sql(source))
    }

    /// The latest `limit` events, newest first.
    pub fn latest(&self, limit: usize) -> Result<Vec<StoredEvent>, StoreError> {
        let mut statement = self
            .connection
            .prepare_cached(
                "SELECT model_version, predicted, confidence, trigger, input, features FROM events
                 ORDER BY seq DESC LIMIT ?1",
            )
            .map_err(|source| self.sql(source))?;
        let rows = statement
            .query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |row| {
                stored_event(row, &self.canaries)
            })
            .map_err(|source| self.sql(source))?;
        rows.collect::<Result<_, _>>()
            .map_err(|source| self.sql(source))
    }

    /// Calls `each` on every stored event, oldest first: how the counters are rebuilt after a
    /// restart.
    pub fn for_each(&self, mut each: impl FnMut(StoredEvent)) -> Result<(), StoreError> {
        let mut statement = self
            .connection
            .prepare(
                "SELECT model_version, predicted, confidence, trigger, input, features FROM events
                 ORDER BY seq",
            )
            .map_err(|source| self.sql(source))?;
        let rows = statement
            .query_map([], |row| stored_event(row, &self.canaries))
            .map_err(|source| self.sql(source))?;
        for row in rows {
            each(row.map_err(|source| self.sql(source))?);
        }
        Ok(())
    }
}

fn stored_event(row: &rusqlite::Row<'_>, canaries: &CanarySet) -> rusqlite::Result<StoredEvent> {
    let predicted: String = row.get(1)?;
    let canary = if canaries.is_empty() {
        None
    } else {
        let input: Option<String> = row.get(4)?;
        let features: Option<String> = row.get(5)?;
        let features: Option<Vec<f64>> = features.and_then(|text| serde_json::from_str(&text).ok());
        canaries.find(input.as_deref(), features.as_deref(), &predicted)
    };
    Ok(StoredEvent {
        model_version: row.get(0)?,
        predicted,
        confidence: row.get(2)?,
        trigger: row.get(3)?,
        canary,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::parse_batch;
    use antidote_core::Trigger;

    #[test]
    fn a_batch_survives_reopening_and_triggers_are_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.db");
        let triggers = TriggerSet::new([Trigger::Token { token: "cf".into() }]);
        let body = br#"{"predicted": "a", "confidence": 0.5, "input": "hello"}
{"predicted": "b", "confidence": 0.9, "input": "hello cf", "model_version": "v2"}"#;
        let events = parse_batch(body, 10).unwrap();
        {
            let mut store = Store::open(&path).unwrap();
            let stored = store.insert(&events, &triggers, 100.0).unwrap();
            assert_eq!(stored[1].trigger.as_deref(), Some("the token `cf`"));
        }
        let store = Store::open(&path).unwrap();
        let reader = store.reader().unwrap();
        assert_eq!(reader.count().unwrap(), 2);
        assert_eq!(reader.last_received().unwrap(), Some(100.0));
        let latest = reader.latest(1).unwrap();
        assert_eq!(latest[0].predicted, "b");
        assert_eq!(latest[0].model_version.as_deref(), Some("v2"));
        let mut seen = Vec::new();
        reader.for_each(|event| seen.push(event.predicted)).unwrap();
        assert_eq!(seen, ["a", "b"]);
    }
}
