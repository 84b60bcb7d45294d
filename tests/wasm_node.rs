//! The binding's tests under Node (wasm-bindgen-test's default runner).
#![cfg(target_arch = "wasm32")]
#[path = "wasm/common.rs"]
mod common;
