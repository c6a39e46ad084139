//! The JSON API, version 1, for logged-in users (session cookie), with the same k-anonymity as the
//! pages — it returns the trends engine's results as they are, a hidden cell being the string
//! `"< k"`:
//!
//! - `GET /api/v1/{table}` with `table` one of `participation`, `prevalence` (`weakness=ID`
//!   optional), `breakdown` (`by`, `measure`), `tls`, `services`, `priorities` (`top`), and the
//!   filters of [`super::query`]; the answer is `{"schema": "wijkpost.dashboard/1", "k": …,
//!   "demo": …, "table": …, "filter": {…}, "data": …}`;
//! - `GET /api/v1/{table}.csv` or `?format=csv`: the same table as CSV ([`super::table`]);
//! - `GET /api/v1/admin/agents`: enrolled agents with their organisations (role admin only).
//!
//! The schema is documented in `docs/dashboard.md`; a change that breaks a client is `/api/v2`.

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::{json, Value};

use super::auth::{Admin, Viewer};
use super::query::{BadParam, Params};
use super::reply::{bad_param, error, store_call};
use super::table::{self, Table};
use super::WebState;
use crate::trends::{Filter, Index, MIN_K};

/// The `schema` of every JSON answer.
pub const SCHEMA: &str = "wijkpost.dashboard/1";

/// `GET /api/v1/{table}` and `GET /api/v1/{table}.csv`.
pub async fn table_api(
    State(state): State<WebState>,
    _viewer: Viewer,
    Path(name): Path<String>,
    Query(params): Query<Params>,
) -> Response {
    let (name, csv) = match name.strip_suffix(".csv") {
        Some(n) => (n.to_string(), true),
        None => match params.csv() {
            Ok(c) => (name, c),
            Err(e) => return bad_param(true, &e),
        },
    };
    let filter = match params.filter() {
        Ok(f) => f,
        Err(e) => return bad_param(true, &e),
    };
    let Ok(index) = state.trends.read() else {
        return error(
            true,
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the trends index is unavailable; restart wijkpost",
        );
    };
    let answer = match query(&index, &name, &filter, &params) {
        Ok(Some(a)) => a,
        Ok(None) => {
            let known = "participation, prevalence, breakdown, tls, services, priorities";
            return error(
                true,
                StatusCode::NOT_FOUND,
                "no-such-table",
                &format!("no table {name:?}; use one of {known}"),
            );
        }
        Err(e) => return bad_param(true, &e),
    };
    if csv {
        let file = format!("attachment; filename=\"wijkpost-{name}.csv\"");
        let headers =
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()), (header::CONTENT_DISPOSITION, file)];
        return (headers, answer.table.to_csv()).into_response();
    }
    Json(json!({
        "schema": SCHEMA,
        "k": index.k(),
        "demo": index.k() < MIN_K,
        "table": name,
        "filter": filter_json(&filter),
        "data": answer.data,
    }))
    .into_response()
}

/// One table's answer, both ways.
struct Answer {
    data: Value,
    table: Table,
}

fn answer<T: Serialize>(data: &T, table: Table) -> Answer {
    Answer { data: serde_json::to_value(data).unwrap_or(Value::Null), table }
}

/// The table `name`; `None` when there is no such table.
fn query(index: &Index, name: &str, filter: &Filter, params: &Params) -> Result<Option<Answer>, BadParam> {
    let engine = |e: crate::trends::TrendsError| BadParam { name: "weakness", accepts: e.to_string() };
    Ok(Some(match name {
        "participation" => {
            let d = index.participation(filter);
            answer(&d, table::participation(&d))
        }
        "prevalence" => {
            let d = index.prevalence(filter, params.weakness()?.as_deref()).map_err(engine)?;
            answer(&d, table::prevalence(&d))
        }
        "tls" => {
            let d = index.tls_hygiene(filter);
            answer(&d, table::shares(&d))
        }
        "services" => {
            let d = index.service_exposure(filter);
            answer(&d, table::shares(&d))
        }
        "breakdown" => {
            let measure = params.measure()?;
            let d = index
                .breakdown(filter, &measure, params.by()?)
                .map_err(|e| BadParam { name: "measure", accepts: e.to_string() })?;
            let t = d
                .as_ref()
                .map(table::breakdown)
                .unwrap_or(Table { columns: vec!["group", "organisations", "matching", "pct"], rows: vec![] });
            answer(&d, t)
        }
        "priorities" => {
            let d = index.priorities(filter, params.top()?);
            let empty = Table {
                columns: vec!["rank", "weakness", "severity", "weight", "organisations", "matching", "pct"],
                rows: vec![],
            };
            let t = d.as_ref().map(table::priorities).unwrap_or(empty);
            answer(&d, t)
        }
        _ => return Ok(None),
    }))
}

/// The filter as the answer repeats it (`null` = all).
fn filter_json(f: &Filter) -> Value {
    json!({
        "from": f.from.map(|w| w.to_string()),
        "to": f.to.map(|w| w.to_string()),
        "sector": f.sector.map(|s| s.as_str()),
        "size": f.size_class.map(|s| s.as_str()),
        "province": f.province.map(|p| p.as_str()),
    })
}

/// `GET /api/v1/admin/agents`: enrolled agents and their organisations (administrators only).
pub async fn agents(State(state): State<WebState>, _admin: Admin) -> Response {
    let agents = match store_call(&state, |store| store.agents()).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let rows: Vec<Value> = agents
        .iter()
        .map(|a| {
            json!({
                "id": a.id, "org": a.org.name, "sector": a.org.sector.as_str(), "size": a.org.size_class.as_str(),
                "province": a.org.province.as_str(), "enrolled_at": a.enrolled_at.to_rfc3339(), "cert_serial": a.cert_serial,
            })
        })
        .collect();
    Json(json!({ "schema": SCHEMA, "table": "admin/agents", "data": rows })).into_response()
}
