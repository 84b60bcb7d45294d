//! The trust context: who looks, why, and at whom.
//!
//! A practitioner's context is the trust framework's attestation
//! (`type: "nhn:tillitsrammeverk:parameters"`); a citizen's context (helsenorge-style: their
//! own record, or a child's or ward's by representation) uses the same API but is never sent
//! to HelseID as an attestation.
//!
//! Parsing accepts NHN's sample wire shape (what tillit produces) and the spec v1.1 wrapped
//! form (`attestation: { toa, practitioner, care_relation, patients }`); serialising always
//! produces the sample shape, so a valid sample-shaped input round-trips unchanged.
//!
//! **The narrow attestation.** NHN's own clients (the reference EHR in
//! NorskHelsenett/Pasientens-journaldokumenter, `HomeController.cs` `BuildAttestJson`; the
//! Kjernejournal client, `Pasientvalg.kt`) leave out `practitioner.identifier` and `hpr_nr`
//! (HelseID takes the user from the login) and send `patients: [{point_of_care}]`. Both are
//! optional here; where the flow cannot carry the user (client_credentials acting for a
//! person) [`TrustContext::check_grant`] refuses an attestation without the user.

use crate::codes::{
    Authorization, HealthcareService, PurposeDetails, PurposeOfUse, SYSTEM_AUTHORIZATION,
    SYSTEM_PURPOSE_OF_USE,
};
use crate::error::{Error, ErrorCode, Result};
use crate::ident::{
    HprNr, NationalId, NationalIdKind, OrgNr, SYSTEM_HPR, SYSTEM_ORGNR, SYSTEM_RESH,
};
use crate::json::Obj;
use serde_json::{json, Map, Value};

/// The attestation's `type`.
pub const TYPE_TRUST_FRAMEWORK: &str = "nhn:tillitsrammeverk:parameters";
/// The multi-tenant organisation entry's `type`.
pub const TYPE_HELSEID_AUTHORIZATION: &str = "helseid_authorization";
/// tillit's citizen context `type` (never sent to HelseID).
pub const TYPE_CITIZEN: &str = "tillit:citizen";
/// System of the multi-tenant organisation identifier.
pub const SYSTEM_ORG_ICD: &str = "urn:oid:1.0.6523";
/// Longest life of an attestation, in seconds (60 minutes).
pub const MAX_ATTESTATION_AGE_SECS: u64 = crate::limits::MAX_ATTESTATION_AGE_SECS;

const CODE: ErrorCode = ErrorCode::InvalidTrustContext;
const MAX_TEXT: usize = 512;

/// Display members HelseID or the consumer may attach to an identifier or code
/// (`name`/`authority` on identifiers, `text`/`assigner` on codes). Kept so input round-trips.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Extras(Vec<(&'static str, String)>);

impl Extras {
    fn read(o: &Obj<'_>, keys: &[&'static str]) -> Result<Self> {
        let mut out = Vec::new();
        for k in keys {
            // A display member may be empty: the trust framework's example #2
            // (NorskHelsenett/Tillitsrammeverk, specs/informasjons_og_datamodell.md, 8.2) sends
            // `"text": ""`; it carries no rule, and it round-trips as sent.
            if o.get(k) == Some(&Value::String(String::new())) {
                out.push((*k, String::new()));
            } else if let Some(s) = o.opt_str(k, MAX_TEXT)? {
                out.push((*k, s.to_string()));
            }
        }
        Ok(Extras(out))
    }

    fn write(&self, m: &mut Map<String, Value>) {
        for (k, v) in &self.0 {
            m.insert((*k).to_string(), Value::String(v.clone()));
        }
    }

    /// A display member, if present (`name`, `text`, `assigner`, `authority`).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }
}

const ID_KEYS: [&str; 4] = ["id", "system", "name", "authority"];
const CODE_KEYS: [&str; 4] = ["code", "system", "text", "assigner"];

fn read_id<'a>(o: &Obj<'a>) -> Result<(&'a str, &'a str, Extras)> {
    o.only(&ID_KEYS)?;
    Ok((
        o.req_str("id", 64)?,
        o.req_str("system", 128)?,
        Extras::read(o, &["name", "authority"])?,
    ))
}

fn read_code<'a>(o: &Obj<'a>) -> Result<(&'a str, &'a str, Extras)> {
    o.only(&CODE_KEYS)?;
    Ok((
        o.req_str("code", 64)?,
        o.req_str("system", 128)?,
        Extras::read(o, &["text", "assigner"])?,
    ))
}

fn write_pair(k1: &str, v1: &str, system: &str, extras: &Extras) -> Value {
    let mut m = Map::new();
    m.insert(k1.to_string(), Value::String(v1.to_string()));
    m.insert("system".to_string(), Value::String(system.to_string()));
    extras.write(&mut m);
    Value::Object(m)
}

/// A national id with its display members.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PersonRef {
    /// The parsed national id.
    pub id: NationalId,
    /// Display members.
    pub extras: Extras,
}

impl PersonRef {
    fn read(o: &Obj<'_>) -> Result<Self> {
        let (id, system, extras) = read_id(o)?;
        let id = NationalId::parse_with_system(id, system, o.path())?;
        Ok(PersonRef { id, extras })
    }

    fn write(&self) -> Value {
        write_pair("id", self.id.as_str(), self.id.system(), &self.extras)
    }
}

/// An organisation (legal entity or point of care) by organisation number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrgRef {
    /// The organisation number.
    pub orgnr: OrgNr,
    /// Display members.
    pub extras: Extras,
}

impl OrgRef {
    fn read(o: &Obj<'_>) -> Result<Self> {
        let (id, system, extras) = read_id(o)?;
        if system != SYSTEM_ORGNR {
            return Err(o.err(
                "system",
                "must be the organisation-number OID urn:oid:2.16.578.1.12.4.1.4.101",
            ));
        }
        Ok(OrgRef {
            orgnr: OrgNr::parse(id, &o.at("id"))?,
            extras,
        })
    }

    fn write(&self) -> Value {
        write_pair("id", self.orgnr.as_str(), SYSTEM_ORGNR, &self.extras)
    }
}

