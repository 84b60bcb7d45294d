//! FHIR for IHE RESTful ATNA: validating the AuditEvents other systems record (ITI-20), and
//! the search parameters of ITI-81, turned into SQL over the current look-ups.

use crate::store::Param;
use serde_json::Value;

/// A FHIR input error: the element's path and the rule (never its value).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalid {
    /// FHIRPath-like location, e.g. `AuditEvent.agent[0].requestor`.
    pub path: String,
    /// The rule broken.
    pub rule: String,
}

fn invalid(path: impl Into<String>, rule: impl Into<String>) -> Invalid {
    Invalid {
        path: path.into(),
        rule: rule.into(),
    }
}

type V = Result<(), Invalid>;

fn string(v: &Value, path: &str) -> V {
    match v.as_str() {
        Some(s) if !s.trim().is_empty() => Ok(()),
        _ => Err(invalid(path, "must be a non-empty string")),
    }
}

fn opt<'a>(o: &'a Value, k: &str) -> Option<&'a Value> {
    o.get(k).filter(|v| !v.is_null())
}

fn coding(v: &Value, path: &str) -> V {
    let o = v
        .as_object()
        .ok_or_else(|| invalid(path, "must be a Coding (an object)"))?;
    for k in ["system", "code", "display", "version"] {
        if let Some(x) = o.get(k) {
            string(x, &format!("{path}.{k}"))?;
        }
    }
    if o.get("system").is_none() && o.get("code").is_none() {
        return Err(invalid(path, "a Coding needs a system or a code"));
    }
    Ok(())
}

fn concept(v: &Value, path: &str) -> V {
    let o = v
        .as_object()
        .ok_or_else(|| invalid(path, "must be a CodeableConcept (an object)"))?;
    if let Some(c) = o.get("coding") {
        array(c, &format!("{path}.coding"), coding)?;
    }
    if let Some(t) = o.get("text") {
        string(t, &format!("{path}.text"))?;
    }
    Ok(())
}

fn reference(v: &Value, path: &str) -> V {
    let o = v
        .as_object()
        .ok_or_else(|| invalid(path, "must be a Reference (an object)"))?;
    for k in ["reference", "type", "display"] {
        if let Some(x) = o.get(k) {
            string(x, &format!("{path}.{k}"))?;
        }
    }
    if let Some(i) = o.get("identifier") {
        let io = i.as_object().ok_or_else(|| {
            invalid(
                format!("{path}.identifier"),
                "must be an Identifier (an object)",
            )
        })?;
        for k in ["system", "value"] {
            if let Some(x) = io.get(k) {
                string(x, &format!("{path}.identifier.{k}"))?;
            }
        }
    }
    Ok(())
}

fn array(v: &Value, path: &str, each: fn(&Value, &str) -> V) -> V {
    let a = v
        .as_array()
        .ok_or_else(|| invalid(path, "must be an array"))?;
    if a.is_empty() {
        return Err(invalid(path, "must not be empty (leave it out instead)"));
    }
    for (i, x) in a.iter().enumerate() {
        each(x, &format!("{path}[{i}]"))?;
    }
    Ok(())
}

/// Whether `s` is a FHIR `instant`: `YYYY-MM-DDThh:mm:ss(.s+)?(Z|±hh:mm)`.
pub fn is_instant(s: &str) -> bool {
    instant_utc(s).is_some()
}

/// A FHIR `instant` in UTC as `YYYY-MM-DDThh:mm:ss.sssZ` (the form tillit records), so
/// times from every source compare as text. The parser is the core's (`tillit::fhirtime`).
pub fn instant_utc(s: &str) -> Option<String> {
    tillit::fhirtime::instant_ms(s).map(tillit::audit::event::rfc3339)
}

