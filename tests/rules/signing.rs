//! The server-side signer's gate (src/signing.rs), through its public API, on inputs made by
//! the core's own builders and NHN's reference-EHR attestation (tests/fixtures/nhn/README.md).

use serde_json::{json, Value};
use tillit::assertion::{client_assertion, Common, Details, Placement};
use tillit::ident::{HprNr, NationalId, OrgNr};
use tillit::jose::{b64u, signing_input, Alg};
use tillit::signing::{Config, Gate, Reason, Session, MAX_INPUT_BYTES};
use tillit::trust::{Grant, TrustContext};

const NOW: u64 = 1_800_000_000;
const ISSUER: &str = "https://helseid-sts.test.nhn.no";
const CLIENT: &str = "tillit-demo";
// The trust framework's example practitioner, and a python-stdnum-valid patient.
const PRACTITIONER: &str = "20086600138";
const PATIENT: &str = "08066017800";
// The reference EHR's organisation and point of care.
const LEGAL: &str = "993467049";
const POC: &str = "874716782";

fn config(narrow: bool) -> Config {
    let mut c = Config::new(CLIENT, ISSUER, Alg::Es256, None).unwrap();
    c.allow_narrow = narrow;
    c
}

fn session() -> Session {
    Session {
        practitioner: NationalId::parse(PRACTITIONER, "$").unwrap(),
        hpr_nr: Some(HprNr::parse("9144897", "$").unwrap()),
        legal_entity: OrgNr::parse(LEGAL, "$").unwrap(),
        point_of_care: OrgNr::parse(POC, "$").unwrap(),
        allowed_patients: vec![NationalId::parse(PATIENT, "$").unwrap()],
    }
}

/// NorskHelsenett/Pasientens-journaldokumenter, `HomeController.cs` `BuildAttestJson`: no
/// `practitioner.identifier`, and a patient entry with only a point of care.
fn narrow() -> Value {
    let path = format!(
        "{}/tests/fixtures/nhn/pjd-reference-ehr.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn fnr(id: &str) -> Value {
    json!({"id": id, "system": "urn:oid:2.16.578.1.12.4.1.4.1"})
}

fn signing_input_for(att: &Value) -> Vec<u8> {
    let common = Common {
        client_id: CLIENT,
        issuer: ISSUER,
        alg: Alg::Es256,
        kid: None,
        now: NOW,
        lifetime_secs: 10,
        jti: "0123456789abcdef01",
    };
    let d = Details {
        trust_context: Some(TrustContext::from_json(att).unwrap()),
        tenant: None,
    };
    let (h, c) = client_assertion(
        &common,
        &Placement::ClientAssertion(d),
        Grant::AuthorizationCode,
    )
    .unwrap();
    signing_input(&h, &c).into_bytes()
}

fn verdict(narrow_on: bool, att: &Value) -> Result<(), Reason> {
    Gate::new(config(narrow_on))
        .check(&signing_input_for(att), &session(), NOW)
        .map(|_| ())
        .map_err(|r| r.reason)
}

#[test]
fn narrow_attestations_are_signed_only_when_enabled() {
    // Without the practitioner's id: the user is taken from the login (NHN's narrow form).
    let mut no_practitioner = narrow();
    no_practitioner["patients"] = json!([{ "identifier": fnr(PATIENT) }]);
    assert_eq!(verdict(false, &no_practitioner), Err(Reason::Practitioner));
    assert_eq!(verdict(true, &no_practitioner), Ok(()));
    // With the practitioner's id, but a patient entry naming no patient.
    let mut no_patient = narrow();
    no_patient["practitioner"]["identifier"] = fnr(PRACTITIONER);
    assert_eq!(verdict(false, &no_patient), Err(Reason::Patient));
    assert_eq!(verdict(true, &no_patient), Ok(()));
    // Both named: signed either way; another patient: refused either way.
    let mut full = no_patient.clone();
    full["patients"] = json!([{ "identifier": fnr(PATIENT) }]);
    assert_eq!(verdict(false, &full), Ok(()));
    full["patients"] = json!([{ "identifier": fnr("09020957597") }]);
    assert_eq!(verdict(true, &full), Err(Reason::Patient));
}

#[test]
fn details_hold_one_attestation_and_at_most_one_tenant() {
    let mut att = narrow();
    att["practitioner"]["identifier"] = fnr(PRACTITIONER);
    att["patients"] = json!([{ "identifier": fnr(PATIENT) }]);
    let tenant = json!({
        "type": "helseid_authorization",
        "practitioner_role": {"organization": {"identifier": {
            "system": "urn:oid:1.0.6523", "type": "ENH", "value": format!("NO:ORGNR:{LEGAL}:{POC}")
        }}}
    });
    let with_details = |d: Value| {
        let input = signing_input_for(&att);
        let text = String::from_utf8(input).unwrap();
        let (h, c) = text.split_once('.').unwrap();
        let mut claims: Value =
            serde_json::from_slice(&tillit::jose::b64u_decode(c, "$").unwrap()).unwrap();
        claims["assertion_details"] = d;
        let input = format!("{h}.{}", b64u(claims.to_string().as_bytes()));
        Gate::new(config(false))
            .check(input.as_bytes(), &session(), NOW)
            .map(|_| ())
            .map_err(|r| r.reason)
    };
    assert_eq!(with_details(json!([att.clone(), tenant.clone()])), Ok(()));
    assert_eq!(
        with_details(json!([att.clone(), tenant.clone(), tenant.clone()])),
        Err(Reason::Attestation)
    );
    assert_eq!(
        with_details(json!([att.clone(), att.clone()])),
        Err(Reason::Attestation)
    );
}

/// A signing input of exactly `len` bytes: a header (with 0-3 spaces, so that every length
/// is reachable: base64url never gives a length of 1 mod 4) and claims with a `pad` member.
fn input_of(len: usize) -> String {
    for spaces in 0..4 {
        let h = b64u(
            format!(
                r#"{{{}"alg":"ES256","typ":"client-authentication+jwt"}}"#,
                " ".repeat(spaces)
            )
            .as_bytes(),
        );
        for pad in (len * 3 / 4).saturating_sub(200)..len {
            let c = b64u(
                json!({ "iss": CLIENT, "pad": "x".repeat(pad) })
                    .to_string()
                    .as_bytes(),
            );
            let n = h.len() + 1 + c.len();
            if n == len {
                return format!("{h}.{c}");
            }
            if n > len {
                break;
            }
        }
    }
    unreachable!("one of four headers fits")
}

#[test]
fn signing_inputs_of_16_kib_are_read_and_longer_ones_refused() {
    assert_eq!(MAX_INPUT_BYTES, 16 * 1024);
    let mut g = Gate::new(config(false));
    let at = input_of(MAX_INPUT_BYTES);
    assert_eq!(at.len(), MAX_INPUT_BYTES);
    // Read, and refused for what it says (a member a client assertion does not have).
    let r = g.check(at.as_bytes(), &session(), NOW).unwrap_err();
    assert_eq!(r.reason, Reason::Type);
    let over = format!("{at} ");
    let r = g.check(over.as_bytes(), &session(), NOW).unwrap_err();
    assert_eq!(r.reason, Reason::NotJws);
    assert!(r.error.rule().contains("16 KiB"), "{}", r.error.rule());
}
