//! # tillit
//!
//! The consumer's side of Norway's health-record sharing, as a platform-free Rust core and a
//! thin WebAssembly binding:
//!
//! - [`trust`]: the trust framework's attestation (who looks, why, at whom), typed;
//! - [`ident`] and [`codes`]: Norwegian identifiers and code systems as parsed types;
//! - [`assertion`] and [`dpop`]: the JWTs HelseID wants, with the attestation in exactly one place;
//! - [`jose`] and [`canon`]: JOSE encodings, public JWKs, RFC 7638 thumbprints, RFC 8785 JSON;
//! - [`scan`]: JSON text read in place, validated, without a tree (for large Bundles);
//! - [`policy`] and [`minimise`]: what this user, purpose and patient may see, and why the rest was withheld;
//! - [`client`]: the client's platform-free decisions (responses, retries, nonces, cache keys, CDA);
//! - [`signing`]: what a server-side signer may sign for a session (no signing oracle);
//! - [`document`]: what a retrieved document must be before it is handed over (PDF or CDA, whole, the patient's);
//! - [`audit`]: a FHIR AuditEvent for every look-up, hash-chained, with log control and the citizen's view.
//!
//! Every fallible function returns [`error::Error`]: a stable code, the JSON path and the
//! rule, never the offending value.

#![forbid(unsafe_code)]
// The package's wasm is built at opt-level "z" with the minimiser's hot path (scan, minimise)
// at speed: `--cfg tillit_speed`, set by scripts/build.sh where the toolchain allows the
// unstable attribute (Debian's rustc with RUSTC_BOOTSTRAP, as for -Zbuild-std).
#![cfg_attr(tillit_speed, feature(optimize_attribute))]
#![warn(missing_docs)]

pub mod assertion;
pub mod audit;
pub mod canon;
pub mod client;
pub mod codes;
pub mod document;
pub mod dpop;
pub mod error;
pub mod fhirtime;
pub mod ident;
pub mod jose;
pub mod json;
pub mod limits;
pub mod memo;
pub mod minimise;
pub mod policy;
pub mod scan;
pub mod signing;
pub mod trust;

#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub mod wasm;

pub use error::{Error, ErrorCode, Result};
