//! Tests that pin the rules of tillit's rule modules at their edges: each one fails when a
//! mutant (a changed operator, limit or condition, as cargo-mutants makes them; see
//! .cargo/mutants.toml) changes what a rule accepts. Each asserts the promise the rule makes,
//! from the RFC or the NHN source cited next to it, not what the code happens to compute.
//! One binary with one module per rule module, apart from the unit tests in src/ so that
//! changes to either merge without conflict.
#![cfg(not(target_arch = "wasm32"))]

mod assertion;
mod chain;
mod codes;
mod control;
mod dpop;
mod format;
mod ident;
mod jose;
mod policy;
mod signing;
mod trust;
