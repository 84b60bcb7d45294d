//! Log control over every device's log, computed in the database: ITI-81 search, the
//! follow-up reports (as `log.report()` gives them for one log), the device logs' state,
//! and the citizen's "who looked".

use crate::fhir::Search;
use crate::store::{Param, Result, Store};
use serde_json::{json, Value};

/// The most items a report list carries (its `total` counts all).
pub const REPORT_LIMIT: i64 = 1000;

fn body_of(line: &Value) -> Value {
    line.as_str()
        .and_then(|l| serde_json::from_str::<Value>(l).ok())
        .and_then(|r| r.get("body").cloned())
        .unwrap_or(Value::Null)
}

/// Runs an ITI-81 search: a `searchset` Bundle of the current look-ups, paged.
pub fn search(store: &Store, s: &Search, base: &str) -> Result<Value> {
    let wher = if s.conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", s.conditions.join(" AND "))
    };
    let total = store.rows(&format!("SELECT COUNT(*) FROM lookups{wher}"), &s.params)?[0][0]
        .as_i64()
        .unwrap_or(0) as u64;
    let dir = if s.descending { "DESC" } else { "ASC" };
    let n = s.params.len();
    let mut params = s.params.clone();
    params.push(s.count.into());
    params.push(s.offset.into());
    let rows = store.rows(
        &format!(
            "SELECT line, log_id, seq FROM lookups{wher} ORDER BY recorded {dir}, log_id {dir}, seq {dir} LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        ),
        &params,
    )?;
    let q = |offset: u64| -> String {
        let mut ser = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &s.canonical {
            ser.append_pair(k, v);
        }
        ser.append_pair("_offset", &offset.to_string());
        format!("{base}/AuditEvent?{}", ser.finish())
    };
    let mut links = vec![json!({ "relation": "self", "url": q(s.offset) })];
    if s.offset + s.count < total {
        links.push(json!({ "relation": "next", "url": q(s.offset + s.count) }));
    }
    if s.offset > 0 {
        links.push(json!({ "relation": "previous", "url": q(s.offset.saturating_sub(s.count)) }));
    }
    let entries: Vec<Value> = rows
        .iter()
        .map(|r| {
            let ev = body_of(&r[0]);
            json!({
                "fullUrl": format!("{base}/AuditEvent/{}", ev.get("id").and_then(Value::as_str).unwrap_or("")),
                "resource": ev,
                "search": { "mode": "match" },
            })
        })
        .collect();
    Ok(
        json!({ "resourceType": "Bundle", "type": "searchset", "total": total, "link": links, "entry": entries }),
    )
}

const SUMMARY: &str =
    "event_id, recorded, action, practitioner, purpose, decision_ref, user_selected, log_id, seq, patient";

fn summaries(store: &Store, cond: &str, params: &[Param]) -> Result<Value> {
    let total = store.rows(
        &format!("SELECT COUNT(*) FROM lookups WHERE {cond}"),
        params,
    )?[0][0]
        .clone();
    let mut p = params.to_vec();
    p.push(REPORT_LIMIT.into());
    let items: Vec<Value> = store
        .rows(
            &format!("SELECT {SUMMARY} FROM lookups WHERE {cond} ORDER BY recorded, log_id, seq LIMIT ${}", p.len()),
            &p,
        )?
        .into_iter()
        .map(|r| {
            json!({
                "id": r[0], "recorded": r[1], "action": r[2], "practitioner": r[3], "purpose": r[4],
                "decisionRef": r[5], "userSelected": r[6].as_i64() == Some(1), "logId": r[7], "seq": r[8],
                "patient": r[9],
            })
        })
        .collect();
    Ok(json!({ "total": total, "items": items }))
}