/// A department: a RESH id, or a local id whose `authority` is the legal entity's org number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Department {
    /// RESH id (digits).
    Resh {
        /// The RESH id.
        id: String,
        /// Display members.
        extras: Extras,
    },
    /// A local id in a local system, vouched for by an organisation.
    Local {
        /// The local id.
        id: String,
        /// The local system's identifier.
        system: String,
        /// The organisation that issues the local ids.
        authority: OrgNr,
        /// `name`, if given.
        name: Option<String>,
    },
}

impl Department {
    fn read(o: &Obj<'_>) -> Result<Self> {
        let (id, system, extras) = read_id(o)?;
        if system == SYSTEM_RESH {
            if id.len() > 12 || !id.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Error::new(
                    ErrorCode::InvalidIdentifier,
                    o.at("id"),
                    "a RESH id is 1 to 12 digits",
                ));
            }
            return Ok(Department::Resh {
                id: id.to_string(),
                extras,
            });
        }
        let authority = extras.get("authority").ok_or_else(|| {
            o.err(
                "authority",
                "is required for a local department id: the legal entity's organisation number",
            )
        })?;
        let authority = OrgNr::parse(authority, &o.at("authority"))?;
        Ok(Department::Local {
            id: id.to_string(),
            system: system.to_string(),
            authority,
            name: extras.get("name").map(String::from),
        })
    }

    fn write(&self) -> Value {
        match self {
            Department::Resh { id, extras } => write_pair("id", id, SYSTEM_RESH, extras),
            Department::Local {
                id,
                system,
                authority,
                name,
            } => {
                let mut m = Map::new();
                m.insert("id".into(), json!(id));
                m.insert("system".into(), json!(system));
                if let Some(n) = name {
                    m.insert("name".into(), json!(n));
                }
                m.insert("authority".into(), json!(authority.as_str()));
                Value::Object(m)
            }
        }
    }
}

/// The practitioner: who is looking.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Practitioner {
    /// National id of the logged-in user (must match HelseID's login); left out in the
    /// narrow attestation, where HelseID takes the user from the login.
    pub identifier: Option<PersonRef>,
    /// HPR number, if the person is in HPR.
    pub hpr_nr: Option<(HprNr, Extras)>,
    /// Authorisation (profession), if authorised.
    pub authorization: Option<(Authorization, Extras)>,
    /// The legal entity (main organisation).
    pub legal_entity: OrgRef,
    /// The point of care (unit), equal to the legal entity where there are no sub-units.
    pub point_of_care: OrgRef,
    /// The department, if any.
    pub department: Option<Department>,
}

/// The local decision that granted access.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecisionRef {
    /// The decision's id in the consumer's system (reproducible on request).
    pub id: String,
    /// A machine-generated description.
    pub description: Option<String>,
    /// Whether the user granted access to themselves.
    pub user_selected: bool,
}

/// Why the practitioner looks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CareRelationship {
    /// The healthcare service delivered.
    pub healthcare_service: Option<(HealthcareService, Extras)>,
    /// The purpose of use.
    pub purpose_of_use: (PurposeOfUse, Extras),
    /// Care-relation or Volven 9151 details.
    pub purpose_of_use_details: Option<(PurposeDetails, Extras)>,
    /// The local access decision.
    pub decision_ref: DecisionRef,
}

/// A patient the context covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Patient {
    /// The patient's national id; NHN's clients may send only the point of care
    /// (`patients: [{point_of_care}]`) or an empty entry (`patients: [{}]`).
    pub identifier: Option<PersonRef>,
    /// Where the patient is treated.
    pub point_of_care: Option<OrgRef>,
    /// The patient's department.
    pub department: Option<Department>,
}

/// The practitioner's attestation (`nhn:tillitsrammeverk:parameters`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attestation {
    /// Who is looking.
    pub practitioner: Practitioner,
    /// Why.
    pub care_relationship: CareRelationship,
    /// At whom (may be empty).
    pub patients: Vec<Patient>,
    /// Time of attestation, unix seconds, if stated.
    pub toa: Option<u64>,
}

/// How a citizen acts for someone else.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RepresentationBasis {
    /// Parent of a child under 16.
    Parent,
    /// Appointed guardian (verge).
    Guardian,
    /// Power of attorney (fullmakt).
    PowerOfAttorney,
}

impl RepresentationBasis {
    /// The wire code.
    pub const fn code(self) -> &'static str {
        match self {
            RepresentationBasis::Parent => "parent",
            RepresentationBasis::Guardian => "guardian",
            RepresentationBasis::PowerOfAttorney => "power_of_attorney",
        }
    }
}

/// A citizen reading their own record or one they represent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CitizenContext {
    /// The logged-in citizen.
    pub citizen: PersonRef,
    /// The person represented, with the basis.
    pub represented: Option<(PersonRef, RepresentationBasis)>,
    /// When the context was made, unix seconds, if stated.
    pub toa: Option<u64>,
}

/// Who looks and why: a practitioner's attestation or a citizen's own access.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrustContext {
    /// A health-care practitioner, with the trust framework's attestation.
    Practitioner(Box<Attestation>),
    /// A citizen.
    Citizen(CitizenContext),
}

/// The organisation a client acts for (`helseid_authorization`), sent on its own in
/// client_credentials as NHN's libraries do (NorskHelsenett/HelseID.Library,
/// `HelseId.Library/Services/PayloadClaimCreators/StructuredClaims/OrganizationNumberCreatorFor{Multi,Single}TenantClient.cs`;
/// NorskHelsenett/HelseID.Library.Java, `client/src/main/java/no/helseid/clientassertion/HelseIdAuthorizationClaimUtil.java`).
///
/// A multi-tenant client names the parent (legal entity) and optionally the child, system
/// `urn:oid:1.0.6523`, value `NO:ORGNR:<parent>:<child>`. Without a child the two libraries
/// disagree: .NET writes `NO:ORGNR:<parent>:` (trailing colon), Java `NO:ORGNR:<parent>`.
/// tillit writes the .NET form and reads both. A single-tenant client names only the child,
/// system `urn:oid:2.16.578.1.12.4.1.4.101`, value the plain organisation number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantOrganisation {
    /// The parent (legal) organisation; `None` for a single-tenant client (HelseID knows its
    /// parent from the client's registration).
    pub parent: Option<OrgNr>,
    /// The child organisation; required for a single-tenant client.
    pub child: Option<OrgNr>,
}

impl TenantOrganisation {
    /// A multi-tenant client's organisation.
    pub fn multi(parent: OrgNr, child: Option<OrgNr>) -> Self {
        TenantOrganisation {
            parent: Some(parent),
            child,
        }
    }