/// Validates a FHIR R4 AuditEvent's required elements and the types of those the collector
/// reads: `type`, `recorded`, `agent` (each with `requestor`), `source.observer`, and
/// `action`, `outcome`, `subtype`, `purposeOfEvent`, `entity` when present.
pub fn validate_audit_event(ev: &Value) -> V {
    let o = ev
        .as_object()
        .ok_or_else(|| invalid("AuditEvent", "must be a JSON object"))?;
    if o.get("resourceType").and_then(Value::as_str) != Some("AuditEvent") {
        return Err(invalid("AuditEvent.resourceType", "must be AuditEvent"));
    }
    if let Some(id) = opt(ev, "id") {
        let ok = id.as_str().is_some_and(|s| {
            (1..=64).contains(&s.len())
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        });
        if !ok {
            return Err(invalid(
                "AuditEvent.id",
                "must be 1 to 64 of A-Z a-z 0-9 - .",
            ));
        }
    }
    coding(
        opt(ev, "type").ok_or_else(|| invalid("AuditEvent.type", "is required (1..1)"))?,
        "AuditEvent.type",
    )?;
    let rec =
        opt(ev, "recorded").ok_or_else(|| invalid("AuditEvent.recorded", "is required (1..1)"))?;
    if !rec.as_str().is_some_and(is_instant) {
        return Err(invalid(
            "AuditEvent.recorded",
            "must be a FHIR instant (with seconds and a time zone)",
        ));
    }
    if let Some(a) = opt(ev, "action") {
        if !matches!(a.as_str(), Some("C" | "R" | "U" | "D" | "E")) {
            return Err(invalid("AuditEvent.action", "must be one of C R U D E"));
        }
    }
    if let Some(a) = opt(ev, "outcome") {
        if !matches!(a.as_str(), Some("0" | "4" | "8" | "12")) {
            return Err(invalid("AuditEvent.outcome", "must be one of 0 4 8 12"));
        }
    }
    if let Some(s) = opt(ev, "outcomeDesc") {
        string(s, "AuditEvent.outcomeDesc")?;
    }
    if let Some(s) = opt(ev, "subtype") {
        array(s, "AuditEvent.subtype", coding)?;
    }
    if let Some(p) = opt(ev, "purposeOfEvent") {
        array(p, "AuditEvent.purposeOfEvent", concept)?;
    }
    let agents =
        opt(ev, "agent").ok_or_else(|| invalid("AuditEvent.agent", "is required (1..*)"))?;
    array(agents, "AuditEvent.agent", |a, path| {
        if !a.is_object() {
            return Err(invalid(path, "must be an object"));
        }
        if !a.get("requestor").is_some_and(Value::is_boolean) {
            return Err(invalid(
                format!("{path}.requestor"),
                "is required and must be a boolean",
            ));
        }
        if let Some(t) = opt(a, "type") {
            concept(t, &format!("{path}.type"))?;
        }
        if let Some(r) = opt(a, "role") {
            array(r, &format!("{path}.role"), concept)?;
        }
        if let Some(w) = opt(a, "who") {
            reference(w, &format!("{path}.who"))?;
        }
        if let Some(l) = opt(a, "location") {
            reference(l, &format!("{path}.location"))?;
        }
        if let Some(p) = opt(a, "purposeOfUse") {
            array(p, &format!("{path}.purposeOfUse"), concept)?;
        }
        Ok(())
    })?;
    let source =
        opt(ev, "source").ok_or_else(|| invalid("AuditEvent.source", "is required (1..1)"))?;
    if !source.is_object() {
        return Err(invalid("AuditEvent.source", "must be an object"));
    }
    reference(
        opt(source, "observer")
            .ok_or_else(|| invalid("AuditEvent.source.observer", "is required (1..1)"))?,
        "AuditEvent.source.observer",
    )?;
    if let Some(t) = opt(source, "type") {
        array(t, "AuditEvent.source.type", coding)?;
    }
    if let Some(e) = opt(ev, "entity") {
        array(e, "AuditEvent.entity", |x, path| {
            if !x.is_object() {
                return Err(invalid(path, "must be an object"));
            }
            if let Some(w) = opt(x, "what") {
                reference(w, &format!("{path}.what"))?;
            }
            for k in ["type", "role", "lifecycle"] {
                if let Some(c) = opt(x, k) {
                    coding(c, &format!("{path}.{k}"))?;
                }
            }
            if let Some(d) = opt(x, "detail") {
                array(d, &format!("{path}.detail"), |d, p| {
                    string(d.get("type").unwrap_or(&Value::Null), &format!("{p}.type"))?;
                    if d.get("valueString").is_none() && d.get("valueBase64Binary").is_none() {
                        return Err(invalid(p, "needs valueString or valueBase64Binary"));
                    }
                    Ok(())
                })?;
            }
            Ok(())
        })?;
    }
    Ok(())
}

