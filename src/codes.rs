//! Code systems of the trust framework, as types: a value that parsed is in its code system.

use crate::error::{Error, ErrorCode, Result};

/// HL7 v3 PurposeOfUse value set, as the trust framework names it.
pub const SYSTEM_PURPOSE_OF_USE: &str = "urn:oid:2.16.840.1.113883.1.11.20448";
/// HL7 v3 ActReason, the code system the PurposeOfUse value set draws from, by its FHIR
/// canonical URL: what a FHIR Coding of a purpose of use names (AuditEvent records).
pub const SYSTEM_ACT_REASON: &str = "http://terminology.hl7.org/CodeSystem/v3-ActReason";

/// A code system the rules read, known by its identity rather than one spelling: each has a
/// canonical form (what tillit writes) and the other names that denote the same system (its
/// OID as `urn:oid:`, its FHIR canonical URL, earlier FHIR URLs). A coding in any of these
/// forms is read the same way; a system in none of them is another system.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CodeSystem {
    /// HL7 v3 Confidentiality (`N`, `R`, `V`, …), OID 2.16.840.1.113883.5.25.
    Confidentiality,
    /// Volven 9602, document types (OID 2.16.578.1.12.4.1.1.9602).
    DocumentType,
    /// Volven 9603, blocks and denials of access (OID 2.16.578.1.12.4.1.1.9603).
    Blocks,
    /// HL7 v3 PurposeOfUse (value set 2.16.840.1.113883.1.11.20448, drawn from v3 ActReason,
    /// OID 2.16.840.1.113883.5.8).
    PurposeOfUse,
}

impl CodeSystem {
    /// Every system this module knows by identity.
    pub const ALL: [CodeSystem; 4] = [
        CodeSystem::Confidentiality,
        CodeSystem::DocumentType,
        CodeSystem::Blocks,
        CodeSystem::PurposeOfUse,
    ];

    /// The forms that name this system; the first is the canonical one.
    ///
    /// Sources: HL7 terminology (v3-Confidentiality, v3-ActReason: canonical URL, OID and the
    /// FHIR DSTU2/STU3 URL); HL7Norway/kodeverk, input/fsh/codesystems/no-kodeverk-9603.fsh
    /// (`^url` `http://helsedir.no/fhir/CodeSystem/no-kodeverk-9603`, identifier
    /// `urn:oid:2.16.578.1.12.4.1.1.9603`); 9602 by the same repository's naming of
    /// Helsedirektoratet's code systems (no-kodeverk-NNNN).
    pub const fn forms(self) -> &'static [&'static str] {
        match self {
            CodeSystem::Confidentiality => &[
                "http://terminology.hl7.org/CodeSystem/v3-Confidentiality",
                "urn:oid:2.16.840.1.113883.5.25",
                "http://hl7.org/fhir/v3/Confidentiality",
            ],
            CodeSystem::DocumentType => &[
                "urn:oid:2.16.578.1.12.4.1.1.9602",
                "http://helsedir.no/fhir/CodeSystem/no-kodeverk-9602",
            ],
            CodeSystem::Blocks => &[
                "urn:oid:2.16.578.1.12.4.1.1.9603",
                "http://helsedir.no/fhir/CodeSystem/no-kodeverk-9603",
            ],
            CodeSystem::PurposeOfUse => &[
                SYSTEM_PURPOSE_OF_USE,
                SYSTEM_ACT_REASON,
                "urn:oid:2.16.840.1.113883.5.8",
                "http://hl7.org/fhir/v3/ActReason",
            ],
        }
    }

    /// The canonical form.
    pub const fn canonical(self) -> &'static str {
        self.forms()[0]
    }

    /// Whether `system` names this code system (exactly one of its forms: no trimming, no
    /// case folding, as FHIR compares system URIs).
    pub fn is(self, system: &str) -> bool {
        self.forms().contains(&system)
    }

    /// The code system `system` names, if it is one of these.
    pub fn of(system: &str) -> Option<CodeSystem> {
        CodeSystem::ALL.into_iter().find(|c| c.is(system))
    }
}
/// Volven 9060: the profession a practitioner is authorised as (LE, SP, …).
pub const SYSTEM_AUTHORIZATION: &str = "urn:oid:2.16.578.1.12.4.1.1.9060";
/// HL7 Norway care-relation codes (specialist care).
pub const SYSTEM_CARE_RELATION: &str = "urn:AuditEventHL7Norway/CodeSystem/carerelation";
/// Volven 9151 (nursing homes and municipal services).
pub const SYSTEM_VOLVEN_9151: &str = "urn:oid:2.16.578.1.12.4.1.1.9151";

