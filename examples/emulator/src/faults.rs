//! The fault modes of the retrieval and paging tests (tillit issue 16): what a compromised or
//! broken document source or document list could send. Chosen like the others, by
//! `--fault MODE` or the test-only header `x-emulator-fault`.
//!
//! Retrieval (`/mhd/document`):
//! - `doc-html`: `text/html` with a script that marks the page (`window.__docScriptRan`);
//! - `doc-svg`: `image/svg+xml` with an `onload` script;
//! - `doc-html-as-pdf`: the HTML again, labelled `application/pdf`;
//! - `doc-xml`: XML that is not CDA (an XHTML page labelled `application/xml`);
//! - `doc-no-eof`: the PDF without its `%%EOF` end marker (and so shorter than its size);
//! - `doc-other-patient`: a CDA naming another patient of the world;
//! - `truncated` (shared with the document list): half the body.
//!
//! Paging (`/R4/fhir/DocumentReference/_search`):
//! - `page-block`: from page 2 on, the first document of page 1 again, now blocked by the
//!   patient (Volven 9603 `NORS`);
//! - `endless-next`: every page links `next`, also the empty ones past the last document.

use crate::data::{self, Doc, World};
use std::sync::Arc;

/// The script an active-content fault carries: it marks the window it runs in.
pub const SCRIPT: &str = "window.__docScriptRan = (window.__docScriptRan || 0) + 1; try { parent.__docScriptRan = (parent.__docScriptRan || 0) + 1; } catch (e) {}";

/// Entries a paging fault adds to page `page` of `matching`.
pub fn search_entries(
    mode: Option<&str>,
    world: &World,
    matching: &[&Doc],
    page: usize,
    base: &str,
) -> Vec<Arc<str>> {
    match mode {
        Some("page-block") if page >= 2 => matching
            .first()
            .map(|d| {
                let mut blocked = (*d).clone();
                blocked.labels = vec![(data::SYSTEM_BLOCKS, "NORS")];
                crate::entry_value(world, &blocked, base).to_string().into()
            })
            .into_iter()
            .collect(),
        _ => Vec::new(),
    }
}

/// Whether every page links `next`.
pub fn endless_next(mode: Option<&str>) -> bool {
    mode == Some("endless-next")
}

/// The body a retrieval fault sends instead of `doc`: `(content type, bytes)`.
pub fn document(mode: Option<&str>, world: &World, doc: &Doc) -> Option<(&'static str, Vec<u8>)> {
    let html = || {
        format!("<!doctype html><html><body><h1>Epikrise</h1><script>{SCRIPT}</script><img src=x onerror=\"{SCRIPT}\"></body></html>").into_bytes()
    };
    Some(match mode? {
        "doc-html" => ("text/html; charset=utf-8", html()),
        "doc-svg" => (
            "image/svg+xml",
            format!("<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"{SCRIPT}\"><script>{SCRIPT}</script></svg>").into_bytes(),
        ),
        "doc-html-as-pdf" => ("application/pdf", html()),
        "doc-xml" => (
            "application/xml",
            format!("<html xmlns=\"http://www.w3.org/1999/xhtml\"><body><script>{SCRIPT}</script></body></html>").into_bytes(),
        ),
        "doc-no-eof" => {
            let pdf = data::pdf(&doc.title);
            let cut = pdf.len() - "%%EOF\n".len();
            ("application/pdf", pdf[..cut].to_vec())
        }
        "doc-other-patient" => {
            let other = &world.patients[(doc.patient + 1) % world.patients.len()];
            ("application/xml", data::cda(&doc.title, other).into_bytes())
        }
        _ => return None,
    })
}
