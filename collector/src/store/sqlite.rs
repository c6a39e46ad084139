//! SQLite backend: one file, WAL journal, `synchronous=FULL` (a commit is on disk before it
//! returns), `busy_timeout` so several connections (web, ingest) wait for each other instead of
//! failing, foreign keys on. Statements are prepared once per connection and cached.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::{
    from_secs, key_from_row, migrations, org_from_row, seq_from_db, seq_to_db, to_secs, truncate_str, Agent, NewAgent,
    NewToken, Outcome, Rejected, Store, StoreError, StoredSummary, SummaryRow, TokenInfo, TokenOutcome,
    REJECTED_DETAIL_MAX, REJECTED_PAYLOAD_MAX,
};
use crate::org::Org;
use crate::users::{NewUser, User};

/// How long a connection waits for another one's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Page cache of the ingest's connection, KiB.
const INGEST_CACHE_KIB: i64 = 32 * 1024;

/// Bytes the WAL file is cut back to after a checkpoint emptied it: more than it grows to between
/// the ingest's own checkpoints, so it is not cut back and grown again every round.
const WAL_SIZE_LIMIT: i64 = 2 * super::checkpoint::INGEST_AUTOCHECKPOINT as i64 * 4096;

/// A connection to a SQLite database.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Connection,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `path` and migrates it.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::files::private_dir(dir).map_err(|source| StoreError::Io { path: dir.to_path_buf(), source })?;
        }
        let conn = Connection::open(path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let mut store = SqliteStore { conn };
        store.migrate()?;
        Ok(store)
    }

    /// Opens the connection the ingest commits through: as [`SqliteStore::open`], with a page
    /// cache that holds a whole group of batches (SQLite's default 2 MiB made each commit write
    /// pages out and read them back mid-transaction), and checkpoints left to a
    /// [`super::checkpoint::Checkpointer`] up to a limit.
    pub fn open_for_ingest(path: &Path) -> Result<SqliteStore, StoreError> {
        let store = SqliteStore::open(path)?;
        store.conn.pragma_update(None, "cache_size", -INGEST_CACHE_KIB)?;
        store.conn.pragma_update(None, "wal_autocheckpoint", super::checkpoint::INGEST_AUTOCHECKPOINT)?;
        store.conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)?;
        Ok(store)
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        self.conn.execute_batch(migrations::CREATE_TABLE)?;
        // IMMEDIATE: two processes opening at once do not both apply a step.
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let current: u32 = tx.query_row("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", [], |r| r.get(0))?;
        for (version, sql) in migrations::pending(migrations::SQLITE, current)? {
            tx.execute_batch(sql)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
                params![version, Utc::now().timestamp()],
            )?;
        }
        tx.commit()?;
        Ok(())
    }
}

/// The consuming UPDATE and, when it changed nothing, the look that tells why.
fn consume(
    conn: &Connection,
    id: &str,
    secret_hash: &str,
    now: DateTime<Utc>,
    used_by: &str,
) -> Result<TokenOutcome, StoreError> {
    let now = to_secs(now);
    let consumed = conn
        .prepare_cached(
            "UPDATE tokens SET used_at = ?1, used_by = ?2
             WHERE id = ?3 AND secret_hash = ?4 AND used_at IS NULL AND expires_at > ?1
             RETURNING org, sector, size_class, province",
        )?
        .query_row(params![now, used_by, id, secret_hash], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?))
        })
        .optional()?;
    if let Some((name, sector, size, province)) = consumed {
        return Ok(TokenOutcome::Consumed(org_from_row(name, &sector, &size, &province)?));
    }
    let row = conn
        .prepare_cached("SELECT secret_hash, used_at IS NOT NULL FROM tokens WHERE id = ?1")?
        .query_row(params![id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?)))
        .optional()?;
    Ok(match row {
        Some((hash, _)) if hash != secret_hash => TokenOutcome::Unknown,
        None => TokenOutcome::Unknown,
        Some((_, true)) => TokenOutcome::Used,
        Some((_, false)) => TokenOutcome::Expired,
    })
}

impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn schema_version(&mut self) -> Result<u32, StoreError> {
        Ok(self.conn.query_row("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", [], |r| r.get(0))?)
    }

    fn insert_token(&mut self, t: &NewToken) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO tokens (id, secret_hash, org, sector, size_class, province, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                t.id,
                t.secret_hash,
                t.org.name,
                t.org.sector.as_str(),
                t.org.size_class.as_str(),
                t.org.province.as_str(),
                to_secs(t.created_at),
                to_secs(t.expires_at)
            ],
        )?;
        Ok(())
    }

    fn consume_token(
        &mut self,
        id: &str,
        secret_hash: &str,
        now: DateTime<Utc>,
        used_by: &str,
    ) -> Result<TokenOutcome, StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let outcome = consume(&tx, id, secret_hash, now, used_by)?;
        tx.commit()?;
        Ok(outcome)
    }

    fn enroll_agent(
        &mut self,
        token_id: &str,
        secret_hash: &str,
        now: DateTime<Utc>,
        agent: &NewAgent,
    ) -> Result<TokenOutcome, StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let outcome = consume(&tx, token_id, secret_hash, now, &agent.id)?;
        if let TokenOutcome::Consumed(org) = &outcome {
            tx.execute(
                "INSERT INTO agents (id, signing_key, cert_serial, org, sector, size_class, province, enrolled_at, token_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    agent.id,
                    &agent.signing_key[..],
                    agent.cert_serial,
                    org.name,
                    org.sector.as_str(),
                    org.size_class.as_str(),
                    org.province.as_str(),
                    to_secs(now),
                    token_id
                ],
            )?;
        }
        tx.commit()?;
        Ok(outcome)
    }

    fn agent(&mut self, id: &str) -> Result<Option<Agent>, StoreError> {
        let row = self
            .conn
            .prepare_cached(
                "SELECT signing_key, cert_serial, org, sector, size_class, province, enrolled_at FROM agents WHERE id = ?1",
            )?
            .query_row(params![id], |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, i64>(6)?,
                ))
            })
            .optional()?;
        let Some((key, cert_serial, name, sector, size, province, enrolled_at)) = row else { return Ok(None) };
        let org: Org = org_from_row(name, &sector, &size, &province)?;
        Ok(Some(Agent {
            id: id.to_string(),
            signing_key: key_from_row(&key)?,
            cert_serial,
            org,
            enrolled_at: from_secs(enrolled_at)?,
        }))
    }

    fn store_summaries(&mut self, batch: &[&SummaryRow]) -> Result<Vec<Outcome>, StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut outcomes = Vec::with_capacity(batch.len());
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO summaries (agent, seq, week, received_at, payload, digest) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT DO NOTHING",
            )?;
            let mut stored_digest = tx.prepare_cached("SELECT digest FROM summaries WHERE agent = ?1 AND seq = ?2")?;
            for row in batch {
                let seq = seq_to_db(row.seq)?;
                let params = params![row.agent, seq, row.week, to_secs(row.received_at), row.payload, row.digest];
                let outcome = if insert.execute(params)? == 1 {
                    Outcome::Stored
                } else {
                    let digest: String = stored_digest.query_row(params![row.agent, seq], |r| r.get(0))?;
                    super::repeat_outcome(&digest, &row.digest)
                };
                outcomes.push(outcome);
            }
        }
        tx.commit()?;
        Ok(outcomes)
    }

    fn each_summary(
        &mut self,
        each: &mut dyn FnMut(StoredSummary) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut select = self.conn.prepare(
            "SELECT s.agent, s.seq, s.week, s.received_at, s.payload, a.org, a.sector, a.size_class, a.province
             FROM summaries s JOIN agents a ON a.id = s.agent ORDER BY s.received_at, s.rowid",
        )?;
        let mut rows = select.query([])?;
        while let Some(r) = rows.next()? {
            let org =
                org_from_row(r.get(5)?, &r.get::<_, String>(6)?, &r.get::<_, String>(7)?, &r.get::<_, String>(8)?)?;
            each(StoredSummary {
                agent: r.get(0)?,
                seq: seq_from_db(r.get(1)?)?,
                week: r.get(2)?,
                received_at: from_secs(r.get(3)?)?,
                payload: r.get(4)?,
                org,
            })?;
        }
        Ok(())
    }

    fn count_summaries(&mut self) -> Result<u64, StoreError> {
        Ok(self.conn.query_row("SELECT COUNT(*) FROM summaries", [], |r| r.get::<_, i64>(0))? as u64)
    }

    fn record_rejected(&mut self, batch: &[Rejected], keep: usize) -> Result<(), StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO rejected (agent, topic, reason, detail, received_at, payload) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            let mut count = tx.prepare_cached(
                "INSERT INTO rejected_counts (reason, count) VALUES (?1, 1)
                 ON CONFLICT (reason) DO UPDATE SET count = rejected_counts.count + 1",
            )?;
            for r in batch {
                let payload = &r.payload[..r.payload.len().min(REJECTED_PAYLOAD_MAX)];
                insert.execute(params![
                    r.agent,
                    r.topic,
                    r.reason,
                    truncate_str(&r.detail, REJECTED_DETAIL_MAX),
                    to_secs(r.received_at),
                    payload
                ])?;
                count.execute(params![r.reason])?;
            }
        }
        let keep = i64::try_from(keep).unwrap_or(i64::MAX);
        tx.execute(
            "DELETE FROM rejected WHERE id <= (SELECT id FROM rejected ORDER BY id DESC LIMIT 1 OFFSET ?1)",
            [keep],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn rejected_counts(&mut self) -> Result<BTreeMap<String, u64>, StoreError> {
        let mut stmt = self.conn.prepare_cached("SELECT reason, count FROM rejected_counts")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn recent_rejected(&mut self, limit: usize) -> Result<Vec<Rejected>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT agent, topic, reason, detail, received_at, payload FROM rejected ORDER BY id DESC LIMIT ?1",
        )?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt
            .query_map([limit], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get::<_, i64>(4)?, r.get(5)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (agent, topic, reason, detail, at, payload) = row?;
            out.push(Rejected { agent, topic, reason, detail, received_at: from_secs(at)?, payload });
        }
        Ok(out)
    }

    fn insert_user(&mut self, u: &NewUser) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "INSERT INTO users (name, password_hash, role, created_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
            params![u.name, u.password_hash, u.role.as_str(), to_secs(u.created_at)],
        )?;
        Ok(n == 1)
    }

    fn user(&mut self, name: &str) -> Result<Option<User>, StoreError> {
        Ok(self.users_where("WHERE name = ?1", name)?.pop())
    }

    fn users(&mut self) -> Result<Vec<User>, StoreError> {
        self.users_where("WHERE ?1 = ?1", "")
    }

    fn set_user_disabled(&mut self, name: &str, disabled: bool) -> Result<bool, StoreError> {
        Ok(self.conn.execute("UPDATE users SET disabled = ?1 WHERE name = ?2", params![disabled, name])? == 1)
    }

    fn agents(&mut self) -> Result<Vec<Agent>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, signing_key, cert_serial, org, sector, size_class, province, enrolled_at FROM agents
             ORDER BY enrolled_at, id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, String>(2)?,
                [r.get::<_, String>(3)?, r.get(4)?, r.get(5)?, r.get(6)?],
                r.get::<_, i64>(7)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, key, cert_serial, [name, sector, size, province], at) = row?;
            let org = org_from_row(name, &sector, &size, &province)?;
            out.push(Agent { id, signing_key: key_from_row(&key)?, cert_serial, org, enrolled_at: from_secs(at)? });
        }
        Ok(out)
    }

    fn tokens(&mut self) -> Result<Vec<TokenInfo>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, org, sector, size_class, province, created_at, expires_at, used_at, used_by FROM tokens
             ORDER BY created_at DESC, id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                [r.get::<_, String>(1)?, r.get(2)?, r.get(3)?, r.get(4)?],
                [r.get::<_, i64>(5)?, r.get(6)?],
                r.get::<_, Option<i64>>(7)?,
                r.get::<_, Option<String>>(8)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, [name, sector, size, province], [created, expires], used_at, used_by) = row?;
            out.push(TokenInfo {
                id,
                org: org_from_row(name, &sector, &size, &province)?,
                created_at: from_secs(created)?,
                expires_at: from_secs(expires)?,
                used_at: used_at.map(from_secs).transpose()?,
                used_by,
            });
        }
        Ok(out)
    }
}

