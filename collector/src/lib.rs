//! tillit-collector: the organisation's access log. It gathers every device's tillit log,
//! verifies it with the core's own chain code, stores it (SQLite or PostgreSQL), and answers
//! log control (IHE ITI-81 and reports) and the citizen's "who looked".

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod auth;
pub mod control;
pub mod declare;
pub mod fhir;
pub mod http;
pub mod ingest;
pub mod jws;
pub mod pg;
pub mod service;
pub mod sqlite;
pub mod store;

/// Opens the store a `--db` value names: `sqlite:PATH` or `postgres://…`.
pub fn open_store(db: &str) -> Result<store::Store, store::StoreError> {
    if let Some(path) = db.strip_prefix("sqlite:") {
        Ok(store::Store::new(Box::new(sqlite::Sqlite::open(path)?)))
    } else if db.starts_with("postgres://") || db.starts_with("postgresql://") {
        Ok(store::Store::new(Box::new(pg::Postgres::open(db)?)))
    } else {
        Err(store::StoreError(
            "--db must be sqlite:PATH or postgres://…".into(),
        ))
    }
}
