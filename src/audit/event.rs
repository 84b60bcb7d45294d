//! FHIR R4 AuditEvents in the shapes of IHE BALP and the MHD Document Consumer audit
//! profiles: ITI-67 search = PatientQuery (`action` E), ITI-68 retrieve = PatientRead
//! (`action` R), token request = the IUA/BALP token profile.
//!
//! Agents: the app (client), the server, the user (`requestor: true`, with `purposeOfUse`).
//! Entities: the patient, the query or document, the transaction id (`nhn-event-id`, so the
//! consumer's and the source's logs join), the token by `jti` only, and the care
//! relationship (`decision_ref`, healthcare service, purpose details) so an auditor sees *why*.

use crate::error::{Error, ErrorCode, Result};
use crate::trust::{Extras, TrustContext};
use serde_json::{json, Map, Value};

const DCM: &str = "http://dicom.nema.org/resources/ontology/DCM";
const ENTITY_TYPE: &str = "http://terminology.hl7.org/CodeSystem/audit-entity-type";
const OBJECT_ROLE: &str = "http://terminology.hl7.org/CodeSystem/object-role";
const BALP_ENTITY: &str = "https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType";
/// tillit's own entity-detail types (care relationship, minimisation counts).
pub const DETAIL_SYSTEM: &str = "urn:tillit:audit-detail";

/// What was done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// ITI-67 Find Document References.
    Search,
    /// ITI-68 Retrieve Document.
    Read,
    /// A token request at HelseID.
    Token,
}

impl Action {
    /// Parses `search`, `read` or `token`.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "search" => Ok(Action::Search),
            "read" => Ok(Action::Read),
            "token" => Ok(Action::Token),
            _ => Err(Error::new(
                ErrorCode::InvalidArgument,
                "event.kind",
                "must be search, read or token",
            )),
        }
    }

    /// The wire name.
    pub const fn name(self) -> &'static str {
        match self {
            Action::Search => "search",
            Action::Read => "read",
            Action::Token => "token",
        }
    }
}

/// How it ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Written before the request is sent; the request may or may not have happened.
    Pending,
    /// Succeeded.
    Success,
    /// The server refused or failed (FHIR outcome 4, minor failure).
    Failure,
    /// The request could not be completed (time-out, network: outcome 8, serious failure).
    Error,
}

impl Outcome {
    /// Parses `pending`, `success`, `failure` or `error`.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "pending" => Ok(Outcome::Pending),
            "success" => Ok(Outcome::Success),
            "failure" => Ok(Outcome::Failure),
            "error" => Ok(Outcome::Error),
            _ => Err(Error::new(
                ErrorCode::InvalidArgument,
                "outcome",
                "must be pending, success, failure or error",
            )),
        }
    }

    /// The wire name.
    pub const fn name(self) -> &'static str {
        match self {
            Outcome::Pending => "pending",
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Error => "error",
        }
    }
}

/// A look-up to log.
#[derive(Clone, Debug)]
pub struct LookUp<'a> {
    /// The event's id (a UUID).
    pub id: &'a str,
    /// What was done.
    pub action: Action,
    /// Who and why.
    pub trust_context: &'a TrustContext,
    /// The app's client id.
    pub client_id: &'a str,
    /// The server's base URL or host.
    pub server: &'a str,
    /// The `nhn-event-id` sent with the request (the transaction id).
    pub transaction_id: &'a str,
    /// The query string (ITI-67), kept base64-encoded as BALP wants.
    pub query: Option<&'a str>,
    /// The document's unique id (ITI-68).
    pub document_id: Option<&'a str>,
    /// The access token's `jti` (never the token).
    pub token_jti: Option<&'a str>,
    /// RFC 3339 UTC time the entry is recorded.
    pub recorded: &'a str,
}

/// The completion of a look-up.
#[derive(Clone, Debug, Default)]
pub struct Completion {
    /// HTTP status, if a response came.
    pub http_status: Option<u16>,
    /// A short description of the outcome (no personal data).
    pub description: Option<String>,
    /// Entries returned after minimisation.
    pub returned: Option<u64>,
    /// Entries withheld, by reason code.
    pub withheld: Vec<(String, u64)>,
    /// Entries about other patients (leaks) the server sent.
    pub leaks: Option<u64>,
}

fn coding(system: &str, code: &str, display: &str) -> Value {
    json!({ "system": system, "code": code, "display": display })
}

fn detail(kind: &str, value: impl Into<String>) -> Value {
    json!({ "type": kind, "valueString": value.into() })
}

fn code_pair(code: &str, system: &str, extras: &Extras) -> Value {
    let mut c = json!({ "system": system, "code": code });
    if let Some(t) = extras.get("text") {
        c["display"] = json!(t);
    }
    c
}