    /// A multi-tenant client's organisation when `parent` is given (`child` optional), else
    /// a single-tenant client's `child`; neither is an error at `path`.
    pub fn from_parts(parent: Option<OrgNr>, child: Option<OrgNr>, path: &str) -> Result<Self> {
        match (parent, child) {
            (Some(p), c) => Ok(Self::multi(p, c)),
            (None, Some(c)) => Ok(Self::single(c)),
            (None, None) => Err(Error::new(
                ErrorCode::InvalidArgument,
                path,
                "needs parent (multi-tenant, child optional) or child (single-tenant)",
            )),
        }
    }

    /// A single-tenant client's child organisation.
    pub fn single(child: OrgNr) -> Self {
        TenantOrganisation {
            parent: None,
            child: Some(child),
        }
    }

    /// The wire form.
    pub fn to_json(&self) -> Value {
        let (system, value) = match (&self.parent, &self.child) {
            (Some(p), Some(c)) => (
                SYSTEM_ORG_ICD,
                format!("NO:ORGNR:{}:{}", p.as_str(), c.as_str()),
            ),
            // HelseID.Library (.NET): the parent alone ends with a colon.
            (Some(p), None) => (SYSTEM_ORG_ICD, format!("NO:ORGNR:{}:", p.as_str())),
            (None, Some(c)) => (SYSTEM_ORGNR, c.as_str().to_string()),
            (None, None) => unreachable!("a tenant names a parent or a child"),
        };
        json!({
            "type": TYPE_HELSEID_AUTHORIZATION,
            "practitioner_role": { "organization": { "identifier": {
                "system": system, "type": "ENH", "value": value
            }}}
        })
    }

    /// Parses the wire form (both libraries' parent-only values, and the single-tenant form).
    pub fn from_json(v: &Value) -> Result<Self> {
        let o = Obj::new(v, "$", CODE)?;
        o.only(&["type", "practitioner_role"])?;
        if o.req_str("type", 64)? != TYPE_HELSEID_AUTHORIZATION {
            return Err(o.err("type", "must be helseid_authorization"));
        }
        let role = o.req_obj("practitioner_role")?;
        role.only(&["organization"])?;
        let org = role.req_obj("organization")?;
        org.only(&["identifier"])?;
        let id = org.req_obj("identifier")?;
        id.only(&["system", "type", "value"])?;
        if id.req_str("type", 16)? != "ENH" {
            return Err(id.err("type", "must be ENH"));
        }
        let value = id.req_str("value", 64)?;
        match id.req_str("system", 64)? {
            SYSTEM_ORGNR => Ok(TenantOrganisation::single(OrgNr::parse(
                value,
                &id.at("value"),
            )?)),
            SYSTEM_ORG_ICD => {
                let rest = value
                    .strip_prefix("NO:ORGNR:")
                    .ok_or_else(|| id.err("value", "must start with NO:ORGNR:"))?;
                let (parent, child) = match rest.split_once(':') {
                    None => (rest, None),
                    Some((p, "")) => (p, None),
                    Some((p, c)) => (p, Some(c)),
                };
                let parent = OrgNr::parse(parent, &id.at("value"))?;
                let child = child
                    .map(|c| {
                        if c.contains(':') {
                            return Err(id.err(
                                "value",
                                "must be NO:ORGNR:<parent>, NO:ORGNR:<parent>: or NO:ORGNR:<parent>:<child>",
                            ));
                        }
                        OrgNr::parse(c, &id.at("value"))
                    })
                    .transpose()?;
                Ok(TenantOrganisation::multi(parent, child))
            }
            _ => Err(id.err(
                "system",
                "must be urn:oid:1.0.6523 (multi-tenant) or urn:oid:2.16.578.1.12.4.1.4.101 (single-tenant)",
            )),
        }
    }
}

/// ATT-10 (NorskHelsenett/Tillitsrammeverk, `specs/forretningsregler_for_bruk_av_attestering.md`):
/// the practitioner is identified by fødselsnummer or D-number only, and any other identifier
/// SKAL be refused (an H-number is not in the population register).
fn read_practitioner_id(o: &Obj<'_>) -> Result<PersonRef> {
    let p = PersonRef::read(o)?;
    if !matches!(p.id.kind(), NationalIdKind::Fnr | NationalIdKind::Dnr) {
        return Err(Error::new(
            ErrorCode::InvalidIdentifier,
            o.at("system"),
            "ATT-10: a practitioner is identified by fødselsnummer or D-number only (urn:oid:2.16.578.1.12.4.1.4.1 or …4.1.4.2)",
        ));
    }
    Ok(p)
}

fn read_practitioner(o: &Obj<'_>) -> Result<Practitioner> {
    o.only(&[
        "identifier",
        "hpr_nr",
        "authorization",
        "legal_entity",
        "point_of_care",
        "department",
    ])?;
    let identifier = o
        .opt_obj("identifier")?
        .map(|i| read_practitioner_id(&i))
        .transpose()?;
    let hpr_nr = match o.opt_obj("hpr_nr")? {
        Some(h) => {
            let (id, system, extras) = read_id(&h)?;
            if system != SYSTEM_HPR {
                return Err(h.err(
                    "system",
                    "must be the HPR OID urn:oid:2.16.578.1.12.4.1.4.4",
                ));
            }
            Some((HprNr::parse(id, &h.at("id"))?, extras))
        }
        None => None,
    };
    let authorization = match o.opt_obj("authorization")? {
        Some(a) => {
            let (code, system, extras) = read_code(&a)?;
            Some((Authorization::parse(code, system, a.path())?, extras))
        }
        None => None,
    };
    let legal_entity = OrgRef::read(&o.req_obj("legal_entity")?)?;
    let point_of_care = OrgRef::read(&o.req_obj("point_of_care")?)?;
    let department = o
        .opt_obj("department")?
        .map(|d| Department::read(&d))
        .transpose()?;
    Ok(Practitioner {
        identifier,
        hpr_nr,
        authorization,
        legal_entity,
        point_of_care,
        department,
    })
}