/// The healthcare-service code systems the trust framework allows. 8627 ("UTGÅTT
/// Tjenestetyper innen spesialisthelsetjenesten") has expired in Volven but ATT-37
/// (NorskHelsenett/Tillitsrammeverk, `specs/forretningsregler_for_bruk_av_attestering.md`) still
/// lists it among the allowed systems, so an attestation made with it is accepted: refusing
/// it would refuse what the rules allow.
pub const HEALTHCARE_SERVICE_SYSTEMS: [&str; 10] = [
    "urn:oid:2.16.578.1.12.4.1.1.8655",
    "urn:oid:2.16.578.1.12.4.1.1.8451",
    "urn:oid:2.16.578.1.12.4.1.1.8668",
    "urn:oid:2.16.578.1.12.4.1.1.8663",
    "urn:oid:2.16.578.1.12.4.1.1.8662",
    "urn:oid:2.16.578.1.12.4.1.1.8664",
    "urn:oid:2.16.578.1.12.4.1.1.8666",
    "urn:oid:2.16.578.1.12.4.1.1.7750",
    "urn:oid:2.16.578.1.12.4.1.1.8254",
    "urn:oid:2.16.578.1.12.4.1.1.8627",
];

/// Purpose of use: exactly the four the trust framework allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PurposeOfUse {
    /// Treatment.
    Treat,
    /// Emergency treatment.
    Etreat,
    /// Coordination of care.
    Coc,
    /// Break the glass.
    Btg,
}

impl PurposeOfUse {
    /// All values.
    pub const ALL: [PurposeOfUse; 4] = [
        PurposeOfUse::Treat,
        PurposeOfUse::Etreat,
        PurposeOfUse::Coc,
        PurposeOfUse::Btg,
    ];

    /// The code.
    pub const fn code(self) -> &'static str {
        match self {
            PurposeOfUse::Treat => "TREAT",
            PurposeOfUse::Etreat => "ETREAT",
            PurposeOfUse::Coc => "COC",
            PurposeOfUse::Btg => "BTG",
        }
    }

    /// The code system.
    pub const fn system(self) -> &'static str {
        SYSTEM_PURPOSE_OF_USE
    }

    /// The display HL7's v3 ActReason code system gives the code.
    pub const fn display(self) -> &'static str {
        match self {
            PurposeOfUse::Treat => "treatment",
            PurposeOfUse::Etreat => "Emergency Treatment",
            PurposeOfUse::Coc => "coordination of care",
            PurposeOfUse::Btg => "break the glass",
        }
    }

    /// Whether this purpose is emergency access, to be reviewed in log control.
    pub const fn is_emergency(self) -> bool {
        matches!(self, PurposeOfUse::Etreat | PurposeOfUse::Btg)
    }

    /// Parses a code of the PurposeOfUse system.
    pub fn parse(code: &str, path: &str) -> Result<Self> {
        PurposeOfUse::ALL
            .into_iter()
            .find(|p| p.code() == code)
            .ok_or_else(|| {
                Error::new(
                    ErrorCode::InvalidCode,
                    path,
                    "purpose of use must be one of TREAT, ETREAT, COC, BTG",
                )
            })
    }
}

/// HL7 Norway care-relation codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CareRelation {
    /// The patient's treating practitioner.
    Behandler,
    /// Treating on referral.
    HenvBeh,
    /// Assessing a referral.
    Henvisning,
    /// Emergency ("blue light").
    Blaalys,
    /// IT system work.
    Itsysarb,
    /// Police visit.
    Polbesok,
}

