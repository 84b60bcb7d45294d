//! The FHIR R4 shapes the projection rebuilds kept elements from: DocumentReference, the
//! datatypes its elements have (Identifier, CodeableConcept, Coding, Reference, Attachment,
//! Period, Meta, Narrative, HumanName, Extension) and the resources a kept reference may point
//! to in `contained`. A member a shape does not list is never passed on, whatever a policy
//! says; a value of the wrong JSON type (an object for an array, an array for an object, a
//! number for a string) is unreadable and withholds its entry.
//!
//! Source: FHIR R4 (4.0.1), documentreference.html and datatypes.html. Only what a document
//! list can use is listed: `Attachment.data` and `Narrative.div` are here so that a policy can
//! name them (the shipped one does not); `Extension.value[x]` is limited to the primitive and
//! coded types (never an Attachment).

/// The JSON shape of a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    /// A JSON string (string, code, uri, id, dateTime, xhtml, base64Binary, …).
    Str,
    /// A JSON number (integer, unsignedInt, positiveInt, decimal).
    Num,
    /// A JSON boolean.
    Bool,
    /// An object of a complex type.
    Dt(&'static Datatype),
}

/// One member of a complex type.
#[derive(Debug, PartialEq, Eq)]
pub struct Member {
    /// Its JSON name.
    pub name: &'static str,
    /// Its type.
    pub ty: Ty,
    /// Whether it is an array (`0..*`).
    pub many: bool,
}

/// A complex type: its name and its members. Compared and printed by name (the shapes refer
/// to each other: Extension holds Extensions).
pub struct Datatype {
    /// The FHIR name.
    pub name: &'static str,
    /// The members.
    pub members: &'static [Member],
}

impl core::fmt::Debug for Datatype {
    #[cfg_attr(tillit_speed, optimize(speed))]
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name)
    }
}