impl SqliteStore {
    /// Users matching `condition` (with one parameter), by name.
    fn users_where(&self, condition: &str, param: &str) -> Result<Vec<User>, StoreError> {
        let sql =
            format!("SELECT name, password_hash, role, created_at, disabled FROM users {condition} ORDER BY name");
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map([param], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get(3)?, r.get(4)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (name, password_hash, role, at, disabled): (_, _, String, i64, bool) = row?;
            let role = role.parse().map_err(|_| StoreError::Damaged(format!("role {role:?} of user {name:?}")))?;
            out.push(User { name, password_hash, role, created_at: from_secs(at)?, disabled });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::conformance;

    fn open() -> (tempfile::TempDir, SqliteStore) {
        let tmp = tempfile::tempdir().expect("tmp");
        let store = SqliteStore::open(&tmp.path().join("data/wijkpost.db")).expect("open");
        (tmp, store)
    }

    #[test]
    fn migrations_apply_once_and_a_newer_database_is_refused() {
        let (tmp, mut store) = open();
        let path = tmp.path().join("data/wijkpost.db");
        conformance::migrations_are_idempotent(&mut store, &mut || {
            Ok(Box::new(SqliteStore::open(&path)?) as Box<dyn Store>)
        });
        let future = migrations::SQLITE.len() as i64 + 1;
        store
            .conn
            .execute("INSERT INTO schema_migrations (version, applied_at) VALUES (?1, 0)", [future])
            .expect("bump");
        drop(store);
        assert!(matches!(SqliteStore::open(&path), Err(StoreError::TooNew { .. })));
    }

    #[test]
    fn pragmas_are_set() {
        let (_tmp, store) = open();
        let get = |p: &str| store.conn.query_row(&format!("PRAGMA {p}"), [], |r| r.get::<_, rusqlite::types::Value>(0));
        assert_eq!(get("journal_mode").expect("wal"), rusqlite::types::Value::Text("wal".into()));
        assert_eq!(get("synchronous").expect("full"), rusqlite::types::Value::Integer(2));
        assert_eq!(get("foreign_keys").expect("fk"), rusqlite::types::Value::Integer(1));
    }

    #[test]
    fn tokens() {
        conformance::token_outcomes(&mut open().1);
    }

    #[test]
    fn one_consumer_wins() {
        let (tmp, _store) = open();
        let path = tmp.path().join("data/wijkpost.db");
        conformance::one_consumer_wins(&|| Box::new(SqliteStore::open(&path).expect("open")));
    }

    #[test]
    fn summaries() {
        conformance::summaries_once(&mut open().1);
    }

    #[test]
    fn rejected() {
        conformance::rejected_is_bounded(&mut open().1);
    }

    #[test]
    fn users_and_listings() {
        conformance::users_and_listings(&mut open().1);
    }

    /// A measurement, not a check (speed is the benchmark's business):
    /// `cargo test -p wijkpost --release -- --ignored --nocapture sqlite_batch_rate` prints the rate.
    #[test]
    #[ignore = "measurement: prints the batch insert rate"]
    fn sqlite_batch_rate() {
        let (_tmp, mut store) = open();
        let rate = conformance::batch_rate(&mut store, 20_000, 250);
        println!("SQLite: {rate:.0} summaries/s in batches of 250 (synchronous=FULL, WAL)");
    }
}