/// Builds the AuditEvent for a look-up, with `outcome` (pending before the request).
pub fn build(l: &LookUp<'_>, outcome: Outcome, completion: &Completion) -> Result<Value> {
    if l.transaction_id.is_empty() || l.transaction_id.len() > 128 {
        return Err(Error::new(
            ErrorCode::InvalidArgument,
            "event.transactionId",
            "must be 1 to 128 characters (the nhn-event-id)",
        ));
    }
    if l.client_id.is_empty() || l.server.is_empty() {
        return Err(Error::new(
            ErrorCode::InvalidArgument,
            "event.clientId",
            "client id and server are required",
        ));
    }
    let (profile, subtype, action) = match l.action {
        Action::Search => (
            "https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.PatientQuery",
            vec![coding("http://hl7.org/fhir/restful-interaction", "search", "search"), coding("urn:ihe:event-type-code", "ITI-67", "Find Document References")],
            "E",
        ),
        Action::Read => (
            "https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.PatientRead",
            vec![coding("http://hl7.org/fhir/restful-interaction", "read", "read"), coding("urn:ihe:event-type-code", "ITI-68", "Retrieve Document")],
            "R",
        ),
        Action::Token => (
            "https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.SAMLaccessTokenUse.Minimal",
            vec![coding("urn:ietf:params:oauth", "token-request", "OAuth token request")],
            "E",
        ),
    };
    let mut ev = Map::new();
    ev.insert("resourceType".into(), json!("AuditEvent"));
    ev.insert("id".into(), json!(l.id));
    ev.insert("meta".into(), json!({ "profile": [profile] }));
    ev.insert(
        "type".into(),
        coding(
            "http://terminology.hl7.org/CodeSystem/audit-event-type",
            "rest",
            "RESTful Operation",
        ),
    );
    ev.insert("subtype".into(), Value::Array(subtype));
    ev.insert("action".into(), json!(action));
    ev.insert("recorded".into(), json!(l.recorded));
    let (code, desc) = match outcome {
        Outcome::Pending => (None, "pending: written before the request was sent"),
        Outcome::Success => (Some("0"), "success"),
        Outcome::Failure => (Some("4"), "failure"),
        Outcome::Error => (Some("8"), "error"),
    };
    if let Some(c) = code {
        ev.insert("outcome".into(), json!(c));
    }
    let mut outcome_desc = desc.to_string();
    if let Some(s) = completion.http_status {
        outcome_desc.push_str(&format!("; HTTP {s}"));
    }
    if let Some(d) = &completion.description {
        outcome_desc.push_str("; ");
        outcome_desc.push_str(d);
    }
    ev.insert("outcomeDesc".into(), json!(outcome_desc));

    let purpose = l.trust_context.purpose_of_use();
    if let Some(p) = purpose {
        ev.insert(
            "purposeOfEvent".into(),
            json!([{ "coding": [coding(p.system(), p.code(), p.code())] }]),
        );
    }

    let mut agents = vec![
        json!({
            "type": { "coding": [coding(DCM, "110153", "Source Role ID")] },
            "who": { "identifier": { "value": l.client_id }, "display": l.client_id },
            "requestor": false
        }),
        json!({
            "type": { "coding": [coding(DCM, "110152", "Destination Role ID")] },
            "who": { "display": l.server },
            "requestor": false,
            "network": { "address": l.server, "type": "5" }
        }),
    ];
    agents.push(user_agent(l.trust_context));
    ev.insert("agent".into(), Value::Array(agents));
    ev.insert(
        "source".into(),
        json!({ "observer": { "display": "tillit" }, "type": [coding("http://terminology.hl7.org/CodeSystem/security-source-type", "4", "Application Server")] }),
    );

    let mut entities = Vec::new();
    for p in l.trust_context.patients() {
        entities.push(json!({
            "what": { "identifier": { "system": p.system(), "value": p.as_str() } },
            "type": coding(ENTITY_TYPE, "1", "Person"),
            "role": coding(OBJECT_ROLE, "1", "Patient")
        }));
    }
    match l.action {
        Action::Search => {
            let mut q = json!({ "type": coding(ENTITY_TYPE, "2", "System Object"), "role": coding(OBJECT_ROLE, "24", "Query") });
            if let Some(query) = l.query {
                q["query"] = json!(<base64ct::Base64 as base64ct::Encoding>::encode_string(
                    query.as_bytes()
                ));
            }
            let mut details = Vec::new();
            if let Some(n) = completion.returned {
                details.push(detail("returned", n.to_string()));
            }
            for (reason, n) in &completion.withheld {
                details.push(detail(&format!("withheld:{reason}"), n.to_string()));
            }
            if let Some(n) = completion.leaks {
                details.push(detail("leaks", n.to_string()));
            }
            if !details.is_empty() {
                q["detail"] = Value::Array(details);
            }
            entities.push(q);
        }
        Action::Read => {
            let doc = l.document_id.ok_or_else(|| {
                Error::new(
                    ErrorCode::InvalidArgument,
                    "event.documentId",
                    "is required for a read",
                )
            })?;
            entities.push(json!({
                "what": { "identifier": { "value": doc } },
                "type": coding(ENTITY_TYPE, "2", "System Object"),
                "role": coding(OBJECT_ROLE, "3", "Report")
            }));
        }
        Action::Token => {}
    }
    entities.push(json!({
        "what": { "identifier": { "value": l.transaction_id } },
        "type": coding(BALP_ENTITY, "XrequestId", "X-Request-Id")
    }));
    if let Some(jti) = l.token_jti {
        if jti.len() > 256 || jti.contains('.') {
            return Err(Error::new(
                ErrorCode::InvalidArgument,
                "event.tokenJti",
                "must be a jti, never a token",
            ));
        }
        entities.push(json!({
            "what": { "identifier": { "value": format!("urn:ietf:params:oauth:jti:{jti}") } },
            "type": coding(BALP_ENTITY, "OAuth2", "OAuth2 access token")
        }));
    }
    if let Some(a) = l.trust_context.attestation() {
        let c = &a.care_relationship;
        let mut d = vec![
            detail("decision_ref", c.decision_ref.id.clone()),
            detail("user_selected", c.decision_ref.user_selected.to_string()),
        ];
        if let Some(desc) = &c.decision_ref.description {
            d.push(detail("decision_description", desc.clone()));
        }
        if let Some((h, _)) = &c.healthcare_service {
            d.push(detail(
                "healthcare_service",
                format!("{}|{}", h.system(), h.code()),
            ));
        }
        if let Some((p, _)) = &c.purpose_of_use_details {
            d.push(detail(
                "purpose_of_use_details",
                format!("{}|{}", p.system(), p.code()),
            ));
        }
        d.push(detail(
            "legal_entity",
            a.practitioner.legal_entity.orgnr.as_str(),
        ));
        d.push(detail(
            "point_of_care",
            a.practitioner.point_of_care.orgnr.as_str(),
        ));
        entities.push(json!({
            "type": coding(ENTITY_TYPE, "4", "Other"),
            "role": coding(OBJECT_ROLE, "13", "Security Resource"),
            "name": "care relationship (tillitsrammeverk attestation)",
            "detail": d
        }));
    }
    ev.insert("entity".into(), Value::Array(entities));
    Ok(Value::Object(ev))
}

