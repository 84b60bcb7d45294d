//! FHIR R4 AuditEvents in the shapes of IHE BALP and the MHD Document Consumer audit
//! profiles: ITI-67 search = PatientQuery (`action` E), ITI-68 retrieve = PatientRead
//! (`action` R), token request = the IUA/BALP token profile; and, for a practitioner's
//! look-up, HL7 Norway's trust-framework profile (see [`super::norway`]).
//!
//! Agents: the app (client), the server, the user (`requestor: true`, with `purposeOfUse`).
//! Entities: the patient, the query or document, the transaction id (`nhn-event-id`, so the
//! consumer's and the source's logs join), the token by `jti` only, and the care
//! relationship (`decision_ref`, healthcare service, purpose details) so an auditor sees *why*.

use crate::canon::{Items, Members};
use crate::error::{Error, ErrorCode, Result};
use crate::json::Obj;
use crate::trust::TrustContext;
use serde_json::Value;

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
    /// PJD's `nhn-access-basis`, if sent; a raised one is an emergency-class look-up.
    pub access_basis: Option<crate::client::AccessBasis>,
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

/// A look-up to log as the platform hands it over (owned; everything but the trust context,
/// which the caller keeps, and the time, which the platform's clock gives).
#[derive(Clone, Debug)]
pub struct EventInput {
    /// What was done.
    pub action: Action,
    /// How it ended (pending before the request).
    pub outcome: Outcome,
    /// The event id, if the caller chose it (else the platform makes a UUID).
    pub id: Option<String>,
    /// The app's client id.
    pub client_id: String,
    /// The server's base URL.
    pub server: String,
    /// The `nhn-event-id`.
    pub transaction_id: String,
    /// ITI-67 query string.
    pub query: Option<String>,
    /// ITI-68 document unique id.
    pub document_id: Option<String>,
    /// The access token's `jti`.
    pub token_jti: Option<String>,
    /// PJD's `nhn-access-basis`, if sent.
    pub access_basis: Option<crate::client::AccessBasis>,
    /// The completion, for a completed look-up.
    pub completion: Completion,
}

/// An event input's members as they arrive, typed by [`EventInput`]'s reader (read
/// straight from the batch text: a string member is one allocation, no JSON tree per event).
#[derive(Default)]
struct RawEvent {
    kind: Option<Value>,
    outcome: Option<Value>,
    id: Option<Value>,
    client_id: Option<Value>,
    server: Option<Value>,
    transaction_id: Option<Value>,
    query: Option<Value>,
    document_id: Option<Value>,
    token_jti: Option<Value>,
    access_basis: Option<Value>,
    completion: Option<Value>,
    trust_context: Option<Value>,
}

impl RawEvent {
    /// Reads one event object; members it does not know are read and passed over, a member
    /// given twice is an error (as it was for the serde reader this replaces).
    fn read(r: &mut crate::scan::Reader<'_>) -> Result<RawEvent> {
        let mut e = RawEvent::default();
        r.object(|r, name| {
            let slot = match &*name {
                "kind" => &mut e.kind,
                "outcome" => &mut e.outcome,
                "id" => &mut e.id,
                "clientId" => &mut e.client_id,
                "server" => &mut e.server,
                "transactionId" => &mut e.transaction_id,
                "query" => &mut e.query,
                "documentId" => &mut e.document_id,
                "tokenJti" => &mut e.token_jti,
                "accessBasis" => &mut e.access_basis,
                "completion" => &mut e.completion,
                "trustContext" => &mut e.trust_context,
                _ => return r.skip().map(drop),
            };
            if slot.is_some() {
                return Err(Error::new(
                    ErrorCode::InvalidArgument,
                    format!("event.{name}"),
                    "appears more than once",
                ));
            }
            *slot = Some(match r.peek()? {
                crate::scan::Kind::String => Value::String(r.string()?.into_owned()),
                // Numbers, objects and the rest: the value's own (validated) text, parsed.
                _ => serde_json::from_str(r.skip()?).map_err(|_| r_err())?,
            });
            Ok(())
        })?;
        Ok(e)
    }
}

fn r_err() -> Error {
    Error::new(
        ErrorCode::InvalidArgument,
        "events",
        "must be a JSON array of event objects",
    )
}

