//! HL7 Norway's trust-framework AuditEvent profile (`no-domain-Trustframework-Auditevent`,
//! guide `hl7.fhir.no.domain.auditevent` 0.9.8, canonical `http://hl7.no/fhir`, FHIR 4.0.1):
//! the parts of a record that carry the attestation the way that profile maps it.
//!
//! Source: HL7Norway/AuditEvent, `igs/AuditEvent/input/fsh/no-domain-Trustframework-Auditevent.fsh`
//! (the profile and its extensions), `no-domain-Trustframework-PractitionerRole.fsh`,
//! `no-domain-Trustframework-Practitioner.fsh`, `no-domain-Trustframework-Patient.fsh`,
//! `no-doc-Trustframework.fsh` (the organisations and locations), and the built
//! definitions on the repository's `gh-pages` branch
//! (`currentbuild/StructureDefinition-no-domain-Trustframework-Auditevent.json`).
//!
//! What the profile requires and how tillit meets it; nothing the attestation does not give
//! is invented:
//! - `extension:_patient` 1..1, a contained `Patient` with `identifier` 1..*; the guide
//!   says "single auditevent per patient". Written when the attestation names exactly one
//!   patient by national id.
//! - `agent.who` 1..1, `Reference(PractitionerRole)`: the user agent's `who` references a
//!   contained `PractitionerRole` whose `practitioner` (1..1, a `Practitioner` with
//!   `identifier` 1..*), `organization` (1..1: the department, `partOf` the legal entity, or
//!   the legal entity itself) and `location` (1..1: a `Location` managed by the point of
//!   care) are contained too. Written when the attestation names the practitioner (HPR
//!   number or national id); the narrow attestation names neither (HelseID takes the user
//!   from the login), so there is no role to write.
//! - `purposeOfEvent.coding` sliced: `PURPOSE_OF_USE_VALUESET` 1..1 (v3 PurposeOfUse, so
//!   system `http://terminology.hl7.org/CodeSystem/v3-ActReason`), `DIPS_DECISIONTEMPLATE`
//!   0..1, `VOLVEN_9151` 0..1, open. The slices are per `purposeOfEvent`, so purpose of use
//!   and its details are two codings of one `purposeOfEvent` (the guide's examples put the
//!   details in a second `purposeOfEvent`, which its own 1..1 slice would refuse).
//! - `extension:_careRelationMetaData` 0..1, with `decision-ref-id`,
//!   `decision-ref-description`, `decision-ref-user-selected` and `toa` each 1..1: written
//!   only when the attestation gives all four (the description and `toa` are optional in
//!   the trust framework), else left out as its 0..1 allows; the care-relationship entity
//!   keeps the decision either way.
//! - `extension:_encounter` 0..1: left out. An `Encounter` needs `status` and `class`
//!   (1..1 in FHIR R4), which the attestation does not give; the healthcare service stays
//!   in the care-relationship entity.
//!
//! A record says it conforms (`meta.profile` names [`PROFILE`]) only when every 1..1
//! element above was written: a practitioner's look-up with one patient by national id
//! and a named practitioner. Other records (a citizen's, several patients, the narrow
//! attestation) are still written, as IHE BALP records, and do not claim the profile:
//! refusing to log them would refuse look-ups the trust framework allows.
//!
//! Where the guide's own organisation and patient profiles map the identifier's id to
//! `identifier.id` (FHIR's internal element id), tillit writes `identifier.value`, as the
//! guide does for the practitioner and as FHIR's `Identifier` means.

use crate::canon::{Items, Members};
use crate::codes::SYSTEM_ACT_REASON;
use crate::ident::{SYSTEM_HPR, SYSTEM_ORGNR, SYSTEM_RESH};
use crate::trust::{Attestation, Department, Extras, OrgRef, TrustContext};

/// The profile's canonical URL.
pub const PROFILE: &str =
    "http://hl7.no/fhir/StructureDefinition/no-domain-Trustframework-Auditevent";
/// The patient extension (R5's `AuditEvent.patient` in R4).
pub const EXT_PATIENT: &str = "http://hl7.no/fhir/StructureDefinition/auditevent-patient-extension";
/// The care-relation metadata extension (decision reference and `toa`).
pub const EXT_CARE_RELATION: &str =
    "http://hl7.no/fhir/StructureDefinition/auditevent-carerelation-metadata-extension";
