//! PostgreSQL backend, through the synchronous `postgres` client (no TLS: meant for a server on the
//! same machine or a private network; use a Unix socket or loopback address).
//!
//! A batch of summaries is one `INSERT … SELECT FROM unnest(…) ON CONFLICT DO NOTHING RETURNING`,
//! so it costs one round trip whatever its size. Migrations hold an advisory lock, so several
//! wijkpost instances starting together apply each step once.
//!
//! The synchronous client runs a small tokio runtime of its own, which must not be dropped inside
//! another runtime's async context: a [`PgStore`] dropped there closes its connection on a
//! short-lived thread instead.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, GenericClient, NoTls};

use super::{
    from_secs, key_from_row, migrations, org_from_row, seq_from_db, seq_to_db, to_secs, truncate_str, Agent, NewAgent,
    NewToken, Outcome, Rejected, Store, StoreError, StoredSummary, SummaryRow, TokenInfo, TokenOutcome,
    REJECTED_DETAIL_MAX, REJECTED_PAYLOAD_MAX,
};
use crate::users::{NewUser, User};

/// Advisory lock key held while migrating ("wijkpost" in ASCII).
const MIGRATION_LOCK: i64 = 0x7769_6a6b_706f_7374;

/// A connection to a PostgreSQL database.
pub struct PgStore {
    /// Always `Some` except while dropping.
    client: Option<Client>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").finish_non_exhaustive()
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            if tokio::runtime::Handle::try_current().is_ok() {
                std::thread::spawn(move || drop(client));
            }
        }
    }
}

impl PgStore {
    /// Connects to `url` and migrates the database.
    pub fn open(url: &str) -> Result<PgStore, StoreError> {
        let client = Client::connect(url, NoTls)?;
        let mut store = PgStore { client: Some(client) };
        store.migrate()?;
        Ok(store)
    }

    fn client(&mut self) -> Result<&mut Client, StoreError> {
        self.client.as_mut().ok_or_else(|| StoreError::Damaged("connection already closed".into()))
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let mut tx = self.client()?.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
        tx.batch_execute(migrations::CREATE_TABLE)?;
        let current: i32 = tx.query_one("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", &[])?.get(0);
        let current = u32::try_from(current).map_err(|_| StoreError::Damaged(format!("schema version {current}")))?;
        for (version, sql) in migrations::pending(migrations::POSTGRES, current)? {
            tx.batch_execute(sql)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
                &[&(version as i32), &Utc::now().timestamp()],
            )?;
        }
        tx.commit()?;
        Ok(())
    }
}

fn consume(
    c: &mut impl GenericClient,
    id: &str,
    secret_hash: &str,
    now: DateTime<Utc>,
    used_by: &str,
) -> Result<TokenOutcome, StoreError> {
    let consumed = c.query_opt(
        "UPDATE tokens SET used_at = $1, used_by = $2
         WHERE id = $3 AND secret_hash = $4 AND used_at IS NULL AND expires_at > $1
         RETURNING org, sector, size_class, province",
        &[&to_secs(now), &used_by, &id, &secret_hash],
    )?;
    if let Some(r) = consumed {
        return Ok(TokenOutcome::Consumed(org_from_row(r.get(0), r.get(1), r.get(2), r.get(3))?));
    }
    let row = c.query_opt("SELECT secret_hash, used_at IS NOT NULL FROM tokens WHERE id = $1", &[&id])?;
    Ok(match row.map(|r| (r.get::<_, String>(0), r.get::<_, bool>(1))) {
        None => TokenOutcome::Unknown,
        Some((hash, _)) if hash != secret_hash => TokenOutcome::Unknown,
        Some((_, true)) => TokenOutcome::Used,
        Some((_, false)) => TokenOutcome::Expired,
    })
}

impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn schema_version(&mut self) -> Result<u32, StoreError> {
        let v: i32 = self.client()?.query_one("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", &[])?.get(0);
        u32::try_from(v).map_err(|_| StoreError::Damaged(format!("schema version {v}")))
    }

    fn insert_token(&mut self, t: &NewToken) -> Result<(), StoreError> {
        self.client()?.execute(
            "INSERT INTO tokens (id, secret_hash, org, sector, size_class, province, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                &t.id,
                &t.secret_hash,
                &t.org.name,
                &t.org.sector.as_str(),
                &t.org.size_class.as_str(),
                &t.org.province.as_str(),
                &to_secs(t.created_at),
                &to_secs(t.expires_at),
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
        let mut tx = self.client()?.transaction()?;
        let outcome = consume(&mut tx, id, secret_hash, now, used_by)?;
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
        let mut tx = self.client()?.transaction()?;
        let outcome = consume(&mut tx, token_id, secret_hash, now, &agent.id)?;
        if let TokenOutcome::Consumed(org) = &outcome {
            tx.execute(
                "INSERT INTO agents (id, signing_key, cert_serial, org, sector, size_class, province, enrolled_at, token_id)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                &[
                    &agent.id,
                    &&agent.signing_key[..],
                    &agent.cert_serial,
                    &org.name,
                    &org.sector.as_str(),
                    &org.size_class.as_str(),
                    &org.province.as_str(),
                    &to_secs(now),
                    &token_id,
                ],
            )?;
        }
        tx.commit()?;
        Ok(outcome)
    }

    fn agent(&mut self, id: &str) -> Result<Option<Agent>, StoreError> {
        let row = self.client()?.query_opt(
            "SELECT signing_key, cert_serial, org, sector, size_class, province, enrolled_at FROM agents WHERE id = $1",
            &[&id],
        )?;
        let Some(r) = row else { return Ok(None) };
        Ok(Some(Agent {
            id: id.to_string(),
            signing_key: key_from_row(r.get::<_, &[u8]>(0))?,
            cert_serial: r.get(1),
            org: org_from_row(r.get(2), r.get(3), r.get(4), r.get(5))?,
            enrolled_at: from_secs(r.get(6))?,
        }))
    }

    fn store_summaries(&mut self, batch: &[&SummaryRow]) -> Result<Vec<Outcome>, StoreError> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let agents: Vec<&str> = batch.iter().map(|r| r.agent.as_str()).collect();
        let seqs = batch.iter().map(|r| seq_to_db(r.seq)).collect::<Result<Vec<i64>, _>>()?;
        let weeks: Vec<&str> = batch.iter().map(|r| r.week.as_str()).collect();
        let received: Vec<i64> = batch.iter().map(|r| to_secs(r.received_at)).collect();
        let payloads: Vec<&str> = batch.iter().map(|r| r.payload.as_str()).collect();
        let digests: Vec<&str> = batch.iter().map(|r| r.digest.as_str()).collect();
        let client = self.client()?;
        let inserted = client.query(
            "INSERT INTO summaries (agent, seq, week, received_at, payload, digest)
             SELECT a, s, w, r, p, d
                 FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bigint[], $5::text[], $6::text[])
                 AS t (a, s, w, r, p, d)
             ON CONFLICT DO NOTHING
             RETURNING agent, seq, digest",
            &[&agents, &seqs, &weeks, &received, &payloads, &digests],
        )?;
        let mut stored: HashSet<(String, i64, String)> =
            inserted.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect();
        // The digests already there for the rows that were not inserted now.
        let mut before: HashMap<(String, i64), String> = HashMap::new();
        if inserted.len() < batch.len() {
            let rows = client.query(
                "SELECT s.agent, s.seq, s.digest FROM summaries s
                 JOIN unnest($1::text[], $2::bigint[]) AS t (a, q) ON s.agent = t.a AND s.seq = t.q",
                &[&agents, &seqs],
            )?;
            before = rows.iter().map(|r| ((r.get(0), r.get(1)), r.get(2))).collect();
        }
        Ok(batch
            .iter()
            .zip(&seqs)
            .map(|(row, seq)| {
                if stored.remove(&(row.agent.clone(), *seq, row.digest.clone())) {
                    return Outcome::Stored;
                }
                let there = before.get(&(row.agent.clone(), *seq)).map_or("", String::as_str);
                super::repeat_outcome(there, &row.digest)
            })
            .collect())
    }

    fn each_summary(
        &mut self,
        each: &mut dyn FnMut(StoredSummary) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let client = self.client()?;
        let no_params: [&(dyn postgres::types::ToSql + Sync); 0] = [];
        let mut rows = client.query_raw(
            "SELECT s.agent, s.seq, s.week, s.received_at, s.payload, a.org, a.sector, a.size_class, a.province
             FROM summaries s JOIN agents a ON a.id = s.agent ORDER BY s.received_at, s.agent, s.seq",
            no_params,
        )?;
        while let Some(r) = rows.next()? {
            each(StoredSummary {
                agent: r.get(0),
                seq: seq_from_db(r.get(1))?,
                week: r.get(2),
                received_at: from_secs(r.get(3))?,
                payload: r.get(4),
                org: org_from_row(r.get(5), r.get(6), r.get(7), r.get(8))?,
            })?;
        }
        Ok(())
    }

    fn count_summaries(&mut self) -> Result<u64, StoreError> {
        let n: i64 = self.client()?.query_one("SELECT COUNT(*) FROM summaries", &[])?.get(0);
        Ok(n as u64)
    }

    fn record_rejected(&mut self, batch: &[Rejected], keep: usize) -> Result<(), StoreError> {
        let mut tx = self.client()?.transaction()?;
        let insert = tx.prepare(
            "INSERT INTO rejected (agent, topic, reason, detail, received_at, payload) VALUES ($1, $2, $3, $4, $5, $6)",
        )?;
        let count = tx.prepare(
            "INSERT INTO rejected_counts (reason, count) VALUES ($1, 1)
             ON CONFLICT (reason) DO UPDATE SET count = rejected_counts.count + 1",
        )?;
        for r in batch {
            let payload = &r.payload[..r.payload.len().min(REJECTED_PAYLOAD_MAX)];
            let detail = truncate_str(&r.detail, REJECTED_DETAIL_MAX);
            tx.execute(&insert, &[&r.agent, &r.topic, &r.reason, &detail, &to_secs(r.received_at), &payload])?;
            tx.execute(&count, &[&r.reason])?;
        }
        let keep = i64::try_from(keep).unwrap_or(i64::MAX);
        tx.execute(
            "DELETE FROM rejected WHERE id <= (SELECT id FROM rejected ORDER BY id DESC LIMIT 1 OFFSET $1)",
            &[&keep],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn rejected_counts(&mut self) -> Result<BTreeMap<String, u64>, StoreError> {
        let rows = self.client()?.query("SELECT reason, count FROM rejected_counts", &[])?;
        Ok(rows.iter().map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1) as u64)).collect())
    }

    fn recent_rejected(&mut self, limit: usize) -> Result<Vec<Rejected>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self.client()?.query(
            "SELECT agent, topic, reason, detail, received_at, payload FROM rejected ORDER BY id DESC LIMIT $1",
            &[&limit],
        )?;
        rows.iter()
            .map(|r| {
                Ok(Rejected {
                    agent: r.get(0),
                    topic: r.get(1),
                    reason: r.get(2),
                    detail: r.get(3),
                    received_at: from_secs(r.get(4))?,
                    payload: r.get(5),
                })
            })
            .collect()
    }

    fn insert_user(&mut self, u: &NewUser) -> Result<bool, StoreError> {
        let n = self.client()?.execute(
            "INSERT INTO users (name, password_hash, role, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            &[&u.name, &u.password_hash, &u.role.as_str(), &to_secs(u.created_at)],
        )?;
        Ok(n == 1)
    }

    fn user(&mut self, name: &str) -> Result<Option<User>, StoreError> {
        Ok(self.users_where("WHERE name = $1", name)?.pop())
    }

    fn users(&mut self) -> Result<Vec<User>, StoreError> {
        self.users_where("WHERE $1::text = $1::text", "")
    }

    fn set_user_disabled(&mut self, name: &str, disabled: bool) -> Result<bool, StoreError> {
        Ok(self.client()?.execute("UPDATE users SET disabled = $1 WHERE name = $2", &[&disabled, &name])? == 1)
    }

    fn agents(&mut self) -> Result<Vec<Agent>, StoreError> {
        let rows = self.client()?.query(
            "SELECT id, signing_key, cert_serial, org, sector, size_class, province, enrolled_at FROM agents
             ORDER BY enrolled_at, id",
            &[],
        )?;
        rows.iter()
            .map(|r| {
                Ok(Agent {
                    id: r.get(0),
                    signing_key: key_from_row(r.get::<_, &[u8]>(1))?,
                    cert_serial: r.get(2),
                    org: org_from_row(r.get(3), r.get(4), r.get(5), r.get(6))?,
                    enrolled_at: from_secs(r.get(7))?,
                })
            })
            .collect()
    }

    fn tokens(&mut self) -> Result<Vec<TokenInfo>, StoreError> {
        let rows = self.client()?.query(
            "SELECT id, org, sector, size_class, province, created_at, expires_at, used_at, used_by FROM tokens
             ORDER BY created_at DESC, id",
            &[],
        )?;
        rows.iter()
            .map(|r| {
                Ok(TokenInfo {
                    id: r.get(0),
                    org: org_from_row(r.get(1), r.get(2), r.get(3), r.get(4))?,
                    created_at: from_secs(r.get(5))?,
                    expires_at: from_secs(r.get(6))?,
                    used_at: r.get::<_, Option<i64>>(7).map(from_secs).transpose()?,
                    used_by: r.get(8),
                })
            })
            .collect()
    }
}

impl PgStore {
    /// Users matching `condition` (with one text parameter), by name.
    fn users_where(&mut self, condition: &str, param: &str) -> Result<Vec<User>, StoreError> {
        let sql =
            format!("SELECT name, password_hash, role, created_at, disabled FROM users {condition} ORDER BY name");
        let rows = self.client()?.query(&sql, &[&param])?;
        rows.iter()
            .map(|r| {
                let (name, role): (String, String) = (r.get(0), r.get(2));
                let role = role.parse().map_err(|_| StoreError::Damaged(format!("role {role:?} of user {name:?}")))?;
                Ok(User { name, password_hash: r.get(1), role, created_at: from_secs(r.get(3))?, disabled: r.get(4) })
            })
            .collect()
    }
}

#[cfg(test)]
#[path = "postgres_tests.rs"]
mod tests;
