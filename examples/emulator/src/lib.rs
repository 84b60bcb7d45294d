//! tillit-emulator: HelseID, the document list (IHE MHD ITI-67) and a document source
//! (ITI-68) as a consumer sees them, on loopback, strict where NHN is strict.
//!
//! One module per subject: [`helseid`] (discovery, PAR, login, tokens), [`access`] (what a
//! resource request must bring), [`mhd`] (the document list), [`source`] (the document
//! source), [`status`] (PJD's patient status), [`collector`] (the audit collector's audience
//! and the citizen provider), [`faults`] (the fault modes for reliability tests), [`state`]
//! and [`config`]; [`cors`], [`http`] and [`control`] (the `/_emulator/…` test endpoints) are
//! plumbing; [`verify`] checks JWTs and DPoP proofs, [`data`] makes the synthetic world.

pub mod access;
pub mod collector;
pub mod config;
pub mod control;
pub mod cors;
pub mod data;
pub mod faults;
pub mod helseid;
pub mod http;
pub mod mhd;
pub mod source;
pub mod state;
pub mod status;
pub mod verify;

use axum::routing::{get, post};
use axum::Router;

pub use config::{Client, Config, User};
pub use mhd::{AUD_KJ, AUD_PJD, SCOPE_READ, SCOPE_SEARCH, SCOPE_SEARCH_KJ};
use state::Shared;
pub use state::{now, Emulator, LOG_LIMIT};
pub use status::BLOCKED_HPR;

/// The router for `base` (the URL clients use, e.g. `http://127.0.0.1:8080`).
pub fn router(state: Shared) -> Router {
    Router::new()
        .route("/.well-known/openid-configuration", get(helseid::discovery))
        .route("/jwks", get(helseid::jwks))
        .route("/connect/par", post(helseid::par))
        .route("/connect/authorize", get(helseid::authorize))
        .route("/connect/token", post(helseid::token))
        .route("/R4/fhir/DocumentReference/_search", post(mhd::search))
        // The path PJD's own clients use (NorskHelsenett/Pasientens-journaldokumenter,
        // .NET/PatientHealthRecordsEPJ/.../appsettings.json).
        .route("/R4/fhir/documentreference/_search", post(mhd::search))
        .route("/R4/fhir/DocumentReference", get(mhd::search))
        .route("/mhd/document", get(source::retrieve))
        .route("/mhd/iti68/document", get(source::retrieve))
        .route("/_emulator/log", get(control::emulator_log))
        .route("/_emulator/patients", get(control::emulator_patients))
        .route(
            "/_emulator/status-patients",
            get(control::emulator_status_patients),
        )
        // PJD's patient status (privacy settings), as its API documents it.
        .route("/status", post(status::patient_status))
        .merge(collector::routes())
        .layer(axum::middleware::from_fn(cors::cors))
        .with_state(state)
}