/// An ITI-81 search, parsed.
#[derive(Clone, Debug, Default)]
pub struct Search {
    /// SQL conditions over the `lookups` view, with their parameters.
    pub conditions: Vec<String>,
    /// The parameters, in order.
    pub params: Vec<Param>,
    /// Page size.
    pub count: u64,
    /// Offset of the page.
    pub offset: u64,
    /// Newest first.
    pub descending: bool,
    /// The query string without `_offset`, for the paging links.
    pub canonical: Vec<(String, String)>,
}

/// Default and largest page sizes.
pub const DEFAULT_COUNT: u64 = 100;
/// The largest `_count`.
pub const MAX_COUNT: u64 = 1000;

fn token_value(v: &str) -> &str {
    // `Patient/123`, `system|value` or a bare value: the value.
    let v = v.rsplit_once('|').map_or(v, |(_, x)| x);
    v.rsplit_once('/').map_or(v, |(_, x)| x)
}

/// A date parameter's comparison: `(operator, bound)` on `recorded` (UTC text). A value
/// without a time zone or with an offset other than `Z` is refused, so comparing as text
/// is exact; a date alone covers its whole day.
fn date_condition(v: &str) -> Result<Vec<(&'static str, String)>, Invalid> {
    let (prefix, value) = match v.get(..2) {
        Some(p @ ("ge" | "le" | "gt" | "lt" | "eq")) => (p, &v[2..]),
        _ => ("eq", v),
    };
    let date_only = value.len() == 10 && fhir_date(value);
    let value = if date_only {
        value.to_string()
    } else {
        instant_utc(value)
            .ok_or_else(|| invalid("date", "must be [prefix]YYYY-MM-DD or a FHIR instant"))?
    };
    // With a date alone, `value~` sorts after every instant of that day.
    let end = if date_only {
        format!("{value}~")
    } else {
        value.clone()
    };
    Ok(match prefix {
        "ge" => vec![(">=", value)],
        "gt" => vec![(">", end)],
        "le" => vec![("<=", end)],
        "lt" => vec![("<", value)],
        _ => vec![(">=", value), ("<=", end)],
    })
}

fn fhir_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

/// Parses an ITI-81 query string.
pub fn parse_search(query: &str) -> Result<Search, Invalid> {
    let mut s = Search {
        count: DEFAULT_COUNT,
        descending: true,
        ..Search::default()
    };
    let cond = |s: &mut Search, sql: &str, p: Param| {
        s.params.push(p);
        s.conditions
            .push(sql.replace('?', &format!("${}", s.params.len())));
    };
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        let (k, v) = (k.into_owned(), v.into_owned());
        if k != "_offset" {
            s.canonical.push((k.clone(), v.clone()));
        }
        match k.as_str() {
            "patient" | "patient.identifier" | "entity" => {
                cond(&mut s, "patient = ?", token_value(&v).into())
            }
            "agent" | "agent.identifier" => {
                cond(&mut s, "practitioner = ?", token_value(&v).into())
            }
            "purpose" => cond(&mut s, "purpose = ?", token_value(&v).into()),
            "outcome" => {
                if !matches!(v.as_str(), "0" | "4" | "8" | "12") {
                    return Err(invalid("outcome", "must be one of 0 4 8 12"));
                }
                cond(&mut s, "outcome = ?", v.into())
            }
            "action" => {
                let a = match v.as_str() {
                    "E" => "search",
                    "R" => "read",
                    _ => return Err(invalid("action", "must be E or R")),
                };
                cond(&mut s, "action = ?", a.into())
            }
            "date" => {
                for (op, bound) in date_condition(&v)? {
                    cond(&mut s, &format!("recorded {op} ?"), bound.into());
                }
            }
            "_count" => {
                s.count = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=MAX_COUNT).contains(n))
                    .ok_or_else(|| {
                        invalid(
                            "_count",
                            format!("must be an integer from 1 to {MAX_COUNT}"),
                        )
                    })?
            }
            "_offset" => {
                s.offset = v
                    .parse()
                    .map_err(|_| invalid("_offset", "must be a non-negative integer"))?
            }
            "_sort" => {
                s.descending = match v.as_str() {
                    "date" => false,
                    "-date" => true,
                    _ => return Err(invalid("_sort", "must be date or -date")),
                }
            }
            "_format" => {}
            other => return Err(invalid(other, "is not a supported search parameter")),
        }
    }
    Ok(s)
}