impl EventInput {
    /// Reads a batch: the JSON text of an array of event inputs `{ kind, outcome?, id?,
    /// clientId, server, transactionId, query?, documentId?, tokenJti?, completion? }`, each
    /// with `trustContext`, an index the caller resolves; returns `(index, input)` pairs.
    /// Errors name `event.<member>`.
    pub fn parse_batch(text: &str, max_bytes: usize) -> Result<Vec<(Option<u64>, Self)>> {
        if text.len() > max_bytes {
            return Err(Error::new(
                ErrorCode::InvalidArgument,
                "events",
                format!("must be at most {max_bytes} bytes"),
            ));
        }
        let mut r = crate::scan::Reader::new(text, 64, "events");
        let mut raw = Vec::new();
        let read = r.array(|r| {
            if r.peek()? != crate::scan::Kind::Object {
                return Err(r_err());
            }
            raw.push(RawEvent::read(r)?);
            Ok(())
        });
        match read.and_then(|()| r.end()) {
            Ok(()) => {}
            // A member given twice names itself, nesting past the limit says so; anything
            // else is not a batch.
            Err(e) if e.path().starts_with("event.") || e.code() == ErrorCode::InputTooLarge => {
                return Err(e)
            }
            Err(_) => return Err(r_err()),
        }
        raw.iter()
            .map(|r| {
                let ctx = r.trust_context.as_ref().and_then(Value::as_u64);
                Ok((ctx, Self::from_raw(r)?))
            })
            .collect()
    }

    fn from_raw(r: &RawEvent) -> Result<Self> {
        const MAX: usize = 8192;
        fn err(k: &'static str) -> impl Fn(String) -> Error {
            move |rule| Error::new(ErrorCode::InvalidArgument, format!("event.{k}"), rule)
        }
        let opt = |v: &Option<Value>, k: &'static str| -> Result<Option<String>> {
            Ok(crate::json::opt_str_in(v.as_ref(), MAX)
                .map_err(err(k))?
                .map(str::to_string))
        };
        let req = |v: &Option<Value>, k: &'static str| -> Result<String> {
            opt(v, k)?.ok_or_else(|| err(k)("is required".into()))
        };
        let kind = crate::json::opt_str_in(r.kind.as_ref(), 16)
            .map_err(err("kind"))?
            .ok_or_else(|| err("kind")("is required".into()))?;
        let action = Action::parse(kind)?;
        let outcome = Outcome::parse(
            crate::json::opt_str_in(r.outcome.as_ref(), 16)
                .map_err(err("outcome"))?
                .unwrap_or("pending"),
        )?;
        let mut completion = Completion::default();
        if let Some(v) = r.completion.as_ref().filter(|v| !v.is_null()) {
            let done = Obj::new(v, "event.completion", ErrorCode::InvalidArgument)?;
            completion.http_status = done.opt_u64("httpStatus")?.map(|s| s.min(999) as u16);
            completion.description = done
                .opt_str("description", MAX)?
                .map(|d| d.chars().take(200).collect());
            completion.returned = done.opt_u64("returned")?;
            completion.leaks = done.opt_u64("leaks")?;
            if let Some(w) = done.opt_obj("withheld")? {
                for k in w.keys() {
                    let n = w.opt_u64(k)?.ok_or_else(|| w.err(k, "must be a count"))?;
                    completion.withheld.push((k.clone(), n));
                }
                completion.withheld.sort();
            }
        }
        Ok(EventInput {
            action,
            outcome,
            id: opt(&r.id, "id")?,
            client_id: req(&r.client_id, "clientId")?,
            server: req(&r.server, "server")?,
            transaction_id: req(&r.transaction_id, "transactionId")?,
            query: opt(&r.query, "query")?,
            document_id: opt(&r.document_id, "documentId")?,
            token_jti: opt(&r.token_jti, "tokenJti")?,
            access_basis: opt(&r.access_basis, "accessBasis")?
                .map(|b| crate::client::AccessBasis::parse(&b, "event.accessBasis"))
                .transpose()?,
            completion,
        })
    }

    /// Writes this look-up's AuditEvent (see [`write_framed`]) with `id` and `recorded`;
    /// `frame` must have been written for `trust_context`.
    pub fn write_into(
        &self,
        out: &mut String,
        trust_context: &TrustContext,
        frame: &EventFrame,
        id: &str,
        recorded: &str,
    ) -> Result<()> {
        let l = LookUp {
            id,
            action: self.action,
            trust_context,
            client_id: &self.client_id,
            server: &self.server,
            transaction_id: &self.transaction_id,
            query: self.query.as_deref(),
            document_id: self.document_id.as_deref(),
            token_jti: self.token_jti.as_deref(),
            access_basis: self.access_basis,
            recorded,
        };
        write_framed(out, &l, self.outcome, &self.completion, frame)
    }
}