fn read_care(o: &Obj<'_>) -> Result<CareRelationship> {
    o.only(&[
        "healthcare_service",
        "purpose_of_use",
        "purpose_of_use_details",
        "decision_ref",
    ])?;
    let healthcare_service = match o.opt_obj("healthcare_service")? {
        Some(h) => {
            let (code, system, extras) = read_code(&h)?;
            Some((HealthcareService::parse(code, system, h.path())?, extras))
        }
        None => None,
    };
    let pou = o.req_obj("purpose_of_use")?;
    let (code, system, extras) = read_code(&pou)?;
    if system != SYSTEM_PURPOSE_OF_USE {
        return Err(pou.err("system", "must be urn:oid:2.16.840.1.113883.1.11.20448"));
    }
    let purpose_of_use = (PurposeOfUse::parse(code, &pou.at("code"))?, extras);
    let purpose_of_use_details = match o.opt_obj("purpose_of_use_details")? {
        Some(d) => {
            let (code, system, extras) = read_code(&d)?;
            Some((PurposeDetails::parse(code, system, d.path())?, extras))
        }
        None => None,
    };
    if healthcare_service.is_none() && purpose_of_use_details.is_none() {
        return Err(Error::new(
            CODE,
            o.path(),
            "needs healthcare_service or purpose_of_use_details (or both)",
        ));
    }
    let d = o.req_obj("decision_ref")?;
    d.only(&["id", "description", "user_selected"])?;
    let decision_ref = DecisionRef {
        id: d.req_str("id", 256)?.to_string(),
        description: d.opt_str("description", MAX_TEXT)?.map(String::from),
        user_selected: d.opt_bool("user_selected")?.ok_or_else(|| {
            d.err(
                "user_selected",
                "is required (true when the user granted access to themselves)",
            )
        })?,
    };
    Ok(CareRelationship {
        healthcare_service,
        purpose_of_use,
        purpose_of_use_details,
        decision_ref,
    })
}

fn read_patients(o: &Obj<'_>, key: &str) -> Result<Vec<Patient>> {
    let arr = o.req_array(key)?;
    if arr.len() > 100 {
        return Err(o.err(key, "lists more than 100 patients"));
    }
    arr.iter()
        .enumerate()
        .map(|(i, v)| {
            let p = Obj::new(v, format!("{}[{i}]", o.at(key)), CODE)?;
            p.only(&["identifier", "point_of_care", "department"])?;
            Ok(Patient {
                identifier: p
                    .opt_obj("identifier")?
                    .map(|x| PersonRef::read(&x))
                    .transpose()?,
                point_of_care: p
                    .opt_obj("point_of_care")?
                    .map(|x| OrgRef::read(&x))
                    .transpose()?,
                department: p
                    .opt_obj("department")?
                    .map(|x| Department::read(&x))
                    .transpose()?,
            })
        })
        .collect()
}

impl Attestation {
    fn read_body(o: &Obj<'_>, care_key: &str, toa: Option<u64>) -> Result<Self> {
        Ok(Attestation {
            practitioner: read_practitioner(&o.req_obj("practitioner")?)?,
            care_relationship: read_care(&o.req_obj(care_key)?)?,
            patients: read_patients(o, "patients")?,
            toa,
        })
    }

    /// The sample wire shape.
    pub fn to_json(&self) -> Value {
        let p = &self.practitioner;
        let mut pm = Map::new();
        if let Some(i) = &p.identifier {
            pm.insert("identifier".into(), i.write());
        }
        if let Some((h, x)) = &p.hpr_nr {
            pm.insert("hpr_nr".into(), write_pair("id", h.as_str(), SYSTEM_HPR, x));
        }
        if let Some((a, x)) = &p.authorization {
            pm.insert(
                "authorization".into(),
                write_pair("code", a.code(), SYSTEM_AUTHORIZATION, x),
            );
        }
        pm.insert("legal_entity".into(), p.legal_entity.write());
        pm.insert("point_of_care".into(), p.point_of_care.write());
        if let Some(d) = &p.department {
            pm.insert("department".into(), d.write());
        }
        let c = &self.care_relationship;
        let mut cm = Map::new();
        if let Some((h, x)) = &c.healthcare_service {
            cm.insert(
                "healthcare_service".into(),
                write_pair("code", h.code(), h.system(), x),
            );
        }
        cm.insert(
            "purpose_of_use".into(),
            write_pair(
                "code",
                c.purpose_of_use.0.code(),
                SYSTEM_PURPOSE_OF_USE,
                &c.purpose_of_use.1,
            ),
        );
        if let Some((d, x)) = &c.purpose_of_use_details {
            cm.insert(
                "purpose_of_use_details".into(),
                write_pair("code", d.code(), d.system(), x),
            );
        }
        let mut dm = Map::new();
        dm.insert("id".into(), json!(c.decision_ref.id));
        if let Some(d) = &c.decision_ref.description {
            dm.insert("description".into(), json!(d));
        }
        dm.insert("user_selected".into(), json!(c.decision_ref.user_selected));
        cm.insert("decision_ref".into(), Value::Object(dm));
        let patients: Vec<Value> = self
            .patients
            .iter()
            .map(|pt| {
                let mut m = Map::new();
                if let Some(i) = &pt.identifier {
                    m.insert("identifier".into(), i.write());
                }
                if let Some(o) = &pt.point_of_care {
                    m.insert("point_of_care".into(), o.write());
                }
                if let Some(d) = &pt.department {
                    m.insert("department".into(), d.write());
                }
                Value::Object(m)
            })
            .collect();
        let mut m = Map::new();
        m.insert("type".into(), json!(TYPE_TRUST_FRAMEWORK));
        m.insert("practitioner".into(), Value::Object(pm));
        m.insert("care_relationship".into(), Value::Object(cm));
        m.insert("patients".into(), Value::Array(patients));
        if let Some(t) = self.toa {
            m.insert("toa".into(), json!(t));
        }
        Value::Object(m)
    }
}

impl CitizenContext {
    fn read(o: &Obj<'_>) -> Result<Self> {
        o.only(&["type", "citizen", "represented", "toa"])?;
        let c = o.req_obj("citizen")?;
        c.only(&["identifier"])?;
        let citizen = PersonRef::read(&c.req_obj("identifier")?)?;
        let represented = match o.opt_obj("represented")? {
            Some(r) => {
                r.only(&["identifier", "basis"])?;
                let who = PersonRef::read(&r.req_obj("identifier")?)?;
                let basis = match r.req_str("basis", 32)? {
                    "parent" => RepresentationBasis::Parent,
                    "guardian" => RepresentationBasis::Guardian,
                    "power_of_attorney" => RepresentationBasis::PowerOfAttorney,
                    _ => {
                        return Err(r.err("basis", "must be parent, guardian or power_of_attorney"))
                    }
                };
                if who.id == citizen.id {
                    return Err(r.err(
                        "identifier",
                        "a citizen does not represent themselves; leave out represented",
                    ));
                }
                Some((who, basis))
            }
            None => None,
        };
        Ok(CitizenContext {
            citizen,
            represented,
            toa: o.opt_u64("toa")?,
        })
    }

    fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("type".into(), json!(TYPE_CITIZEN));
        m.insert(
            "citizen".into(),
            json!({ "identifier": self.citizen.write() }),
        );
        if let Some((who, basis)) = &self.represented {
            m.insert(
                "represented".into(),
                json!({ "identifier": who.write(), "basis": basis.code() }),
            );
        }
        if let Some(t) = self.toa {
            m.insert("toa".into(), json!(t));
        }
        Value::Object(m)
    }
}

impl TrustContext {
    /// Parses a trust context: the sample shape, the spec's wrapped form, or a citizen context.
    pub fn from_json(v: &Value) -> Result<Self> {
        let o = Obj::new(v, "$", CODE)?;
        match o.req_str("type", 64)? {
            TYPE_TRUST_FRAMEWORK => {
                if let Some(inner) = o.opt_obj("attestation")? {
                    o.only(&["type", "attestation"])?;
                    inner.only(&[
                        "toa",
                        "practitioner",
                        "care_relation",
                        "care_relationship",
                        "patients",
                    ])?;
                    let care_key = if inner.get("care_relation").is_some() {
                        "care_relation"
                    } else {
                        "care_relationship"
                    };
                    if inner.get("care_relation").is_some()
                        && inner.get("care_relationship").is_some()
                    {
                        return Err(inner.err(
                            "care_relation",
                            "give care_relation or care_relationship, not both",
                        ));
                    }
                    let toa = inner.opt_u64("toa")?;
                    Ok(TrustContext::Practitioner(Box::new(
                        Attestation::read_body(&inner, care_key, toa)?,
                    )))
                } else {
                    o.only(&[
                        "type",
                        "practitioner",
                        "care_relationship",
                        "patients",
                        "toa",
                    ])?;
                    let toa = o.opt_u64("toa")?;
                    Ok(TrustContext::Practitioner(Box::new(
                        Attestation::read_body(&o, "care_relationship", toa)?,
                    )))
                }
            }
            TYPE_CITIZEN => Ok(TrustContext::Citizen(CitizenContext::read(&o)?)),
            _ => Err(o.err(
                "type",
                "must be nhn:tillitsrammeverk:parameters or tillit:citizen",
            )),
        }
    }

    /// The wire form (NHN's sample shape for practitioners).
    pub fn to_json(&self) -> Value {
        match self {
            TrustContext::Practitioner(a) => a.to_json(),
            TrustContext::Citizen(c) => c.to_json(),
        }
    }

    /// The patients this context covers: the attestation's, or the citizen (or whom they represent).
    pub fn patients(&self) -> Vec<&NationalId> {
        match self {
            TrustContext::Practitioner(a) => a
                .patients
                .iter()
                .filter_map(|p| p.identifier.as_ref().map(|i| &i.id))
                .collect(),
            TrustContext::Citizen(c) => match &c.represented {
                Some((who, _)) => vec![&who.id],
                None => vec![&c.citizen.id],
            },
        }
    }

    /// The time of attestation, if stated.
    pub fn toa(&self) -> Option<u64> {
        match self {
            TrustContext::Practitioner(a) => a.toa,
            TrustContext::Citizen(c) => c.toa,
        }
    }

    /// The purpose of use (citizens read their own record: `None`).
    pub fn purpose_of_use(&self) -> Option<PurposeOfUse> {
        match self {
            TrustContext::Practitioner(a) => Some(a.care_relationship.purpose_of_use.0),
            TrustContext::Citizen(_) => None,
        }
    }

    /// The attestation, for a practitioner.
    pub fn attestation(&self) -> Option<&Attestation> {
        match self {
            TrustContext::Practitioner(a) => Some(a),
            TrustContext::Citizen(_) => None,
        }
    }

    /// Checks the 60-minute rule at `now` (unix seconds), with `skew_secs` tolerance for a
    /// `toa` slightly in the future. A context without `toa` is taken as made at `now`.
    pub fn check_fresh(&self, now: u64, skew_secs: u64) -> Result<()> {
        let Some(toa) = self.toa() else { return Ok(()) };
        if toa > now.saturating_add(skew_secs) {
            return Err(Error::new(
                ErrorCode::AttestationExpired,
                "$.toa",
                format!("lies more than {skew_secs} s in the future"),
            ));
        }
        if now.saturating_sub(toa) > MAX_ATTESTATION_AGE_SECS {
            return Err(Error::new(
                ErrorCode::AttestationExpired,
                "$.toa",
                "is more than 60 minutes old: make a new attestation",
            ));
        }
        Ok(())
    }

    /// A new context for other patients, stamped with `now` as its time of attestation
    /// (the trust framework wants a new attestation whenever the patient changes).
    pub fn with_patients(&self, patients: Vec<Patient>, now: u64) -> Result<Self> {
        match self {
            TrustContext::Practitioner(a) => {
                Ok(TrustContext::Practitioner(Box::new(Attestation {
                    patients,
                    toa: Some(now),
                    ..(**a).clone()
                })))
            }
            TrustContext::Citizen(_) => Err(Error::new(
                ErrorCode::InvalidArgument,
                "patients",
                "a citizen context's patient is the citizen or whom they represent",
            )),
        }
    }

    /// Whether this context may be sent to HelseID as an attestation.
    pub fn is_attestation(&self) -> bool {
        matches!(self, TrustContext::Practitioner(_))
    }
}

/// The OAuth grant a token request uses, as far as the attestation's rules care.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grant {
    /// `authorization_code`: the user logged in.
    AuthorizationCode,
    /// `refresh_token`: continues a user login.
    RefreshToken,
    /// RFC 8693 token exchange: the subject token carries the user.
    TokenExchange,
    /// `client_credentials`: no user login.
    ClientCredentials,
}