/// The contained PractitionerRole the user agent's `who` references.
pub const ROLE_REF: &str = "#practitioner-role";
/// Largest FHIR `unsignedInt` (the type of `toa` in the extension).
const MAX_UNSIGNED_INT: u64 = 2_147_483_647;

/// The Norway-profile parts of a record for one trust context.
#[derive(Clone, Debug, Default)]
pub struct NorwayParts {
    /// The items of `contained` (comma-separated, no brackets), or empty.
    pub contained: String,
    /// The items of `extension` (comma-separated, no brackets), or empty.
    pub extension: String,
    /// Whether the user agent's `who` references [`ROLE_REF`].
    pub has_role: bool,
    /// Whether every element the profile requires was written.
    pub conforms: bool,
}

impl NorwayParts {
    /// The parts for `tc` (empty for a citizen: the profile's user is a practitioner).
    pub fn new(tc: &TrustContext) -> Self {
        let Some(at) = tc.attestation() else {
            return NorwayParts::default();
        };
        let patient = match tc.patients().as_slice() {
            [one] => Some(*one),
            _ => None,
        };
        // The practitioner by one identifier: HPR number when there is one, else the national
        // id (as the user agent's `who` names them).
        let p = &at.practitioner;
        let named = match (&p.hpr_nr, &p.identifier) {
            (Some((h, x)), _) => Some((SYSTEM_HPR, h.as_str(), x.get("authority"))),
            (None, Some(i)) => Some((i.id.system(), i.id.as_str(), i.extras.get("authority"))),
            (None, None) => None,
        };
        let has_role = named.is_some();
        let mut contained = String::new();
        Items::write(&mut contained, |a| {
            if let Some(p) = patient {
                a.obj(|m| {
                    m.str("id", "patient")
                        .arr("identifier", |i| {
                            i.obj(|x| {
                                x.str("system", p.system()).str("value", p.as_str());
                            });
                        })
                        .str("resourceType", "Patient");
                });
            }
            if let Some(named) = named {
                role(a, at, named);
            }
        });
        let mut extension = String::new();
        Items::write(&mut extension, |a| {
            care_relation(a, at);
            if patient.is_some() {
                a.obj(|m| {
                    m.str("url", EXT_PATIENT).obj("valueReference", |r| {
                        r.str("reference", "#patient");
                    });
                });
            }
        });
        NorwayParts {
            contained: contained[1..contained.len() - 1].to_string(),
            extension: extension[1..extension.len() - 1].to_string(),
            has_role,
            conforms: patient.is_some() && has_role,
        }
    }
}

/// `{ "assigner"?: { "display" }, "system", "value" }` in a one-item `identifier` array.
fn identifier(m: &mut Members<'_>, system: &str, value: &str, authority: Option<&str>) {
    m.arr("identifier", |i| {
        i.obj(|x| {
            if let Some(a) = authority.filter(|a| !a.is_empty()) {
                x.obj("assigner", |g| {
                    g.str("display", a);
                });
            }
            x.str("system", system).str("value", value);
        });
    });
}

fn organization(a: &mut Items<'_>, id: &str, org: &OrgRef, part_of: Option<&str>) {
    a.obj(|m| {
        m.str("id", id);
        identifier(
            m,
            SYSTEM_ORGNR,
            org.orgnr.as_str(),
            org.extras.get("authority"),
        );
        m.opt_str("name", org.extras.get("name").filter(|n| !n.is_empty()));
        if let Some(p) = part_of {
            m.obj("partOf", |r| {
                r.str("reference", p);
            });
        }
        m.str("resourceType", "Organization");
    });
}

fn name_of(extras: &Extras) -> Option<&str> {
    extras.get("name").filter(|n| !n.is_empty())
}