/// The follow-up reports over every log: emergency access, self-granted access, unusual
/// volume per practitioner and day (above `threshold` look-ups), missing decision
/// references, and outcomes never recorded. The same rules as `log.report()`.
pub fn report(store: &Store, threshold: u64) -> Result<Value> {
    let count = store.rows("SELECT COUNT(*) FROM lookups", &[])?[0][0].clone();
    let volume: Vec<Value> = store
        .rows(
            "SELECT practitioner, substr(recorded, 1, 10) AS day, COUNT(*) AS n FROM lookups \
             WHERE purpose IS NOT NULL AND action <> 'token' AND practitioner IS NOT NULL \
             GROUP BY practitioner, substr(recorded, 1, 10) HAVING COUNT(*) > $1 ORDER BY practitioner, day",
            &[threshold.into()],
        )?
        .into_iter()
        .map(|r| json!({ "practitioner": r[0], "day": r[1], "lookUps": r[2] }))
        .collect();
    Ok(json!({
        "lookUps": count,
        "emergencyAccess": summaries(store, "purpose IN ('ETREAT', 'BTG')", &[])?,
        "selfGranted": summaries(store, "user_selected = 1", &[])?,
        "missingDecisionRef": summaries(store, "purpose IS NOT NULL AND decision_ref IS NULL", &[])?,
        "outcomeUnknown": summaries(store, "outcome IS NULL", &[])?,
        "unusualVolume": volume,
    }))
}

/// Each device log (or one): owner, head, last checkpoint, the gaps refused and every incident.
pub fn logs(store: &Store, log_id: Option<&str>) -> Result<Vec<Value>> {
    let (sql, p): (&str, Vec<Param>) = match log_id {
        Some(l) => (
            "SELECT log_id, client_id, org, next_seq, head_hash, last_checkpoint, declaration FROM logs WHERE log_id = $1",
            vec![l.into()],
        ),
        None => (
            "SELECT log_id, client_id, org, next_seq, head_hash, last_checkpoint, declaration FROM logs ORDER BY log_id",
            vec![],
        ),
    };
    let mut out = Vec::new();
    for r in store.rows(sql, &p)? {
        let id = r[0].as_str().unwrap_or("").to_string();
        let incidents = store.incidents(Some(&id))?;
        let gaps: Vec<Value> = incidents
            .iter()
            .filter(|i| i["code"] == "GAP")
            .map(|i| json!({ "expectedSeq": i["seq"], "at": i["at"] }))
            .collect();
        let next = r[3].as_i64().unwrap_or(0);
        // When the newest record this log holds was written on the device: how long ago the
        // device last shipped something, for log control to see a silent device. The
        // primary key's order (log_id, seq), read backwards: no scan.
        let last_recorded = store
            .rows(
                "SELECT recorded FROM records WHERE log_id = $1 AND recorded IS NOT NULL ORDER BY seq DESC LIMIT 1",
                &[id.as_str().into()],
            )?
            .first()
            .map_or(Value::Null, |r| r[0].clone());
        let decl: Value = r[6]
            .as_str()
            .and_then(|d| serde_json::from_str(d).ok())
            .unwrap_or(Value::Null);
        out.push(json!({
            "logId": id, "clientId": r[1], "organisation": r[2],
            "head": if next > 0 { json!({ "seq": next - 1, "hash": r[4] }) } else { Value::Null },
            "lastCheckpoint": r[5],
            "lastRecorded": last_recorded,
            "signed": decl.get("checkpointKey").is_some(),
            "checkpointEvery": decl.get("checkpointEvery"),
            "gaps": gaps,
            "incidents": incidents,
        }));
    }
    Ok(out)
}

/// "Who looked" at `patient`'s record, across every device, newest first: the core's
/// citizen view (`citizen_report`: name, role, organisation, when, why; never the
/// practitioner's national id) over the current look-ups the database finds.
pub fn citizen_access(store: &Store, patient: &str) -> Result<Vec<Value>> {
    let records: Vec<Value> = store
        .rows(
            "SELECT line FROM lookups WHERE patient = $1 AND action <> 'token' ORDER BY recorded DESC, log_id, seq LIMIT 10000",
            &[patient.into()],
        )?
        .iter()
        .filter_map(|r| r[0].as_str().and_then(|l| serde_json::from_str(l).ok()))
        .map(|mut rec: Value| {
            // Look-up ids are unique per device only: the core's view keys on them.
            let key = format!("{}#{}", rec["body"]["id"].as_str().unwrap_or(""), rec["seq"]);
            rec["body"]["id"] = json!(key);
            rec
        })
        .collect();
    Ok(tillit::audit::control::citizen_report(&records, patient))
}