/// A Coding's members (`code`, `display`, `system`: canonical order).
fn coding(m: &mut Members<'_>, system: &str, code: &str, display: Option<&str>) {
    m.str("code", code)
        .opt_str("display", display)
        .str("system", system);
}

/// `{ "coding": [ … ] }` with one Coding.
fn concept(m: &mut Members<'_>, system: &str, code: &str, display: Option<&str>) {
    m.arr("coding", |a| {
        a.obj(|c| coding(c, system, code, display));
    });
}

fn detail(a: &mut Items<'_>, kind: &str, value: &str) {
    a.obj(|d| {
        d.str("type", kind).str("valueString", value);
    });
}

/// `{ "identifier": { "system"?, "value" } }`, with `display` before it when given.
fn who(m: &mut Members<'_>, display: Option<&str>, system: Option<&str>, value: &str) {
    m.opt_str("display", display).obj("identifier", |i| {
        i.opt_str("system", system).str("value", value);
    });
}

/// Checks what a look-up must carry before anything is written.
fn check(l: &LookUp<'_>) -> Result<()> {
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
    if l.action == Action::Read && l.document_id.is_none() {
        return Err(Error::new(
            ErrorCode::InvalidArgument,
            "event.documentId",
            "is required for a read",
        ));
    }
    if let Some(jti) = l.token_jti {
        if jti.len() > 256 || jti.contains('.') {
            return Err(Error::new(
                ErrorCode::InvalidArgument,
                "event.tokenJti",
                "must be a jti, never a token",
            ));
        }
    }
    Ok(())
}

/// Builds the AuditEvent for a look-up, with `outcome` (pending before the request), as a
/// JSON tree. The same event as [`write()`] (it is parsed from it).
pub fn build(l: &LookUp<'_>, outcome: Outcome, completion: &Completion) -> Result<Value> {
    let text = write(l, outcome, completion)?;
    Ok(serde_json::from_str(&text).expect("the writer writes JSON"))
}

/// The parts of an AuditEvent that depend only on who looks, with which app, at which
/// server (the agents, the patients, the care relationship, the purpose): written once per
/// (trust context, client, server) and reused for every look-up with them.
#[derive(Clone, Debug)]
pub struct EventFrame {
    client_id: String,
    server: String,
    /// The agents of a query or a token request (the client is DICOM's Source Role ID).
    agents: String,
    /// The agents of a read (the client is DICOM's Destination Role ID: BALP's Read).
    agents_read: String,
    patients: String,
    /// Whether the context names exactly one patient (BALP's `entity[patient]` is 1..1).
    one_patient: bool,
    care: String,
    purpose: String,
    /// HL7 Norway's profile parts (contained resources, extensions), see [`super::norway`].
    norway: super::norway::NorwayParts,
}