impl CareRelation {
    /// All values.
    pub const ALL: [CareRelation; 6] = [
        CareRelation::Behandler,
        CareRelation::HenvBeh,
        CareRelation::Henvisning,
        CareRelation::Blaalys,
        CareRelation::Itsysarb,
        CareRelation::Polbesok,
    ];

    /// The code.
    pub const fn code(self) -> &'static str {
        match self {
            CareRelation::Behandler => "BEHANDLER",
            CareRelation::HenvBeh => "HENV_BEH",
            CareRelation::Henvisning => "HENVISNING",
            CareRelation::Blaalys => "BLAALYS",
            CareRelation::Itsysarb => "ITSYSARB",
            CareRelation::Polbesok => "POLBESOK",
        }
    }
}

/// `purpose_of_use_details`: a care-relation code, or a Volven 9151 code.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PurposeDetails {
    /// HL7 Norway care relation (specialist care).
    CareRelation(CareRelation),
    /// Volven 9151 (municipal care); numeric codes.
    Volven9151(String),
}

impl PurposeDetails {
    /// Parses `{code, system}`.
    pub fn parse(code: &str, system: &str, path: &str) -> Result<Self> {
        match system {
            SYSTEM_CARE_RELATION => CareRelation::ALL
                .into_iter()
                .find(|c| c.code() == code)
                .map(PurposeDetails::CareRelation)
                .ok_or_else(|| {
                    Error::new(
                        ErrorCode::InvalidCode,
                        format!("{path}.code"),
                        "care-relation code must be one of BEHANDLER, HENV_BEH, HENVISNING, BLAALYS, ITSYSARB, POLBESOK",
                    )
                }),
            SYSTEM_VOLVEN_9151 => {
                if !code.is_empty() && code.len() <= 8 && code.bytes().all(|b| b.is_ascii_digit()) {
                    Ok(PurposeDetails::Volven9151(code.to_string()))
                } else {
                    Err(Error::new(ErrorCode::InvalidCode, format!("{path}.code"), "Volven 9151 codes are 1 to 8 digits"))
                }
            }
            _ => Err(Error::new(
                ErrorCode::InvalidCode,
                format!("{path}.system"),
                "must be the HL7 Norway care-relation system or Volven 9151",
            )),
        }
    }

    /// The code.
    pub fn code(&self) -> &str {
        match self {
            PurposeDetails::CareRelation(c) => c.code(),
            PurposeDetails::Volven9151(c) => c,
        }
    }

    /// The code system.
    pub fn system(&self) -> &'static str {
        match self {
            PurposeDetails::CareRelation(_) => SYSTEM_CARE_RELATION,
            PurposeDetails::Volven9151(_) => SYSTEM_VOLVEN_9151,
        }
    }
}

/// A code from one of the healthcare-service code systems.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HealthcareService {
    code: String,
    system: &'static str,
}

impl HealthcareService {
    /// Parses `{code, system}`.
    pub fn parse(code: &str, system: &str, path: &str) -> Result<Self> {
        let system = HEALTHCARE_SERVICE_SYSTEMS.into_iter().find(|s| *s == system).ok_or_else(|| {
            Error::new(
                ErrorCode::InvalidCode,
                format!("{path}.system"),
                "must be one of the healthcare-service code systems 2.16.578.1.12.4.1.1.{8655, 8451, 8668, 8663, 8662, 8664, 8666, 7750, 8254, 8627}",
            )
        })?;
        if code.is_empty()
            || code.len() > 16
            || !code
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        {
            return Err(Error::new(
                ErrorCode::InvalidCode,
                format!("{path}.code"),
                "a healthcare-service code is 1 to 16 letters, digits, '-' or '.'",
            ));
        }
        Ok(HealthcareService {
            code: code.to_string(),
            system,
        })
    }

    /// The code.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// The code system.
    pub fn system(&self) -> &'static str {
        self.system
    }
}

