//! The emulator's own test endpoints (`/_emulator/…`): its request log and its patients.

use crate::data;
use crate::http::json_response;
use crate::state::Shared;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};

pub(crate) async fn emulator_log(State(s): State<Shared>) -> Response {
    let m = s.m.lock().expect("lock");
    json_response(
        StatusCode::OK,
        &Value::Array(m.log.iter().cloned().collect()),
        &[("x-emulator-log-dropped", m.log_dropped.to_string())],
    )
}

pub(crate) async fn emulator_patients(State(s): State<Shared>) -> Response {
    json_response(
        StatusCode::OK,
        &json!(s.world.patients[..s.world.listed]),
        &[],
    )
}

/// The three status patients: `{ reserved, restricted, blocked }` national ids.
pub(crate) async fn emulator_status_patients(State(s): State<Shared>) -> Response {
    let w = &s.world;
    let find = |f: fn(&data::PatientStatus) -> bool| {
        w.status.iter().position(f).map(|i| w.patients[i].clone())
    };
    json_response(
        StatusCode::OK,
        &json!({
            "reserved": find(|x| x.reserved),
            "restricted": find(|x| x.restricted),
            "blocked": find(|x| x.blocked),
        }),
        &[],
    )
}