impl EventFrame {
    /// Writes the frame for `tc`, `client_id` and `server`.
    pub fn new(tc: &TrustContext, client_id: &str, server: &str) -> Self {
        let norway = super::norway::NorwayParts::new(tc);
        let agents_for = |client: (&str, &str), server_role: (&str, &str)| {
            let mut agents = String::with_capacity(1024);
            Items::write(&mut agents, |a| {
                a.obj(|m| {
                    m.raw("requestor", "false")
                        .obj("type", |t| concept(t, DCM, client.0, Some(client.1)))
                        .obj("who", |w| who(w, Some(client_id), None, client_id));
                });
                a.obj(|m| {
                    m.obj("network", |n| {
                        n.str("address", server).str("type", "5");
                    })
                    .raw("requestor", "false")
                    .obj("type", |t| {
                        concept(t, DCM, server_role.0, Some(server_role.1))
                    })
                    .obj("who", |w| {
                        w.str("display", server);
                    });
                });
                a.obj(|m| user_agent(m, tc, norway.has_role));
            });
            agents
        };
        // IHE BALP, input/fsh/PatientQuery.fsh: client 110153, server 110152;
        // input/fsh/PatientRead.fsh: client 110152, server 110153.
        const SOURCE: (&str, &str) = ("110153", "Source Role ID");
        const DESTINATION: (&str, &str) = ("110152", "Destination Role ID");
        let agents = agents_for(SOURCE, DESTINATION);
        let agents_read = agents_for(DESTINATION, SOURCE);
        let mut patients = String::new();
        Items::write(&mut patients, |a| {
            for p in tc.patients() {
                a.obj(|m| {
                    m.obj("role", |c| coding(c, OBJECT_ROLE, "1", Some("Patient")))
                        .obj("type", |c| coding(c, ENTITY_TYPE, "1", Some("Person")))
                        .obj("what", |w| who(w, None, Some(p.system()), p.as_str()));
                });
            }
        });
        // The items without the brackets.
        let patients = patients[1..patients.len() - 1].to_string();
        let mut care = String::new();
        if let Some(at) = tc.attestation() {
            Members::write(&mut care, |m| care_entity(m, at));
        }
        let mut purpose = String::new();
        if let Some(at) = tc.attestation() {
            Items::write(&mut purpose, |a| super::norway::purpose_of_event(a, at));
        }
        EventFrame {
            client_id: client_id.to_string(),
            server: server.to_string(),
            agents,
            agents_read,
            patients,
            one_patient: tc.patients().len() == 1,
            care,
            purpose,
            norway,
        }
    }

    /// Whether this frame was written for `client_id` and `server` (the caller keeps it with
    /// the trust context it was written for).
    pub fn is_for(&self, client_id: &str, server: &str) -> bool {
        self.client_id == client_id && self.server == server
    }
}

/// Writes the AuditEvent for a look-up directly in its RFC 8785 canonical form (members in
/// canonical order), which is what the hash chain stores: no JSON tree is built.
pub fn write(l: &LookUp<'_>, outcome: Outcome, completion: &Completion) -> Result<String> {
    let mut out = String::with_capacity(4096);
    write_into(&mut out, l, outcome, completion)?;
    Ok(out)
}

/// [`write()`] into `out` (the chain writes the event straight into its record's line).
pub fn write_into(
    out: &mut String,
    l: &LookUp<'_>,
    outcome: Outcome,
    completion: &Completion,
) -> Result<()> {
    let frame = EventFrame::new(l.trust_context, l.client_id, l.server);
    write_framed(out, l, outcome, completion, &frame)
}

