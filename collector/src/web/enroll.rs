//! `POST /v1/enroll`: the body is read and parsed here (so a malformed one gets a refusal in the
//! protocol's shape, not a framework message), the enrollment itself runs on a blocking thread
//! with the web side's store connection.
//!
//! | outcome | status | `error` |
//! |---|---|---|
//! | enrolled | 200 | – |
//! | unusable body or request | 400 (413 when over 64 KiB) | `bad-request` |
//! | unknown token or wrong secret | 403 | `token-unknown` |
//! | token used before | 409 | `token-used` |
//! | token expired | 410 | `token-expired` |
//! | storage failed (nothing changed) | 503 | `unavailable` |

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use wijk_protocol::EnrollRequest;

use super::WebState;
use crate::enroll::Refusal;

/// The HTTP status of a refusal.
pub fn status(refusal: &Refusal) -> StatusCode {
    match refusal {
        Refusal::TokenUnknown => StatusCode::FORBIDDEN,
        Refusal::TokenUsed => StatusCode::CONFLICT,
        Refusal::TokenExpired => StatusCode::GONE,
        Refusal::BadRequest(_) => StatusCode::BAD_REQUEST,
        Refusal::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

fn refuse(status: StatusCode, refusal: &Refusal) -> Response {
    (status, Json(refusal.to_wire())).into_response()
}

/// The handler.
pub async fn enroll(State(state): State<WebState>, body: Result<Bytes, BytesRejection>) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(e) => {
            let refusal = Refusal::BadRequest(format!("body not readable ({})", e.body_text()));
            return refuse(e.status(), &refusal);
        }
    };
    let req: EnrollRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            let refusal = Refusal::BadRequest(format!("body is not an enrollment request in JSON ({e})"));
            return refuse(StatusCode::BAD_REQUEST, &refusal);
        }
    };
    let token_id = req.token_id.chars().take(64).collect::<String>();
    let work = tokio::task::spawn_blocking(move || {
        let mut store = state.store.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        crate::enroll::enroll(store.as_mut(), &state.ca, &req, &state.broker_public, Utc::now())
    });
    match work.await {
        Ok(Ok(answer)) => {
            tracing::info!(agent = %answer.agent_id, token = %token_id, "agent enrolled");
            (StatusCode::OK, Json(answer)).into_response()
        }
        Ok(Err(refusal)) => {
            if let Refusal::Unavailable(why) = &refusal {
                tracing::error!(token = %token_id, "enrollment failed: {why}");
            } else {
                tracing::warn!(token = ?token_id, "enrollment refused: {refusal}");
            }
            refuse(status(&refusal), &refusal)
        }
        Err(e) => {
            tracing::error!("enrollment task failed: {e}");
            refuse(StatusCode::SERVICE_UNAVAILABLE, &Refusal::Unavailable(e.to_string()))
        }
    }
}