impl Grant {
    /// Reads a `grant_type`; anything else is refused.
    pub fn parse(s: &str, path: &str) -> Result<Self> {
        Ok(match s {
            "authorization_code" => Grant::AuthorizationCode,
            "refresh_token" => Grant::RefreshToken,
            "urn:ietf:params:oauth:grant-type:token-exchange" => Grant::TokenExchange,
            "client_credentials" => Grant::ClientCredentials,
            _ => {
                return Err(Error::new(
                    ErrorCode::InvalidArgument,
                    path,
                    "must be authorization_code, refresh_token, client_credentials or urn:ietf:params:oauth:grant-type:token-exchange",
                ))
            }
        })
    }

    /// Whether HelseID knows the user from the flow itself (a login, or a token from one).
    pub const fn carries_user(self) -> bool {
        !matches!(self, Grant::ClientCredentials)
    }
}

impl TrustContext {
    /// Whether this attestation may be sent in a token request of `grant`. The narrow
    /// attestation NHN's clients send (no `practitioner.identifier`: HelseID takes the user
    /// from the login) needs a flow that carries the user; client_credentials acting for a
    /// person must name the person (trust framework ATT-10, ATT-11: the identifier is compared
    /// with the authenticated user, and without a login there is nothing to take it from).
    pub fn check_grant(&self, grant: Grant) -> Result<()> {
        let TrustContext::Practitioner(a) = self else {
            return Ok(());
        };
        if a.practitioner.identifier.is_none() && !grant.carries_user() {
            return Err(Error::new(
                CODE,
                "$.practitioner.identifier",
                "is required in client_credentials acting for a person: HelseID takes the user from the login only in authorization_code, refresh_token and token exchange",
            ));
        }
        Ok(())
    }
}

