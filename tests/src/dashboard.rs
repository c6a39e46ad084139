//! A client of wijkpost's dashboard for tests and benchmarks: an HTTP agent that reports every
//! status (no error for 4xx) and follows no redirect, and the login form.

use std::time::Duration;

use anyhow::{Context, Result};

/// The HTTP client the tests use (30 s per request at most).
pub fn http() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// Logs in to the dashboard at `web`; the session cookie (`name=value`), or `None` when refused.
pub fn login(http: &ureq::Agent, web: &str, user: &str, password: &str) -> Result<Option<String>> {
    let answer = http
        .post(&format!("{web}/login"))
        .content_type("application/x-www-form-urlencoded")
        .send(format!("name={user}&password={password}"))
        .context("POST /login")?;
    Ok(answer
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::to_string))
}