/// Volven 9060, the authorisations (professions) a practitioner may act as: the 36 codes NHN's
/// clients offer, with their Norwegian names. Source: NorskHelsenett/Pasientens-journaldokumenter,
/// `.NET/PatientHealthRecordsEPJ/.../Models/HomeViewModel.cs` (`AuthorizationList`), the same
/// list as NorskHelsenett/kjernejournal-innlogging-klient `dto/User.kt` (`Autorisasjon`). Not all
/// are two letters (`FA1`, `FA2`: pharmacists), so the list is the rule, not a pattern.
pub const VOLVEN_9060: [(&str, &str); 36] = [
    ("AA", "Ambulansearbeider"),
    ("AT", "Apotektekniker"),
    ("AU", "Audiograf"),
    ("BI", "Bioingeniør"),
    ("ET", "Ergoterapeut"),
    ("FB", "Fiskehelsebiolog"),
    ("FO", "Fotterapeut"),
    ("FT", "Fysioterapeut"),
    ("HF", "Helsefagarbeider"),
    ("HE", "Helsesekretær"),
    ("HP", "Hjelpepleier"),
    ("JO", "Jordmor"),
    ("KI", "Kiropraktor"),
    ("KE", "Klinisk ernæringsfysiolog"),
    ("LE", "Lege"),
    ("MT", "Manuellterapeut"),
    ("NP", "Naprapat"),
    ("OA", "Omsorgsarbeider"),
    ("OP", "Optiker"),
    ("OI", "Ortopediingeniør"),
    ("OR", "Ortoptist"),
    ("OS", "Osteopat"),
    ("PM", "Paramedisiner"),
    ("PE", "Perfusjonist"),
    ("FA1", "Provisorfarmasøyt"),
    ("PS", "Psykolog"),
    ("RA", "Radiograf"),
    ("FA2", "Reseptarfarmasøyt"),
    ("SP", "Sykepleier"),
    ("TH", "Tannhelsesekretær"),
    ("TL", "Tannlege"),
    ("TP", "Tannpleier"),
    ("TT", "Tanntekniker"),
    ("XX", "Ukjent/uspesifisert"),
    ("VP", "Vernepleier"),
    ("VE", "Veterinær"),
];

/// A Volven 9060 authorisation (profession) code from [`VOLVEN_9060`], e.g. `LE`, `SP`, `FA1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Authorization(usize);

impl Authorization {
    /// Parses `{code, system}`.
    pub fn parse(code: &str, system: &str, path: &str) -> Result<Self> {
        if system != SYSTEM_AUTHORIZATION {
            return Err(Error::new(
                ErrorCode::InvalidCode,
                format!("{path}.system"),
                "must be Volven 9060 (urn:oid:2.16.578.1.12.4.1.1.9060)",
            ));
        }
        VOLVEN_9060
            .iter()
            .position(|(c, _)| *c == code)
            .map(Authorization)
            .ok_or_else(|| {
                Error::new(
                    ErrorCode::InvalidCode,
                    format!("{path}.code"),
                    "is not a Volven 9060 authorisation code (AA, AT, AU, BI, ET, FA1, FA2, … LE, … SP, … XX, VP, VE)",
                )
            })
    }