/// [`write_into`] with the frame for the look-up's trust context, client and server
/// (see [`EventFrame`]), so only the parts that change per look-up are written.
pub fn write_framed(
    out: &mut String,
    l: &LookUp<'_>,
    outcome: Outcome,
    completion: &Completion,
    frame: &EventFrame,
) -> Result<()> {
    check(l)?;
    if !frame.is_for(l.client_id, l.server) {
        return Err(Error::new(
            ErrorCode::InvalidArgument,
            "event.clientId",
            "the event frame was written for another client or server",
        ));
    }
    let (profile, subtype, action): (&str, &[(&str, &str, &str)], &str) = match l.action {
        Action::Search => (
            "https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.PatientQuery",
            &[
                (
                    "http://hl7.org/fhir/restful-interaction",
                    "search",
                    "search",
                ),
                (
                    "urn:ihe:event-type-code",
                    "ITI-67",
                    "Find Document References",
                ),
            ],
            "E",
        ),
        Action::Read => (
            "https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.PatientRead",
            &[
                ("http://hl7.org/fhir/restful-interaction", "read", "read"),
                ("urn:ihe:event-type-code", "ITI-68", "Retrieve Document"),
            ],
            "R",
        ),
        // No BALP profile describes an OAuth token request made by the client: BALP's
        // SAMLaccessTokenUse.Minimal is a SAML token's *use* (input/fsh/SAMLaccessToken.fsh:
        // `agent[user].type = UserAgentTypes#UserSamlAgent`, `agent[user].policy 1..1`), and
        // IUA's ITI-71 record (input/fsh/IUAgetAccessToken.fsh) is DICOM 110114 with closed
        // entities. The token request follows the BALP pattern without claiming one.
        Action::Token => (
            "",
            &[(
                "urn:ietf:params:oauth",
                "token-request",
                "OAuth token request",
            )],
            "E",
        ),
    };
    let (code, desc) = match outcome {
        Outcome::Pending => (None, "pending: written before the request was sent"),
        Outcome::Success => (Some("0"), "success"),
        Outcome::Failure => (Some("4"), "failure"),
        Outcome::Error => (Some("8"), "error"),
    };
    let mut outcome_desc = desc.to_string();
    if let Some(s) = completion.http_status {
        outcome_desc.push_str(&format!("; HTTP {s}"));
    }
    if let Some(d) = &completion.description {
        outcome_desc.push_str("; ");
        outcome_desc.push_str(d);
    }
    Members::write(out, |ev| {
        ev.str("action", action);
        ev.raw(
            "agent",
            if l.action == Action::Read {
                &frame.agents_read
            } else {
                &frame.agents
            },
        );
        if !frame.norway.contained.is_empty() {
            ev.arr("contained", |a| {
                a.raw(&frame.norway.contained);
            });
        }
        ev.arr("entity", |a| entities(a, l, completion, frame));
        if !frame.norway.extension.is_empty() {
            ev.arr("extension", |a| {
                a.raw(&frame.norway.extension);
            });
        }
        ev.str("id", l.id);
        // BALP's PatientQuery and PatientRead record a *successful* look-up (IHE BALP,
        // input/fsh/PatientQuery.fsh, PatientRead.fsh: `outcome = #0`, `outcome 1..`; a
        // search's `entity[query].query 1..1`; `entity[patient]` 1..1): a pending, failed,
        // query-less or multi-patient record follows the pattern without claiming it.
        let balp = match l.action {
            Action::Token => false,
            Action::Search => outcome == Outcome::Success && l.query.is_some() && frame.one_patient,
            Action::Read => outcome == Outcome::Success && frame.one_patient,
        };
        if balp || frame.norway.conforms {
            ev.obj("meta", |m| {
                m.arr("profile", |p| {
                    if balp {
                        p.str(profile);
                    }
                    if frame.norway.conforms {
                        p.str(super::norway::PROFILE);
                    }
                });
            });
        }
        ev.opt_str("outcome", code);
        ev.str("outcomeDesc", &outcome_desc);
        if !frame.purpose.is_empty() {
            ev.raw("purposeOfEvent", &frame.purpose);
        }
        ev.str("recorded", l.recorded);
        ev.str("resourceType", "AuditEvent");
        ev.obj("source", |s| {
            s.obj("observer", |o| {
                o.str("display", "tillit");
            })
            .arr("type", |t| {
                t.obj(|c| {
                    coding(
                        c,
                        "http://terminology.hl7.org/CodeSystem/security-source-type",
                        "4",
                        Some("Application Server"),
                    )
                });
            });
        });
        ev.arr("subtype", |a| {
            for (system, code, display) in subtype {
                a.obj(|c| coding(c, system, code, Some(display)));
            }
        });
        ev.obj("type", |c| {
            coding(
                c,
                "http://terminology.hl7.org/CodeSystem/audit-event-type",
                "rest",
                Some("RESTful Operation"),
            )
        });
    });
    Ok(())
}

