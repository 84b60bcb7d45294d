//! A minimisation's outcome as one JSON text, the shape the JS wrapper's `minimise` returns:
//! `{ withheld: [{ id, index, reason, rule }], leaks, retract, stats, bundle }`. The withheld
//! entries and the counts are written directly, then the Bundle as the core wrote it, so the
//! wrapper parses one text once.

use super::Outcome;
use crate::canon::write_string;
use core::fmt::Write as _;

impl Outcome {
    /// The outcome as JSON text (see the module docs).
    #[cfg_attr(tillit_speed, optimize(speed))]
    pub fn to_json_text(&self) -> String {
        // The Bundle is most of it; the rest (ids, counts) grows the buffer at most once.
        let mut text = String::with_capacity(self.bundle_json.len());
        text.push_str("{\"withheld\":[");
        for (i, w) in self.withheld.iter().enumerate() {
            text.push_str(if i == 0 { "{\"id\":" } else { ",{\"id\":" });
            write_string(&w.id, &mut text);
            let _ = write!(
                text,
                ",\"index\":{},\"reason\":\"{}\",\"rule\":",
                w.index,
                w.reason.code()
            );
            write_string(w.rule, &mut text);
            text.push('}');
        }
        let s = &self.stats;
        let _ = write!(text, "],\"leaks\":{},\"retract\":[", self.leaks);
        for (i, id) in self.retract.iter().enumerate() {
            if i > 0 {
                text.push(',');
            }
            write_string(id, &mut text);
        }
        let _ = write!(
            text,
            "],\"stats\":{{\"input\":{},\"returned\":{},\"elementsRemoved\":{},\"serverTotal\":",
            s.input, s.returned, s.elements_removed
        );
        match s.server_total {
            Some(t) => drop(write!(text, "{t}")),
            None => text.push_str("null"),
        }
        text.push_str(",\"byReason\":{");
        for (i, (code, n)) in s.by_reason.iter().enumerate() {
            let _ = write!(text, "{}\"{code}\":{n}", if i == 0 { "" } else { "," });
        }
        text.push_str("}},\"bundle\":");
        text.push_str(&self.bundle_json);
        text.push('}');
        text
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Reason, Stats, Withheld};
    use super::*;
    use serde_json::{json, Value};

    #[test]
    fn the_outcome_text_is_the_json_the_wrapper_reads() {
        let mut stats = Stats {
            input: 3,
            returned: 1,
            elements_removed: 2,
            server_total: Some(3),
            ..Stats::default()
        };
        stats.by_reason.insert("PATIENT_BLOCK", 2);
        let o = Outcome {
            bundle_json: "{\"resourceType\":\"Bundle\",\"entry\":[]}".into(),
            withheld: vec![Withheld {
                id: "a\"b".into(),
                index: 1,
                reason: Reason::PatientBlock,
                rule: "the patient blocked it",
            }],
            leaks: 0,
            retract: vec!["x".into(), "y".into()],
            stats,
        };
        let v: Value = serde_json::from_str(&o.to_json_text()).unwrap();
        assert_eq!(
            v,
            json!({
                "withheld": [{ "id": "a\"b", "index": 1, "reason": "PATIENT_BLOCK", "rule": "the patient blocked it" }],
                "leaks": 0, "retract": ["x", "y"],
                "stats": { "input": 3, "returned": 1, "elementsRemoved": 2, "serverTotal": 3, "byReason": { "PATIENT_BLOCK": 2 } },
                "bundle": { "resourceType": "Bundle", "entry": [] },
            })
        );
        let empty = Outcome {
            bundle_json: "{}".into(),
            withheld: vec![],
            leaks: 1,
            retract: vec![],
            stats: Stats::default(),
        };
        let v: Value = serde_json::from_str(&empty.to_json_text()).unwrap();
        assert_eq!(v["stats"]["serverTotal"], Value::Null);
    }
}
