//! Versioned schema migrations.
//!
//! Each backend has a list of numbered SQL steps; step `n` (from 1) brings the schema from version
//! `n - 1` to `n`. The table `schema_migrations` records every step applied. Opening a store applies,
//! in one transaction, the steps the database has not seen yet (none on an up-to-date database, so
//! opening is idempotent), and refuses a database whose version is higher than the last step this
//! binary knows: a newer wijkpost wrote it, and an older one could misread it.
//!
//! A step, once released, is never edited: a change is a new step, in both lists.

use super::StoreError;

/// SQLite steps.
pub const SQLITE: &[&str] = &[
    // 1: tokens, agents, summaries, rejected payloads and their counters.
    "CREATE TABLE tokens (
        id          TEXT PRIMARY KEY,
        secret_hash TEXT NOT NULL,
        org         TEXT NOT NULL,
        sector      TEXT NOT NULL,
        size_class  TEXT NOT NULL,
        province    TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        expires_at  INTEGER NOT NULL,
        used_at     INTEGER,
        used_by     TEXT
    );
    CREATE TABLE agents (
        id          TEXT PRIMARY KEY,
        signing_key BLOB NOT NULL CHECK (length(signing_key) = 32),
        cert_serial TEXT NOT NULL,
        org         TEXT NOT NULL,
        sector      TEXT NOT NULL,
        size_class  TEXT NOT NULL,
        province    TEXT NOT NULL,
        enrolled_at INTEGER NOT NULL,
        token_id    TEXT NOT NULL REFERENCES tokens (id)
    );
    CREATE TABLE summaries (
        agent       TEXT NOT NULL REFERENCES agents (id),
        seq         INTEGER NOT NULL,
        week        TEXT NOT NULL,
        received_at INTEGER NOT NULL,
        payload     TEXT NOT NULL,
        PRIMARY KEY (agent, seq)
    );
    CREATE INDEX summaries_week ON summaries (week);
    CREATE TABLE rejected (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        agent       TEXT,
        topic       TEXT NOT NULL,
        reason      TEXT NOT NULL,
        detail      TEXT NOT NULL,
        received_at INTEGER NOT NULL,
        payload     BLOB NOT NULL
    );
    CREATE TABLE rejected_counts (
        reason TEXT PRIMARY KEY,
        count  INTEGER NOT NULL
    );",
    // 2: the digest of each summary, to tell a resend from a replayed seq with other content
    // (rows from before have none: '' compares as a resend).
    "ALTER TABLE summaries ADD COLUMN digest TEXT NOT NULL DEFAULT '';",
    // 3: dashboard users (argon2id PHC hashes, never passwords).
    "CREATE TABLE users (
        name          TEXT PRIMARY KEY,
        password_hash TEXT NOT NULL,
        role          TEXT NOT NULL CHECK (role IN ('admin', 'analyst')),
        created_at    INTEGER NOT NULL,
        disabled      INTEGER NOT NULL DEFAULT 0
    );",
    // 4: nothing to change in SQLite (PostgreSQL's step 4 makes its `payload` text, as it is here).
    "",
];

/// PostgreSQL steps.
pub const POSTGRES: &[&str] = &[
    // 1: as SQLITE step 1.
    "CREATE TABLE tokens (
        id          TEXT PRIMARY KEY,
        secret_hash TEXT NOT NULL,
        org         TEXT NOT NULL,
        sector      TEXT NOT NULL,
        size_class  TEXT NOT NULL,
        province    TEXT NOT NULL,
        created_at  BIGINT NOT NULL,
        expires_at  BIGINT NOT NULL,
        used_at     BIGINT,
        used_by     TEXT
    );
    CREATE TABLE agents (
        id          TEXT PRIMARY KEY,
        signing_key BYTEA NOT NULL CHECK (length(signing_key) = 32),
        cert_serial TEXT NOT NULL,
        org         TEXT NOT NULL,
        sector      TEXT NOT NULL,
        size_class  TEXT NOT NULL,
        province    TEXT NOT NULL,
        enrolled_at BIGINT NOT NULL,
        token_id    TEXT NOT NULL REFERENCES tokens (id)
    );
    CREATE TABLE summaries (
        agent       TEXT NOT NULL REFERENCES agents (id),
        seq         BIGINT NOT NULL,
        week        TEXT NOT NULL,
        received_at BIGINT NOT NULL,
        payload     JSONB NOT NULL,
        PRIMARY KEY (agent, seq)
    );
    CREATE INDEX summaries_week ON summaries (week);
    CREATE TABLE rejected (
        id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        agent       TEXT,
        topic       TEXT NOT NULL,
        reason      TEXT NOT NULL,
        detail      TEXT NOT NULL,
        received_at BIGINT NOT NULL,
        payload     BYTEA NOT NULL
    );
    CREATE TABLE rejected_counts (
        reason TEXT PRIMARY KEY,
        count  BIGINT NOT NULL
    );",
    // 2: as SQLITE step 2.
    "ALTER TABLE summaries ADD COLUMN digest TEXT NOT NULL DEFAULT '';",
    // 3: as SQLITE step 3.
    "CREATE TABLE users (
        name          TEXT PRIMARY KEY,
        password_hash TEXT NOT NULL,
        role          TEXT NOT NULL CHECK (role IN ('admin', 'analyst')),
        created_at    BIGINT NOT NULL,
        disabled      BOOLEAN NOT NULL DEFAULT FALSE
    );",
    // 4: the payload as text, the JSON exactly as wijkpost validated it. As `jsonb`, PostgreSQL
    // parsed every summary again on insert (a third of its time under load); a query that needs
    // its fields casts: `payload::jsonb ->> 'week'`.
    "ALTER TABLE summaries ALTER COLUMN payload TYPE TEXT USING payload::text;",
];

/// The table recording applied steps (the same SQL for both backends).
pub const CREATE_TABLE: &str =
    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)";

/// The steps to apply to a database at version `current`, numbered; an error if it is newer than
/// `steps` know.
pub fn pending<'a>(steps: &'a [&'a str], current: u32) -> Result<impl Iterator<Item = (u32, &'a str)>, StoreError> {
    let known = steps.len() as u32;
    if current > known {
        return Err(StoreError::TooNew { found: current, known });
    }
    Ok(steps.iter().enumerate().skip(current as usize).map(|(i, sql)| (i as u32 + 1, *sql)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_backends_know_the_same_versions() {
        assert_eq!(SQLITE.len(), POSTGRES.len());
    }

    #[test]
    fn pending_steps_are_numbered_from_the_current_version() {
        let steps = ["a", "b", "c"];
        assert_eq!(pending(&steps, 1).expect("ok").collect::<Vec<_>>(), vec![(2, "b"), (3, "c")]);
        assert_eq!(pending(&steps, 3).expect("ok").count(), 0);
        assert!(matches!(pending(&steps, 4), Err(StoreError::TooNew { found: 4, known: 3 })));
    }
}
