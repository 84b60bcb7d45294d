//! The local access log: a FHIR AuditEvent for every look-up, chained and checkpointed so
//! tampering shows, with the views log control and the citizen need.
//!
//! The platform layer (sinks: memory, IndexedDB, an NDJSON file, the caller's) only stores
//! and returns records; building, chaining, verifying and reading them happens here.

pub mod chain;
pub mod control;
pub mod event;
pub mod format;
pub mod midstate;
pub mod norway;
pub mod ship;
pub mod stream;
pub mod writer;

#[cfg(test)]
mod profile_tests;
#[cfg(test)]
mod tests;