/// The contained resources behind the user agent: PractitionerRole, Practitioner, the
/// organisation (department or legal entity) and the point of care.
fn role(a: &mut Items<'_>, at: &Attestation, named: (&str, &str, Option<&str>)) {
    let p = &at.practitioner;
    a.obj(|m| {
        m.str("id", "practitioner");
        identifier(m, named.0, named.1, named.2);
        if let Some(n) = p.identifier.as_ref().and_then(|i| name_of(&i.extras)) {
            m.arr("name", |ns| {
                ns.obj(|x| {
                    x.str("text", n);
                });
            });
        }
        if let Some((auth, x)) = &p.authorization {
            m.arr("qualification", |q| {
                q.obj(|k| {
                    k.obj("code", |c| {
                        c.arr("coding", |cs| {
                            cs.obj(|c| {
                                c.str("code", auth.code())
                                    .opt_str("display", x.get("text").filter(|t| !t.is_empty()))
                                    .str("system", crate::codes::SYSTEM_AUTHORIZATION);
                            });
                        });
                    });
                });
            });
        }
        m.str("resourceType", "Practitioner");
    });
    organization(a, "legal-entity", &p.legal_entity, None);
    let org_ref = match &p.department {
        Some(d) => {
            a.obj(|m| {
                m.str("id", "department");
                match d {
                    Department::Resh { id, extras } => {
                        identifier(m, SYSTEM_RESH, id, extras.get("authority"));
                        m.opt_str("name", name_of(extras));
                    }
                    Department::Local {
                        id,
                        system,
                        authority,
                        name,
                    } => {
                        identifier(m, system, id, Some(authority.as_str()));
                        m.opt_str("name", name.as_deref().filter(|n| !n.is_empty()));
                    }
                }
                m.obj("partOf", |r| {
                    r.str("reference", "#legal-entity");
                })
                .str("resourceType", "Organization");
            });
            "#department"
        }
        None => "#legal-entity",
    };
    // The point of care's organisation: the legal entity itself where they are one.
    let poc_org = if p.point_of_care.orgnr == p.legal_entity.orgnr {
        "#legal-entity"
    } else {
        organization(a, "point-of-care-organization", &p.point_of_care, None);
        "#point-of-care-organization"
    };
    a.obj(|m| {
        m.str("id", "point-of-care")
            .obj("managingOrganization", |r| {
                r.str("reference", poc_org);
            })
            .str("resourceType", "Location");
    });
    a.obj(|m| {
        m.str("id", &ROLE_REF[1..])
            .arr("location", |l| {
                l.obj(|r| {
                    r.str("reference", "#point-of-care");
                });
            })
            .obj("organization", |r| {
                r.str("reference", org_ref);
            })
            .obj("practitioner", |r| {
                r.str("reference", "#practitioner");
            })
            .str("resourceType", "PractitionerRole");
    });
}

/// The care-relation metadata extension, when the attestation gives all four parts.
fn care_relation(a: &mut Items<'_>, at: &Attestation) {
    let d = &at.care_relationship.decision_ref;
    let (Some(desc), Some(toa)) = (d.description.as_deref(), at.toa) else {
        return;
    };
    // The id and description are non-empty (the attestation's reader refuses empty ones), as
    // a FHIR string must be; a `toa` past 2038 does not fit `unsignedInt`.
    if toa > MAX_UNSIGNED_INT {
        return;
    }
    a.obj(|m| {
        m.arr("extension", |e| {
            e.obj(|x| {
                x.str("url", "decision-ref-id").str("valueString", &d.id);
            });
            e.obj(|x| {
                x.str("url", "decision-ref-description")
                    .str("valueString", desc);
            });
            e.obj(|x| {
                x.str("url", "decision-ref-user-selected").raw(
                    "valueBoolean",
                    if d.user_selected { "true" } else { "false" },
                );
            });
            e.obj(|x| {
                x.str("url", "toa").num("valueUnsignedInt", toa);
            });
        })
        .str("url", EXT_CARE_RELATION);
    });
}

/// `purposeOfEvent`: one CodeableConcept, the purpose of use (the profile's 1..1
/// `PURPOSE_OF_USE_VALUESET` slice) first, then its details (the care-relation or Volven
/// 9151 code) when given.
pub fn purpose_of_event(a: &mut Items<'_>, at: &Attestation) {
    let (pou, _) = &at.care_relationship.purpose_of_use;
    a.obj(|m| {
        m.arr("coding", |cs| {
            cs.obj(|c| {
                c.str("code", pou.code())
                    .str("display", pou.display())
                    .str("system", SYSTEM_ACT_REASON);
            });
            if let Some((details, x)) = &at.care_relationship.purpose_of_use_details {
                cs.obj(|c| {
                    c.str("code", details.code())
                        .opt_str("display", x.get("text").filter(|t| !t.is_empty()))
                        .str("system", details.system());
                });
            }
        });
    });
}