impl PartialEq for Datatype {
    #[cfg_attr(tillit_speed, optimize(speed))]
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for Datatype {}

impl Datatype {
    /// The member called `name`.
    #[cfg_attr(tillit_speed, optimize(speed))]
    pub fn member(&'static self, name: &str) -> Option<&'static Member> {
        self.members.iter().find(|m| m.name == name)
    }
}

const fn one(name: &'static str, ty: Ty) -> Member {
    Member {
        name,
        ty,
        many: false,
    }
}

const fn many(name: &'static str, ty: Ty) -> Member {
    Member {
        name,
        ty,
        many: true,
    }
}

use Ty::{Bool, Dt, Num, Str};

/// Extension: `url`, nested extensions, and `value[x]` of the primitive and coded types.
pub static EXTENSION: Datatype = Datatype {
    name: "Extension",
    members: &[
        one("url", Str),
        many("extension", Dt(&EXTENSION)),
        one("valueString", Str),
        one("valueCode", Str),
        one("valueUri", Str),
        one("valueUrl", Str),
        one("valueCanonical", Str),
        one("valueId", Str),
        one("valueOid", Str),
        one("valueDate", Str),
        one("valueDateTime", Str),
        one("valueInstant", Str),
        one("valueBoolean", Bool),
        one("valueInteger", Num),
        one("valueDecimal", Num),
        one("valueCoding", Dt(&CODING)),
        one("valueCodeableConcept", Dt(&CODEABLE_CONCEPT)),
        one("valueIdentifier", Dt(&IDENTIFIER)),
        one("valueReference", Dt(&REFERENCE)),
        one("valuePeriod", Dt(&PERIOD)),
    ],
};

/// Coding.
pub static CODING: Datatype = Datatype {
    name: "Coding",
    members: &[
        one("id", Str),
        many("extension", Dt(&EXTENSION)),
        one("system", Str),
        one("version", Str),
        one("code", Str),
        one("display", Str),
        one("userSelected", Bool),
    ],
};

/// CodeableConcept.
pub static CODEABLE_CONCEPT: Datatype = Datatype {
    name: "CodeableConcept",
    members: &[
        one("id", Str),
        many("extension", Dt(&EXTENSION)),
        many("coding", Dt(&CODING)),
        one("text", Str),
    ],
};

/// Period.
pub static PERIOD: Datatype = Datatype {
    name: "Period",
    members: &[
        one("id", Str),
        many("extension", Dt(&EXTENSION)),
        one("start", Str),
        one("end", Str),
    ],
};

/// Identifier.
pub static IDENTIFIER: Datatype = Datatype {
    name: "Identifier",
    members: &[
        one("id", Str),
        many("extension", Dt(&EXTENSION)),
        one("use", Str),
        one("type", Dt(&CODEABLE_CONCEPT)),
        one("system", Str),
        one("value", Str),
        one("period", Dt(&PERIOD)),
        one("assigner", Dt(&REFERENCE)),
    ],
};

/// Reference.
pub static REFERENCE: Datatype = Datatype {
    name: "Reference",
    members: &[
        one("id", Str),
        many("extension", Dt(&EXTENSION)),
        one("reference", Str),
        one("type", Str),
        one("identifier", Dt(&IDENTIFIER)),
        one("display", Str),
    ],
};

/// Attachment.
pub static ATTACHMENT: Datatype = Datatype {
    name: "Attachment",
    members: &[
        one("id", Str),
        many("extension", Dt(&EXTENSION)),
        one("contentType", Str),
        one("language", Str),
        one("data", Str),
        one("url", Str),
        one("size", Num),
        one("hash", Str),
        one("title", Str),
        one("creation", Str),
    ],
};

/// Meta.
pub static META: Datatype = Datatype {
    name: "Meta",
    members: &[
        one("id", Str),
        many("extension", Dt(&EXTENSION)),
        one("versionId", Str),
        one("lastUpdated", Str),
        one("source", Str),
        many("profile", Str),
        many("security", Dt(&CODING)),
        many("tag", Dt(&CODING)),
    ],
};

/// Narrative.
pub static NARRATIVE: Datatype = Datatype {
    name: "Narrative",
    members: &[
        one("id", Str),
        many("extension", Dt(&EXTENSION)),
        one("status", Str),
        one("div", Str),
    ],
};

/// HumanName.
pub static HUMAN_NAME: Datatype = Datatype {
    name: "HumanName",
    members: &[
        one("id", Str),
        many("extension", Dt(&EXTENSION)),
        one("use", Str),
        one("text", Str),
        one("family", Str),
        many("given", Str),
        many("prefix", Str),
        many("suffix", Str),
        one("period", Dt(&PERIOD)),
    ],
};

/// DocumentReference.relatesTo.
pub static RELATES_TO: Datatype = Datatype {
    name: "DocumentReference.relatesTo",
    members: &[one("code", Str), one("target", Dt(&REFERENCE))],
};

/// DocumentReference.content.
pub static CONTENT: Datatype = Datatype {
    name: "DocumentReference.content",
    members: &[
        one("attachment", Dt(&ATTACHMENT)),
        one("format", Dt(&CODING)),
    ],
};

/// DocumentReference.context.
pub static CONTEXT: Datatype = Datatype {
    name: "DocumentReference.context",
    members: &[
        many("encounter", Dt(&REFERENCE)),
        many("event", Dt(&CODEABLE_CONCEPT)),
        one("period", Dt(&PERIOD)),
        one("facilityType", Dt(&CODEABLE_CONCEPT)),
        one("practiceSetting", Dt(&CODEABLE_CONCEPT)),
        one("sourcePatientInfo", Dt(&REFERENCE)),
        many("related", Dt(&REFERENCE)),
    ],
};

/// DocumentReference, as the projection may pass it on. `resourceType` is always written;
/// `contained` is projected apart (see [`contained_shape`]); `implicitRules` and
/// `modifierExtension` are not here: their presence withholds the entry.
pub static DOCUMENT_REFERENCE: Datatype = Datatype {
    name: "DocumentReference",
    members: &[
        one("id", Str),
        one("meta", Dt(&META)),
        one("language", Str),
        one("text", Dt(&NARRATIVE)),
        many("contained", Dt(&CONTAINED)),
        many("extension", Dt(&EXTENSION)),
        one("masterIdentifier", Dt(&IDENTIFIER)),
        many("identifier", Dt(&IDENTIFIER)),
        one("status", Str),
        one("docStatus", Str),
        one("type", Dt(&CODEABLE_CONCEPT)),
        many("category", Dt(&CODEABLE_CONCEPT)),
        one("subject", Dt(&REFERENCE)),
        one("date", Str),
        many("author", Dt(&REFERENCE)),
        one("authenticator", Dt(&REFERENCE)),
        one("custodian", Dt(&REFERENCE)),
        many("relatesTo", Dt(&RELATES_TO)),
        one("description", Str),
        many("securityLabel", Dt(&CODEABLE_CONCEPT)),
        many("content", Dt(&CONTENT)),
        one("context", Dt(&CONTEXT)),
    ],
};

/// A placeholder for `contained` in paths: what is kept of a contained resource depends on
/// its type ([`contained_shape`]), never on the policy.
pub static CONTAINED: Datatype = Datatype {
    name: "Resource",
    members: &[],
};

/// Organization, as a kept reference shows it: identifiers (organisation numbers) and name.
pub static ORGANIZATION: Datatype = Datatype {
    name: "Organization",
    members: &[
        one("id", Str),
        many("identifier", Dt(&IDENTIFIER)),
        one("name", Str),
    ],
};

/// Practitioner, as a kept reference shows it: the name only (a practitioner's national id
/// or other identifiers are not the patient's list's business).
pub static PRACTITIONER: Datatype = Datatype {
    name: "Practitioner",
    members: &[one("id", Str), many("name", Dt(&HUMAN_NAME))],
};

/// PractitionerRole, as a kept reference shows it.
pub static PRACTITIONER_ROLE: Datatype = Datatype {
    name: "PractitionerRole",
    members: &[
        one("id", Str),
        one("practitioner", Dt(&REFERENCE)),
        one("organization", Dt(&REFERENCE)),
        many("code", Dt(&CODEABLE_CONCEPT)),
        many("specialty", Dt(&CODEABLE_CONCEPT)),
    ],
};

/// Patient, as `subject` may point to it: identifiers only.
pub static PATIENT: Datatype = Datatype {
    name: "Patient",
    members: &[one("id", Str), many("identifier", Dt(&IDENTIFIER))],
};

/// What is kept of a contained resource of type `resource_type` that a kept reference points
/// to; `None`: such a resource is never kept.
#[cfg_attr(tillit_speed, optimize(speed))]
pub fn contained_shape(resource_type: &str) -> Option<&'static Datatype> {
    match resource_type {
        "Organization" => Some(&ORGANIZATION),
        "Practitioner" => Some(&PRACTITIONER),
        "PractitionerRole" => Some(&PRACTITIONER_ROLE),
        "Patient" => Some(&PATIENT),
        _ => None,
    }
}

/// What a policy keeps below one element: all of it (as its type defines it, without
/// `extension` and element `id`s, which only a path naming them keeps), or only the listed
/// members.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selection {
    /// The whole element, by its type.
    Whole,
    /// Only these members, each with its own selection.
    Members(Vec<(&'static Member, Selection)>),
}

impl Selection {
    /// What is kept of member `name`, if it is kept; `in_resource` says the element is a
    /// resource (whose `id` is the resource id, kept whenever the element is).
    #[cfg_attr(tillit_speed, optimize(speed))]
    pub fn of(
        &self,
        dt: &'static Datatype,
        name: &str,
        in_resource: bool,
    ) -> Option<(&'static Member, &Selection)> {
        match self {
            Selection::Whole => {
                if (name == "extension" || name == "id") && !in_resource {
                    return None;
                }
                dt.member(name).map(|m| (m, &Selection::Whole))
            }
            Selection::Members(list) => list
                .iter()
                .find(|(m, _)| m.name == name)
                .map(|(m, s)| (*m, s)),
        }
    }

    /// The selection of DocumentReference that `paths` (dotted, e.g. `content.attachment.title`)
    /// name. An error names the index of the first path that is not in the shapes above.
    #[cfg_attr(tillit_speed, optimize(speed))]
    pub fn from_paths(paths: &[String]) -> Result<Selection, (usize, &'static str)> {
        let mut root = Selection::Members(Vec::new());
        for (i, p) in paths.iter().enumerate() {
            let mut dt: &'static Datatype = &DOCUMENT_REFERENCE;
            let mut sel = &mut root;
            let parts: Vec<&str> = p.split('.').collect();
            for (depth, part) in parts.iter().enumerate() {
                if part.is_empty() {
                    return Err((i, "is not a path of DocumentReference elements"));
                }
                let Some(m) = dt.member(part) else {
                    return Err((
                        i,
                        "names an element DocumentReference or its datatypes do not have",
                    ));
                };
                let last = depth + 1 == parts.len();
                let child_dt = match m.ty {
                    Ty::Dt(d) => Some(d),
                    _ => None,
                };
                if !last
                    && (child_dt.is_none()
                        || std::ptr::eq(child_dt.unwrap_or(&CONTAINED), &CONTAINED))
                {
                    return Err((
                        i,
                        "goes below an element that has no members a policy can name",
                    ));
                }
                let list = match sel {
                    Selection::Whole => break, // an earlier, shorter path keeps it all
                    Selection::Members(list) => list,
                };
                let pos = match list.iter().position(|(x, _)| x.name == m.name) {
                    Some(pos) => pos,
                    None => {
                        list.push((
                            m,
                            if last {
                                Selection::Whole
                            } else {
                                Selection::Members(Vec::new())
                            },
                        ));
                        list.len() - 1
                    }
                };
                if last {
                    list[pos].1 = Selection::Whole;
                    break;
                }
                sel = &mut list[pos].1;
                dt = child_dt.expect("checked above");
            }
        }
        Ok(root)
    }
}