fn user_agent(tc: &TrustContext) -> Value {
    match tc {
        TrustContext::Practitioner(a) => {
            let p = &a.practitioner;
            let (system, value) = match &p.hpr_nr {
                Some((h, _)) => (crate::ident::SYSTEM_HPR, h.as_str()),
                None => (p.identifier.id.system(), p.identifier.id.as_str()),
            };
            let mut who = json!({ "identifier": { "system": system, "value": value } });
            if let Some(name) = p.identifier.extras.get("name") {
                who["display"] = json!(name);
            }
            let mut roles = Vec::new();
            if let Some((auth, x)) = &p.authorization {
                roles.push(json!({ "coding": [code_pair(auth.code(), crate::codes::SYSTEM_AUTHORIZATION, x)] }));
            }
            let c = &a.care_relationship;
            let mut agent = json!({
                "type": { "coding": [coding("http://terminology.hl7.org/CodeSystem/extra-security-role-type", "humanuser", "human user")] },
                "who": who,
                "requestor": true,
                "purposeOfUse": [{ "coding": [code_pair(c.purpose_of_use.0.code(), c.purpose_of_use.0.system(), &c.purpose_of_use.1)] }]
            });
            if !roles.is_empty() {
                agent["role"] = Value::Array(roles);
            }
            let org = &p.point_of_care;
            let mut location = json!({ "identifier": { "system": crate::ident::SYSTEM_ORGNR, "value": org.orgnr.as_str() } });
            if let Some(n) = org.extras.get("name") {
                location["display"] = json!(n);
            }
            agent["location"] = location;
            agent
        }
        TrustContext::Citizen(c) => {
            let mut agent = json!({
                "type": { "coding": [coding("http://terminology.hl7.org/CodeSystem/extra-security-role-type", "humanuser", "human user")] },
                "who": { "identifier": { "system": c.citizen.id.system(), "value": c.citizen.id.as_str() } },
                "requestor": true,
                "purposeOfUse": [{ "coding": [coding("http://terminology.hl7.org/CodeSystem/v3-ActReason", "PATADMIN", "patient's own access")] }]
            });
            if let Some((_, basis)) = &c.represented {
                agent["role"] = json!([{ "coding": [coding("urn:tillit:representation", basis.code(), basis.code())] }]);
            }
            agent
        }
    }
}

/// A fresh UUID v4 from 16 random bytes.
pub fn uuid_v4(mut b: [u8; 16]) -> String {
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// RFC 3339 UTC timestamp with milliseconds from unix milliseconds.
pub fn rfc3339(unix_ms: u64) -> String {
    let d = crate::fhirtime::Day::from_unix(unix_ms / 1000);
    let s = (unix_ms / 1000) % 86_400;
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        d.year,
        d.month,
        d.day,
        s / 3600,
        (s / 60) % 60,
        s % 60,
        unix_ms % 1000
    )
}
