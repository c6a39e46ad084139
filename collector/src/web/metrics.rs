//! `GET /metrics`: Prometheus text format (version 0.0.4) for administrators: an admin session, or
//! HTTP Basic authentication with an admin user's name and password (what Prometheus'
//! `basic_auth` sends; failures are throttled like logins). Counters come from the ingest
//! ([`crate::ingest::Stats`], since this process started), gauges from the store and the index.
//! No figure here is about one organisation; only `wijkpost_throttled_agent_dropped` names agents,
//! by their pseudonymous id as `/admin` does, so an administrator can find one that floods.
//!
//! Time spent here is bounded whatever the agents do: the throttled agents listed are at most
//! [`crate::ingest::throttle::MAX_LISTED`].

use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::time::Instant;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;

use super::auth::Admin;
use super::reply::{error, store_call};
use super::WebState;
use crate::users::{verify_password, verify_unknown, Role};

/// `GET /metrics`.
pub async fn metrics(State(state): State<WebState>, headers: HeaderMap, admin: Result<Admin, Response>) -> Response {
    if admin.is_err() {
        match basic_admin(&state, &headers).await {
            Some(true) => {}
            Some(false) => {
                return error(
                    true,
                    StatusCode::UNAUTHORIZED,
                    "login-required",
                    "an admin user's name and password are needed",
                )
            }
            None => {
                return admin.err().unwrap_or_else(|| error(true, StatusCode::UNAUTHORIZED, "login-required", "log in"))
            }
        }
    }
    let (stored, rejected_db) = match store_call(&state, |s| Ok((s.count_summaries()?, s.rejected_counts()?))).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let (rows, k) = state.trends.read().map(|i| (i.rows(), i.k())).unwrap_or((0, 0));
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, lines: Vec<(String, u64)>| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, value) in lines {
            let _ = writeln!(out, "{name}{labels} {value}");
        }
    };
    if let Some(stats) = &state.stats {
        let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
        metric(
            "wijkpost_ingest_stored_total",
            "counter",
            "Summaries stored by this process.",
            vec![(String::new(), load(&stats.stored))],
        );
        metric(
            "wijkpost_ingest_duplicates_total",
            "counter",
            "Summaries received again (stored before).",
            vec![(String::new(), load(&stats.duplicates))],
        );
        let rejected: Vec<(String, u64)> = stats
            .rejected
            .lock()
            .map(|m| m.iter().map(|(r, n)| (format!("{{reason=\"{}\"}}", label(r)), *n)).collect())
            .unwrap_or_default();
        metric(
            "wijkpost_ingest_rejected_total",
            "counter",
            "Messages refused by this process, by reason.",
            sorted(rejected),
        );
        metric(
            "wijkpost_ingest_store_failures_total",
            "counter",
            "Attempts at storing a batch that failed (a full disk, a database down).",
            vec![(String::new(), load(&stats.store_failures))],
        );
        metric(
            "wijkpost_ingest_store_failing",
            "gauge",
            "1 while the store refuses the batch in hand (retried; nothing of it is answered), else 0.",
            vec![(String::new(), u64::from(stats.store_failing.load(Ordering::Relaxed)))],
        );
        metric(
            "wijkpost_throttled_total",
            "counter",
            "Summary messages dropped unread because their agent was over its budget.",
            vec![(String::new(), load(&stats.throttled))],
        );
        let (listed, agents) = stats.throttled_now(Instant::now());
        metric(
            "wijkpost_throttled_agents",
            "gauge",
            "Agents over their budget within the last minute.",
            vec![(String::new(), agents as u64)],
        );
        metric(
            "wijkpost_throttled_agent_dropped",
            "gauge",
            "Messages dropped in the current spell of each agent over its budget within the last minute \
             (the 20 that dropped most).",
            listed.into_iter().map(|(agent, n)| (format!("{{agent=\"{}\"}}", label(&agent)), n)).collect(),
        );
    }
    let rejected_db: Vec<(String, u64)> =
        rejected_db.into_iter().map(|(r, n)| (format!("{{reason=\"{}\"}}", label(&r)), n)).collect();
    metric(
        "wijkpost_rejected_stored_total",
        "counter",
        "Messages refused since the database was created, by reason.",
        rejected_db,
    );
    metric("wijkpost_summaries_stored", "gauge", "Summaries in the store.", vec![(String::new(), stored)]);
    metric("wijkpost_trends_rows", "gauge", "Summaries in the trends index.", vec![(String::new(), rows)]);
    metric("wijkpost_trends_k", "gauge", "The k of k-anonymity in force.", vec![(String::new(), u64::from(k))]);
    let sessions = state.dashboard.sessions.count(Instant::now()) as u64;
    metric("wijkpost_dashboard_sessions", "gauge", "Live dashboard sessions.", vec![(String::new(), sessions)]);
    if let Some(stats) = &state.stats {
        let lag = stats.lag_ms.load(Ordering::Relaxed) as f64 / 1000.0;
        let _ = writeln!(
            out,
            "# HELP wijkpost_ingest_lag_seconds The last stored batch: from reading its oldest summary to storing it.\n\
             # TYPE wijkpost_ingest_lag_seconds gauge\nwijkpost_ingest_lag_seconds {lag:.3}"
        );
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], out).into_response()
}

fn sorted(mut lines: Vec<(String, u64)>) -> Vec<(String, u64)> {
    lines.sort();
    lines
}

/// A label value with `\`, `"` and line ends escaped.
fn label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// `Some(true)` for valid Basic credentials of an enabled admin, `Some(false)` for any other Basic
/// credentials, `None` without a Basic header.
async fn basic_admin(state: &WebState, headers: &HeaderMap) -> Option<bool> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let (name, password) =
        String::from_utf8(decoded).ok()?.split_once(':').map(|(n, p)| (n.to_string(), p.to_string()))?;
    let key = format!("user:{}", name.chars().take(64).collect::<String>());
    if state.dashboard.throttle.wait(&key, Instant::now()).is_some() {
        return Some(false);
    }
    let lookup = name.clone();
    let user = store_call(state, move |s| s.user(&lookup)).await.ok()?;
    let ok = tokio::task::spawn_blocking(move || match user {
        Some(u) if !u.disabled && u.role == Role::Admin => verify_password(&u.password_hash, &password),
        _ => verify_unknown(&password),
    })
    .await
    .unwrap_or(false);
    if ok {
        state.dashboard.throttle.succeeded(&key);
    } else {
        state.dashboard.throttle.failed(&key, Instant::now());
    }
    Some(ok)
}

#[cfg(test)]
mod tests {
    #[test]
    fn label_values_are_escaped() {
        assert_eq!(super::label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