    /// The code.
    pub fn code(&self) -> &'static str {
        VOLVEN_9060[self.0].0
    }

    /// The profession's Norwegian name.
    pub fn text(&self) -> &'static str {
        VOLVEN_9060[self.0].1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_systems_by_identity() {
        for (form, cs) in [
            (
                "urn:oid:2.16.840.1.113883.5.25",
                CodeSystem::Confidentiality,
            ),
            (
                "http://terminology.hl7.org/CodeSystem/v3-Confidentiality",
                CodeSystem::Confidentiality,
            ),
            ("urn:oid:2.16.578.1.12.4.1.1.9603", CodeSystem::Blocks),
            (
                "http://helsedir.no/fhir/CodeSystem/no-kodeverk-9603",
                CodeSystem::Blocks,
            ),
            ("urn:oid:2.16.578.1.12.4.1.1.9602", CodeSystem::DocumentType),
            ("urn:oid:2.16.840.1.113883.5.8", CodeSystem::PurposeOfUse),
            (SYSTEM_PURPOSE_OF_USE, CodeSystem::PurposeOfUse),
        ] {
            assert_eq!(CodeSystem::of(form), Some(cs), "{form}");
        }
        for other in [
            "urn:oid:2.16.840.1.113883.5.25 ",
            "URN:OID:2.16.840.1.113883.5.25",
            "urn:oid:2.16.578.1.12.4.1.1.9604",
            "",
        ] {
            assert_eq!(CodeSystem::of(other), None, "{other}");
        }
        assert_eq!(
            CodeSystem::Blocks.canonical(),
            "urn:oid:2.16.578.1.12.4.1.1.9603"
        );
    }

    #[test]
    fn purpose_of_use_exactly_four() {
        for p in PurposeOfUse::ALL {
            assert_eq!(PurposeOfUse::parse(p.code(), "$").unwrap(), p);
        }
        for bad in ["treat", "HMARKT", "", "PATRQT", "TREAT "] {
            assert_eq!(
                PurposeOfUse::parse(bad, "$.p").unwrap_err().code(),
                ErrorCode::InvalidCode
            );
        }
        assert!(
            PurposeOfUse::Btg.is_emergency()
                && PurposeOfUse::Etreat.is_emergency()
                && !PurposeOfUse::Coc.is_emergency()
        );
    }

    #[test]
    fn purpose_details() {
        assert_eq!(
            PurposeDetails::parse("BEHANDLER", SYSTEM_CARE_RELATION, "$").unwrap(),
            PurposeDetails::CareRelation(CareRelation::Behandler)
        );
        assert!(PurposeDetails::parse("15", SYSTEM_VOLVEN_9151, "$").is_ok());
        assert_eq!(
            PurposeDetails::parse("X", SYSTEM_CARE_RELATION, "$.d")
                .unwrap_err()
                .path(),
            "$.d.code"
        );
        assert_eq!(
            PurposeDetails::parse("1", "urn:x", "$.d")
                .unwrap_err()
                .path(),
            "$.d.system"
        );
        assert!(PurposeDetails::parse("1a", SYSTEM_VOLVEN_9151, "$").is_err());
    }

    #[test]
    fn healthcare_service_systems() {
        assert!(HealthcareService::parse("KP02", "urn:oid:2.16.578.1.12.4.1.1.8663", "$").is_ok());
        // ATT-37 (NorskHelsenett/Tillitsrammeverk, specs/forretningsregler_for_bruk_av_attestering.md)
        // lists the expired 8627 among the allowed systems.
        assert!(HealthcareService::parse("12", "urn:oid:2.16.578.1.12.4.1.1.8627", "$").is_ok());
        let e = HealthcareService::parse("KP02", "urn:oid:2.16.578.1.12.4.1.1.8628", "$.h")
            .unwrap_err();
        assert_eq!(e.path(), "$.h.system");
        assert!(HealthcareService::parse("", "urn:oid:2.16.578.1.12.4.1.1.8655", "$").is_err());
    }

    #[test]
    fn authorization() {
        assert!(Authorization::parse("LE", SYSTEM_AUTHORIZATION, "$").is_ok());
        assert!(Authorization::parse("le", SYSTEM_AUTHORIZATION, "$").is_err());
        assert!(Authorization::parse("LEG", SYSTEM_AUTHORIZATION, "$").is_err());
        // Two capital letters that are not in the list.
        assert_eq!(
            Authorization::parse("QQ", SYSTEM_AUTHORIZATION, "$.a")
                .unwrap_err()
                .path(),
            "$.a.code"
        );
        // Every code the reference EHR offers (NorskHelsenett/Pasientens-journaldokumenter,
        // .NET/PatientHealthRecordsEPJ/.../Models/HomeViewModel.cs, AuthorizationList).
        for (code, text) in VOLVEN_9060 {
            let a = Authorization::parse(code, SYSTEM_AUTHORIZATION, "$").unwrap();
            assert_eq!((a.code(), a.text()), (code, text));
        }
        assert_eq!(
            Authorization::parse("FA1", SYSTEM_AUTHORIZATION, "$")
                .unwrap()
                .text(),
            "Provisorfarmasøyt"
        );
        assert!(Authorization::parse("LE", "urn:oid:1", "$").is_err());
    }
}