/// Parses one patient entry (`{identifier, point_of_care?, department?}`) for [`TrustContext::with_patients`].
pub fn parse_patients(v: &Value) -> Result<Vec<Patient>> {
    let wrapper = json!({ "patients": v });
    let o = Obj::new(&wrapper, "$", CODE)?;
    read_patients(&o, "patients")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::ident::national_id_check_digits;

    /// A valid synthetic number of 1985 whose month is `month_base` + 0..11, from a seed.
    fn synthetic_id(seed: u32, month_base: u32) -> String {
        let day = 1 + seed % 28;
        let month = month_base + (seed / 28) % 12;
        for ind in (seed % 400)..500 {
            let s = format!("{day:02}{month:02}85{ind:03}");
            let d: Vec<u32> = s.bytes().map(|b| u32::from(b - b'0')).collect();
            if let Some((k1, k2)) = national_id_check_digits(&d.try_into().unwrap()) {
                return format!("{s}{k1}{k2}");
            }
        }
        unreachable!()
    }

    /// A valid synthetic national id (month + 80) for tests, from a seed.
    pub fn synthetic_fnr(seed: u32) -> String {
        synthetic_id(seed, 81)
    }

    /// A valid H-number (month + 40, the help numbers), for ATT-10's refusal.
    pub fn synthetic_hnr(seed: u32) -> String {
        synthetic_id(seed, 41)
    }

    pub fn sample(patient: &str) -> Value {
        json!({
            "type": "nhn:tillitsrammeverk:parameters",
            "practitioner": {
                "identifier": {"id": synthetic_fnr(7), "system": "urn:oid:2.16.578.1.12.4.1.4.1"},
                "hpr_nr": {"id": "9144900", "system": "urn:oid:2.16.578.1.12.4.1.4.4"},
                "authorization": {"code": "LE", "system": "urn:oid:2.16.578.1.12.4.1.1.9060"},
                "legal_entity": {"id": "974760673", "system": "urn:oid:2.16.578.1.12.4.1.4.101", "name": "Testsykehuset HF"},
                "point_of_care": {"id": "974760673", "system": "urn:oid:2.16.578.1.12.4.1.4.101"},
                "department": {"id": "705592", "system": "urn:oid:2.16.578.1.12.4.1.4.102"}
            },
            "care_relationship": {
                "healthcare_service": {"code": "S03", "system": "urn:oid:2.16.578.1.12.4.1.1.8655"},
                "purpose_of_use": {"code": "TREAT", "system": "urn:oid:2.16.840.1.113883.1.11.20448"},
                "purpose_of_use_details": {"code": "BEHANDLER", "system": "urn:AuditEventHL7Norway/CodeSystem/carerelation"},
                "decision_ref": {"id": "dec-123", "description": "Innlagt pasient", "user_selected": false}
            },
            "patients": [{"identifier": {"id": patient, "system": "urn:oid:2.16.578.1.12.4.1.4.1"}}]
        })
    }

    fn mutate(f: impl FnOnce(&mut Value)) -> Result<TrustContext> {
        let mut v = sample(&synthetic_fnr(1));
        f(&mut v);
        TrustContext::from_json(&v)
    }

    fn expect_err(f: impl FnOnce(&mut Value), path: &str, rule_part: &str) {
        let e = mutate(f).unwrap_err();
        assert_eq!(e.path(), path, "{e}");
        assert!(e.rule().contains(rule_part), "{e}");
    }

    #[test]
    fn sample_round_trips_unchanged() {
        let v = sample(&synthetic_fnr(1));
        let tc = TrustContext::from_json(&v).unwrap();
        assert_eq!(tc.to_json(), v);
        assert_eq!(
            serde_json::to_string(&tc.to_json()).unwrap(),
            serde_json::to_string(&v).unwrap()
        );
    }

    #[test]
    fn wrapped_spec_form_is_accepted() {
        let s = sample(&synthetic_fnr(1));
        let wrapped = json!({
            "type": "nhn:tillitsrammeverk:parameters",
            "attestation": {
                "toa": 1_700_000_000u64,
                "practitioner": s["practitioner"],
                "care_relation": s["care_relationship"],
                "patients": s["patients"],
            }
        });
        let tc = TrustContext::from_json(&wrapped).unwrap();
        assert_eq!(tc.toa(), Some(1_700_000_000));
        let mut expected = s.clone();
        expected["toa"] = json!(1_700_000_000u64);
        assert_eq!(tc.to_json(), expected);
    }

    #[test]
    fn every_field_is_checked() {
        expect_err(|v| v["type"] = json!("x"), "$.type", "must be");
        // ATT-10 (NorskHelsenett/Tillitsrammeverk, specs/forretningsregler_for_bruk_av_attestering.md):
        // fødselsnummer or D-number only; an H-number SKAL be refused.
        expect_err(
            |v| {
                v["practitioner"]["identifier"] =
                    json!({"id": synthetic_hnr(5), "system": "urn:oid:2.16.578.1.12.4.1.4.3"})
            },
            "$.practitioner.identifier.system",
            "ATT-10",
        );
        expect_err(
            |v| v["practitioner"]["identifier"]["id"] = json!("12345678901"),
            "$.practitioner.identifier.id",
            "check digit",
        );
        expect_err(
            |v| v["practitioner"]["identifier"]["system"] = json!("urn:oid:2.16.578.1.12.4.1.4.2"),
            "$.practitioner.identifier.id",
            "system says",
        );
        expect_err(
            |v| v["practitioner"]["hpr_nr"]["id"] = json!("x1"),
            "$.practitioner.hpr_nr.id",
            "digits",
        );
        expect_err(
            |v| v["practitioner"]["hpr_nr"]["system"] = json!("urn:oid:1"),
            "$.practitioner.hpr_nr.system",
            "HPR",
        );
        expect_err(
            |v| v["practitioner"]["authorization"]["code"] = json!("lege"),
            "$.practitioner.authorization.code",
            "Volven 9060",
        );
        expect_err(
            |v| v["practitioner"]["legal_entity"]["id"] = json!("974760674"),
            "$.practitioner.legal_entity.id",
            "check digit",
        );
        expect_err(
            |v| {
                v["practitioner"]["legal_entity"]["system"] =
                    json!("urn:oid:2.16.578.1.12.4.1.4.102")
            },
            "$.practitioner.legal_entity.system",
            "organisation-number",
        );
        expect_err(
            |v| {
                v["practitioner"]
                    .as_object_mut()
                    .unwrap()
                    .remove("point_of_care")
                    .map(|_| ())
                    .unwrap()
            },
            "$.practitioner.point_of_care",
            "required",
        );
        expect_err(
            |v| v["practitioner"]["department"]["id"] = json!("70A"),
            "$.practitioner.department.id",
            "RESH",
        );
        expect_err(
            |v| v["practitioner"]["department"] = json!({"id": "avd-7", "system": "urn:local:x"}),
            "$.practitioner.department.authority",
            "required",
        );
        expect_err(
            |v| v["practitioner"]["extra"] = json!(1),
            "$.practitioner.extra",
            "not a member",
        );
        expect_err(
            |v| v["care_relationship"]["purpose_of_use"]["code"] = json!("HMARKT"),
            "$.care_relationship.purpose_of_use.code",
            "TREAT",
        );
        expect_err(
            |v| v["care_relationship"]["purpose_of_use"]["system"] = json!("urn:x"),
            "$.care_relationship.purpose_of_use.system",
            "20448",
        );
        expect_err(
            |v| {
                v["care_relationship"]["healthcare_service"]["system"] =
                    json!("urn:oid:2.16.578.1.12.4.1.1.8628")
            },
            "$.care_relationship.healthcare_service.system",
            "healthcare-service",
        );
        expect_err(
            |v| v["care_relationship"]["purpose_of_use_details"]["code"] = json!("NABO"),
            "$.care_relationship.purpose_of_use_details.code",
            "BEHANDLER",
        );
        expect_err(
            |v| {
                let c = v["care_relationship"].as_object_mut().unwrap();
                c.remove("healthcare_service");
                c.remove("purpose_of_use_details");
            },
            "$.care_relationship",
            "healthcare_service or purpose_of_use_details",
        );
        expect_err(
            |v| {
                v["care_relationship"]["decision_ref"]
                    .as_object_mut()
                    .unwrap()
                    .remove("id")
                    .map(|_| ())
                    .unwrap()
            },
            "$.care_relationship.decision_ref.id",
            "required",
        );
        expect_err(
            |v| v["care_relationship"]["decision_ref"]["user_selected"] = json!("no"),
            "$.care_relationship.decision_ref.user_selected",
            "boolean",
        );
        expect_err(
            |v| {
                v["care_relationship"]["decision_ref"]
                    .as_object_mut()
                    .unwrap()
                    .remove("user_selected")
                    .map(|_| ())
                    .unwrap()
            },
            "$.care_relationship.decision_ref.user_selected",
            "required",
        );
        expect_err(|v| v["patients"] = json!({}), "$.patients", "array");
        expect_err(
            |v| v["patients"][0]["identifier"]["id"] = json!("0101"),
            "$.patients[0].identifier.id",
            "11 digits",
        );
        expect_err(
            |v| {
                v["patients"][0]["point_of_care"] =
                    json!({"id": "123", "system": "urn:oid:2.16.578.1.12.4.1.4.101"})
            },
            "$.patients[0].point_of_care.id",
            "9 digits",
        );
        expect_err(|v| v["toa"] = json!(-5), "$.toa", "non-negative");
    }

    #[test]
    fn empty_patients_allowed_and_optional_fields() {
        let tc = mutate(|v| {
            v["patients"] = json!([]);
            v["practitioner"].as_object_mut().unwrap().remove("hpr_nr");
            v["practitioner"]
                .as_object_mut()
                .unwrap()
                .remove("authorization");
            v["practitioner"]
                .as_object_mut()
                .unwrap()
                .remove("department");
            v["care_relationship"]
                .as_object_mut()
                .unwrap()
                .remove("healthcare_service");
        })
        .unwrap();
        assert!(tc.patients().is_empty());
    }

    #[test]
    fn errors_never_contain_the_national_id() {
        let mut v = sample(&synthetic_fnr(1));
        let bad = "01010112345";
        v["patients"][0]["identifier"]["id"] = json!(bad);
        let e = TrustContext::from_json(&v).unwrap_err();
        assert!(!e.to_string().contains(bad));
    }

    #[test]
    fn freshness() {
        let mut v = sample(&synthetic_fnr(1));
        v["toa"] = json!(10_000u64);
        let tc = TrustContext::from_json(&v).unwrap();
        assert!(tc.check_fresh(10_000 + 3600, 30).is_ok());
        assert_eq!(
            tc.check_fresh(10_000 + 3601, 30).unwrap_err().code(),
            ErrorCode::AttestationExpired
        );
        assert!(tc.check_fresh(10_000 - 30, 30).is_ok());
        assert!(tc
            .check_fresh(10_000 - 31, 30)
            .unwrap_err()
            .rule()
            .contains("future"));
        let renewed = tc.with_patients(parse_patients(&json!([{"identifier": {"id": synthetic_fnr(3), "system": "urn:oid:2.16.578.1.12.4.1.4.1"}}])).unwrap(), 20_000).unwrap();
        assert_eq!(renewed.toa(), Some(20_000));
        assert_eq!(renewed.patients()[0].as_str(), synthetic_fnr(3));
    }

    #[test]
    fn citizen_context() {
        let me = synthetic_fnr(11);
        let child = synthetic_fnr(12);
        let v = json!({"type": "tillit:citizen", "citizen": {"identifier": {"id": me, "system": "urn:oid:2.16.578.1.12.4.1.4.1"}},
            "represented": {"identifier": {"id": child, "system": "urn:oid:2.16.578.1.12.4.1.4.1"}, "basis": "parent"}});
        let tc = TrustContext::from_json(&v).unwrap();
        assert_eq!(tc.to_json(), v);
        assert_eq!(tc.patients()[0].as_str(), child);
        assert!(!tc.is_attestation());
        let mut bad = v.clone();
        bad["represented"]["basis"] = json!("neighbour");
        assert_eq!(
            TrustContext::from_json(&bad).unwrap_err().path(),
            "$.represented.basis"
        );
        let mut selfrep = v.clone();
        selfrep["represented"]["identifier"]["id"] = json!(me);
        assert!(TrustContext::from_json(&selfrep).is_err());
    }

    #[test]
    fn purpose_of_use_is_the_attestations_and_none_for_a_citizen() {
        for (code, purpose) in [
            ("TREAT", PurposeOfUse::Treat),
            ("ETREAT", PurposeOfUse::Etreat),
            ("COC", PurposeOfUse::Coc),
            ("BTG", PurposeOfUse::Btg),
        ] {
            let tc = mutate(|v| v["care_relationship"]["purpose_of_use"]["code"] = json!(code));
            assert_eq!(tc.unwrap().purpose_of_use(), Some(purpose), "{code}");
        }
        let citizen = json!({"type": "tillit:citizen",
            "citizen": {"identifier": {"id": synthetic_fnr(11), "system": "urn:oid:2.16.578.1.12.4.1.4.1"}}});
        assert_eq!(
            TrustContext::from_json(&citizen).unwrap().purpose_of_use(),
            None
        );
    }

    #[test]
    fn grant_types_are_read_by_name_and_others_refused() {
        for (name, grant) in [
            ("authorization_code", Grant::AuthorizationCode),
            ("refresh_token", Grant::RefreshToken),
            (
                "urn:ietf:params:oauth:grant-type:token-exchange",
                Grant::TokenExchange,
            ),
            ("client_credentials", Grant::ClientCredentials),
        ] {
            assert_eq!(Grant::parse(name, "$.grant_type").unwrap(), grant, "{name}");
        }
        for other in ["password", "Client_Credentials", "", "implicit"] {
            let e = Grant::parse(other, "$.grant_type").unwrap_err();
            assert_eq!(e.path(), "$.grant_type", "{other}");
            assert_eq!(e.code(), ErrorCode::InvalidArgument, "{other}");
        }
    }

    #[test]
    fn tenant_forms_of_both_libraries() {
        let org = |s: &str| OrgNr::parse(s, "$").unwrap();
        // NorskHelsenett/HelseID.Library, OrganizationNumberCreatorForMultiTenantClient.cs:
        // the parent alone is written "NO:ORGNR:<parent>:".
        let parent_only = TenantOrganisation::multi(org("974760673"), None);
        let v = parent_only.to_json();
        assert_eq!(
            v["practitioner_role"]["organization"]["identifier"]["value"],
            "NO:ORGNR:974760673:"
        );
        assert_eq!(TenantOrganisation::from_json(&v).unwrap(), parent_only);
        // NorskHelsenett/HelseID.Library.Java, HelseIdAuthorizationClaimUtil.java: without the colon.
        let mut java = v.clone();
        java["practitioner_role"]["organization"]["identifier"]["value"] =
            json!("NO:ORGNR:974760673");
        assert_eq!(TenantOrganisation::from_json(&java).unwrap(), parent_only);
        // OrganizationNumberCreatorForSingleTenantClient.cs: the child, plain, in the orgnr system.
        let single = TenantOrganisation::single(org("983044778"));
        let v = single.to_json();
        assert_eq!(
            v["practitioner_role"]["organization"]["identifier"],
            json!({"system": "urn:oid:2.16.578.1.12.4.1.4.101", "type": "ENH", "value": "983044778"})
        );
        assert_eq!(TenantOrganisation::from_json(&v).unwrap(), single);
        let mut bad = v.clone();
        bad["practitioner_role"]["organization"]["identifier"]["system"] = json!("urn:oid:1.2");
        assert_eq!(
            TenantOrganisation::from_json(&bad).unwrap_err().path(),
            "$.practitioner_role.organization.identifier.system"
        );
    }

    #[test]
    fn tenant_organisation() {
        let t = TenantOrganisation::multi(
            OrgNr::parse("974760673", "$").unwrap(),
            Some(OrgNr::parse("983044778", "$").unwrap()),
        );
        let v = t.to_json();
        assert_eq!(
            v["practitioner_role"]["organization"]["identifier"]["value"],
            "NO:ORGNR:974760673:983044778"
        );
        assert_eq!(TenantOrganisation::from_json(&v).unwrap(), t);
        let mut bad = v.clone();
        bad["practitioner_role"]["organization"]["identifier"]["value"] =
            json!("NO:ORGNR:974760674");
        assert!(TenantOrganisation::from_json(&bad).is_err());
    }

    #[test]
    fn a_tenant_is_multi_with_a_parent_single_with_only_a_child() {
        let p = OrgNr::parse("974760673", "p").unwrap();
        let c = OrgNr::parse("974760673", "c").unwrap();
        let multi = TenantOrganisation::from_parts(Some(p.clone()), None, "tenant").unwrap();
        assert_eq!(multi, TenantOrganisation::multi(p, None));
        let single = TenantOrganisation::from_parts(None, Some(c.clone()), "tenant").unwrap();
        assert_eq!(single, TenantOrganisation::single(c));
        let e = TenantOrganisation::from_parts(None, None, "tenant").unwrap_err();
        assert_eq!((e.code(), e.path()), (ErrorCode::InvalidArgument, "tenant"));
    }
}
