//! One source per code list and limit: the core's lists (`ErrorCode::ALL`, the minimisation
//! and signing `Reason::ALL`, `tillit::limits`) against what the TypeScript wrapper and the
//! README say. Fails when one of them changes without the others.

use std::collections::BTreeSet;
use tillit::limits;

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR")))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The string literals of `export type NAME = 'A' | 'B' …;` in a TypeScript file.
fn ts_union(file: &str, name: &str) -> BTreeSet<String> {
    let text = read(file);
    let start = text
        .find(&format!("export type {name} ="))
        .unwrap_or_else(|| panic!("{file} has no `export type {name}`"));
    let body = &text[start..start + text[start..].find(';').expect("the type ends")];
    body.split('\'')
        .skip(1)
        .step_by(2)
        .map(String::from)
        .collect()
}

fn set<'a>(codes: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    codes.into_iter().map(String::from).collect()
}

/// Codes only the wrapper raises (HTTP, loading): in TS and the README, not in the core.
const WRAPPER_ONLY: [&str; 12] = [
    "OAUTH_ERROR",
    "FHIR_ERROR",
    "HTTP_ERROR",
    "TIMEOUT",
    "NETWORK_ERROR",
    "MALFORMED_RESPONSE",
    "NO_REFRESH_TOKEN",
    "WASM_NOT_FOUND",
    "WASM_NOT_WASM",
    "WASM_BLOCKED",
    "WASM_LOAD_FAILED",
    "WASM_NOT_LOADED",
];

/// The README's section on errors, reason codes and limits.
fn readme_errors() -> String {
    let text = read("README.md");
    let start = text
        .find("### Errors, reason codes and limits")
        .expect("the README has its errors section");
    let end = start + 4 + text[start + 4..].find("\n##").expect("a section follows");
    text[start..end].to_string()
}

fn assert_in_readme(codes: &BTreeSet<String>) {
    let section = readme_errors();
    for c in codes {
        assert!(
            section.contains(&format!("`{c}`")),
            "the README's errors section does not name `{c}`"
        );
    }
}

#[test]
fn error_codes_agree() {
    let core = set(tillit::error::ErrorCode::ALL.iter().map(|c| c.as_str()));
    let ts = ts_union("js/errors.ts", "ErrorCode");
    let wrapper = set(WRAPPER_ONLY);
    assert_eq!(
        ts,
        &core | &wrapper,
        "js/errors.ts ErrorCode vs the core and WRAPPER_ONLY"
    );
    assert!(core.is_disjoint(&wrapper));
    // Every code has its class in the wrapper's table.
    let errors = read("js/errors.ts");
    let table = &errors[errors.find("const classes").expect("the class table")..];
    for c in &ts {
        assert!(
            table.contains(&format!("  {c}: ")),
            "js/errors.ts classes lack {c}"
        );
    }
    assert_in_readme(&ts);
}

#[test]
fn withheld_reason_codes_agree() {
    let core = set(tillit::minimise::Reason::ALL.iter().map(|r| r.code()));
    let ts = ts_union("js/minimise.ts", "WithheldReason");
    assert_eq!(ts, core, "js/minimise.ts WithheldReason vs the core");
    assert_in_readme(&core);
}

#[test]
fn signing_refusal_reasons_agree() {
    let core = set(tillit::signing::Reason::ALL.iter().map(|r| r.as_str()));
    let ts = ts_union("js/errors.ts", "SigningRefusalReason");
    // The HTTP handler refuses a request without a session before the gate sees it.
    assert_eq!(ts, &core | &set(["UNAUTHENTICATED"]));
    assert_in_readme(&ts);
}

/// `15000` as the prose writes it: `15 000`.
fn spaced(n: u64) -> String {
    let d = n.to_string();
    let mut out = String::new();
    for (i, c) in d.chars().enumerate() {
        if i > 0 && (d.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

#[test]
fn limits_are_stated_as_the_core_has_them() {
    let minutes = limits::MAX_ATTESTATION_AGE_SECS / 60;
    let section = readme_errors();
    for said in [
        format!("valid for {minutes} minutes"),
        format!("clock skew of {} s", limits::DEFAULT_SKEW_SECS),
        format!("time-out of {} ms", spaced(limits::DEFAULT_TIMEOUT_MS)),
        format!("at most\n{} ms", spaced(limits::MAX_TIMEOUT_MS)),
        format!("{} retries", limits::MAX_RETRIES),
        format!("after {} ms", limits::RETRY_BASE_MS),
        format!("never more than {} ms", spaced(limits::MAX_RETRY_WAIT_MS)),
        format!("above {} look-ups", limits::DEFAULT_VOLUME_THRESHOLD),
        format!(
            "at most {} MiB and {} levels",
            limits::TRUST_CONTEXT.bytes >> 20,
            limits::TRUST_CONTEXT.depth
        ),
        format!(
            "at most {} MiB and {} levels",
            limits::RECORD.bytes >> 20,
            limits::RECORD.depth
        ),
    ] {
        assert!(
            section.contains(&said),
            "the README's limits do not say {said:?}"
        );
    }
    let readme = read("README.md");
    assert!(readme.contains(&format!("older than {minutes} minutes")));
    let volume = limits::DEFAULT_VOLUME_THRESHOLD;
    // The collector's options are documented in docs/collector.md (the README points there).
    assert!(read("docs/collector.md").contains(&format!("`--volume-threshold` (default {volume})")));
    assert!(read("js/audit.ts").contains(&format!("volume report lists them; default {volume}.")));
    let trust = read("js/trust.ts");
    assert!(trust.contains(&format!("older than {minutes} minutes")));
    let client = read("js/client.ts");
    assert!(client.contains(&format!(
        "Default {} ms.",
        spaced(limits::DEFAULT_TIMEOUT_MS)
    )));
    assert!(client.contains(&format!("Default {} s.", limits::DEFAULT_SKEW_SECS)));
    // The wrapper takes the figures from the core, never writes them again.
    for (file, text) in [("js/client.ts", &client), ("js/trust.ts", &trust)] {
        for bare in [
            "15_000",
            "600_000",
            "?? 30",
            "= 30)",
            "attempt < 2",
            "200 * attempt",
        ] {
            assert!(
                !text.contains(bare),
                "{file} writes {bare:?} instead of limits()"
            );
        }
    }
    let server = read("js/server.ts");
    assert!(!server.contains("16 * 1024") && !server.contains("16384"));
}