/// The entities: the patients, the care relationship, the query or document, the
/// transaction id, and the token by `jti`.
fn entities(a: &mut Items<'_>, l: &LookUp<'_>, completion: &Completion, frame: &EventFrame) {
    // What the frame holds (the patient, the care relationship) comes first and what changes
    // per look-up after it: records of one frame then begin with the same bytes for longer,
    // which the browser path's hashing reuses (see `midstate::Prefix`).
    if !frame.patients.is_empty() {
        a.raw(&frame.patients);
    }
    if !frame.care.is_empty() {
        a.raw(&frame.care);
    }
    match l.action {
        Action::Search => {
            // BALP's query entity carries no detail (input/fsh/PatientQuery.fsh:
            // `entity[query].detail 0..0`): the minimisation counts have their own entity.
            a.obj(|m| {
                if let Some(query) = l.query {
                    m.str(
                        "query",
                        &<base64ct::Base64 as base64ct::Encoding>::encode_string(query.as_bytes()),
                    );
                }
                m.obj("role", |c| coding(c, OBJECT_ROLE, "24", Some("Query")))
                    .obj("type", |c| {
                        coding(c, ENTITY_TYPE, "2", Some("System Object"))
                    });
            });
            let has_details = completion.returned.is_some()
                || !completion.withheld.is_empty()
                || completion.leaks.is_some();
            if has_details {
                a.obj(|m| {
                    m.arr("detail", |d| {
                        if let Some(n) = completion.returned {
                            detail(d, "returned", &n.to_string());
                        }
                        for (reason, n) in &completion.withheld {
                            detail(d, &format!("withheld:{reason}"), &n.to_string());
                        }
                        if let Some(n) = completion.leaks {
                            detail(d, "leaks", &n.to_string());
                        }
                    })
                    .str("name", "minimisation of the answer")
                    .obj("type", |c| {
                        coding(c, DETAIL_SYSTEM, MINIMISATION_CODE, Some("minimisation"))
                    });
                });
            }
        }
        Action::Read => {
            let doc = l.document_id.unwrap_or_default();
            a.obj(|m| {
                m.obj("role", |c| coding(c, OBJECT_ROLE, "3", Some("Report")))
                    .obj("type", |c| {
                        coding(c, ENTITY_TYPE, "2", Some("System Object"))
                    })
                    .obj("what", |w| who(w, None, None, doc));
            });
        }
        Action::Token => {}
    }
    a.obj(|m| {
        m.obj("type", |c| {
            coding(c, BALP_ENTITY, "XrequestId", Some("X-Request-Id"))
        })
        .obj("what", |w| who(w, None, None, l.transaction_id));
    });
    if let Some(jti) = l.token_jti {
        a.obj(|m| {
            m.obj("type", |c| {
                coding(c, BALP_ENTITY, "OAuth2", Some("OAuth2 access token"))
            })
            .obj("what", |w| {
                who(w, None, None, &format!("urn:ietf:params:oauth:jti:{jti}"))
            });
        });
    }
    if let Some(b) = l.access_basis {
        // PJD's access basis; a raised (FORHOYET_*) one opened what the patient blocked.
        a.obj(|m| {
            // Members in canonical (sorted) order.
            if b.is_raised() {
                m.str(
                    "description",
                    "raised access basis: emergency-class look-up",
                );
            }
            m.obj("type", |c| {
                coding(
                    c,
                    ACCESS_BASIS_SYSTEM,
                    ACCESS_BASIS_CODE,
                    Some("nhn-access-basis"),
                )
            })
            .obj("what", |w| {
                who(w, None, Some(ACCESS_BASIS_SYSTEM), b.code())
            });
        });
    }
}

/// Code (in [`DETAIL_SYSTEM`]) of the entity that holds a search's minimisation counts.
pub const MINIMISATION_CODE: &str = "minimisation";

/// System and code of the entity that records PJD's `nhn-access-basis`.
pub const ACCESS_BASIS_SYSTEM: &str = "urn:tillit:pjd";
/// See [`ACCESS_BASIS_SYSTEM`].
pub const ACCESS_BASIS_CODE: &str = "access-basis";

/// The care relationship entity: why the look-up was allowed.
fn care_entity(m: &mut Members<'_>, at: &crate::trust::Attestation) {
    let c = &at.care_relationship;
    m.arr("detail", |d| {
        detail(d, "decision_ref", &c.decision_ref.id);
        detail(
            d,
            "user_selected",
            if c.decision_ref.user_selected {
                "true"
            } else {
                "false"
            },
        );
        if let Some(desc) = &c.decision_ref.description {
            detail(d, "decision_description", desc);
        }
        if let Some((h, _)) = &c.healthcare_service {
            detail(
                d,
                "healthcare_service",
                &format!("{}|{}", h.system(), h.code()),
            );
        }
        if let Some((p, _)) = &c.purpose_of_use_details {
            detail(
                d,
                "purpose_of_use_details",
                &format!("{}|{}", p.system(), p.code()),
            );
        }
        detail(
            d,
            "legal_entity",
            at.practitioner.legal_entity.orgnr.as_str(),
        );
        detail(
            d,
            "point_of_care",
            at.practitioner.point_of_care.orgnr.as_str(),
        );
    })
    .str("name", "care relationship (tillitsrammeverk attestation)")
    .obj("role", |r| {
        coding(r, OBJECT_ROLE, "13", Some("Security Resource"))
    })
    .obj("type", |t| coding(t, ENTITY_TYPE, "4", Some("Other")));
}

/// The user: the practitioner (HPR number, authorisation, point of care, purpose of use) or
/// the citizen (and whom they represent).
/// The user agent's type: BALP's `information recipient` (IHE BALP, input/fsh/PatientQuery.fsh
/// and PatientRead.fsh: `agent[user].type = v3-ParticipationType#IRCP`), and a human user.
fn user_type(t: &mut Members<'_>) {
    t.arr("coding", |a| {
        a.obj(|c| {
            coding(
                c,
                "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                "IRCP",
                Some("information recipient"),
            )
        });
        a.obj(|c| {
            coding(
                c,
                "http://terminology.hl7.org/CodeSystem/extra-security-role-type",
                "humanuser",
                Some("human user"),
            )
        });
    });
}

fn user_agent(m: &mut Members<'_>, tc: &TrustContext, has_role: bool) {
    match tc {
        TrustContext::Practitioner(a) => {
            let p = &a.practitioner;
            // The narrow attestation names neither: HelseID took the user from the login,
            // and the token (its jti is in this event) names them.
            let user = match (&p.hpr_nr, &p.identifier) {
                (Some((h, _)), _) => Some((crate::ident::SYSTEM_HPR, h.as_str())),
                (None, Some(i)) => Some((i.id.system(), i.id.as_str())),
                (None, None) => None,
            };
            let org = &p.point_of_care;
            let c = &a.care_relationship;
            m.obj("location", |w| {
                who(
                    w,
                    org.extras.get("name"),
                    Some(crate::ident::SYSTEM_ORGNR),
                    org.orgnr.as_str(),
                )
            })
            .arr("purposeOfUse", |u| {
                let (pou, x) = &c.purpose_of_use;
                u.obj(|k| {
                    concept(
                        k,
                        crate::codes::SYSTEM_ACT_REASON,
                        pou.code(),
                        x.get("text"),
                    )
                });
            })
            .raw("requestor", "true");
            if let Some((auth, x)) = &p.authorization {
                m.arr("role", |r| {
                    r.obj(|k| {
                        concept(
                            k,
                            crate::codes::SYSTEM_AUTHORIZATION,
                            auth.code(),
                            x.get("text"),
                        )
                    });
                });
            }
            m.obj("type", user_type).obj("who", |w| {
                let name = p.identifier.as_ref().and_then(|i| i.extras.get("name"));
                match user {
                    Some((system, value)) => {
                        who(w, name, Some(system), value);
                        // HL7 Norway: the user is the practitioner's role (contained).
                        if has_role {
                            w.str("reference", super::norway::ROLE_REF);
                        }
                    }
                    None => {
                        w.str(
                            "display",
                            "the user of the HelseID login (named by the token)",
                        );
                    }
                }
            });
        }
        TrustContext::Citizen(c) => {
            m.arr("purposeOfUse", |u| {
                u.obj(|k| {
                    concept(
                        k,
                        "http://terminology.hl7.org/CodeSystem/v3-ActReason",
                        "PATADMIN",
                        Some("patient's own access"),
                    )
                });
            })
            .raw("requestor", "true");
            if let Some((_, basis)) = &c.represented {
                m.arr("role", |r| {
                    r.obj(|k| {
                        concept(
                            k,
                            "urn:tillit:representation",
                            basis.code(),
                            Some(basis.code()),
                        )
                    });
                });
            }
            m.obj("type", user_type).obj("who", |w| {
                who(w, None, Some(c.citizen.id.system()), c.citizen.id.as_str())
            });
        }
    }
}

/// A fresh UUID v4 from 16 random bytes.
pub fn uuid_v4(mut b: [u8; 16]) -> String {
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = super::chain::hex(&b);
    let mut s = String::with_capacity(36);
    for (i, part) in [0..8, 8..12, 12..16, 16..20, 20..32]
        .into_iter()
        .enumerate()
    {
        if i > 0 {
            s.push('-');
        }
        s.push_str(&h[part]);
    }
    s
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
