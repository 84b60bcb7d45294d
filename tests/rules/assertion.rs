//! Client assertions and request objects (src/assertion.rs).

use serde_json::{json, Value};
use tillit::assertion::{
    client_assertion, request_object, AuthorizeParams, Common, Details, Placement,
    MAX_LIFETIME_SECS,
};
use tillit::ident::OrgNr;
use tillit::jose::Alg;
use tillit::trust::{Grant, TenantOrganisation, TrustContext};
use tillit::ErrorCode;

fn common() -> Common<'static> {
    Common {
        client_id: "2141d734-7604-42ca-a377-27f1b712f4e6",
        issuer: "https://helseid-sts.test.nhn.no",
        alg: Alg::Es256,
        kid: None,
        now: 1_800_000_000,
        lifetime_secs: 10,
        jti: "0123456789abcdef",
    }
}

/// The attestation NHN's reference EHR writes (NorskHelsenett/Pasientens-journaldokumenter,
/// `.NET/PatientHealthRecordsEPJ/.../Controllers/HomeController.cs` `BuildAttestJson`;
/// tests/fixtures/nhn/README.md).
fn attestation() -> TrustContext {
    let path = format!(
        "{}/tests/fixtures/nhn/pjd-reference-ehr.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    TrustContext::from_json(&v).unwrap()
}

fn tenant() -> TenantOrganisation {
    TenantOrganisation::multi(OrgNr::parse("974760673", "$").unwrap(), None)
}

fn assert_refused(c: &Common<'_>, field: &str) {
    let e = client_assertion(c, &Placement::None, Grant::ClientCredentials).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidArgument);
    assert_eq!(e.path(), field);
}

#[test]
fn client_id_is_1_to_256_characters() {
    assert_refused(
        &Common {
            client_id: "",
            ..common()
        },
        "clientId",
    );
    let at = "c".repeat(256);
    let ok = Common {
        client_id: &at,
        ..common()
    };
    let (_, claims) = client_assertion(&ok, &Placement::None, Grant::ClientCredentials).unwrap();
    // RFC 7523 §3: iss and sub are the client_id for client authentication.
    assert_eq!(claims["iss"], at.as_str());
    assert_eq!(claims["sub"], at.as_str());
    let over = "c".repeat(257);
    assert_refused(
        &Common {
            client_id: &over,
            ..common()
        },
        "clientId",
    );
}

#[test]
fn issuer_must_be_an_http_url() {
    assert_refused(
        &Common {
            issuer: "ftp://helseid",
            ..common()
        },
        "issuer",
    );
    let c = Common {
        issuer: "http://localhost:5000",
        ..common()
    };
    assert!(client_assertion(&c, &Placement::None, Grant::ClientCredentials).is_ok());
}

#[test]
fn lifetime_is_1_to_60_seconds() {
    assert_eq!(MAX_LIFETIME_SECS, 60);
    for (secs, ok) in [(0, false), (1, true), (60, true), (61, false)] {
        let c = Common {
            lifetime_secs: secs,
            ..common()
        };
        match client_assertion(&c, &Placement::None, Grant::ClientCredentials) {
            Ok((_, claims)) => {
                assert!(ok, "{secs} s accepted");
                assert_eq!(claims["exp"], 1_800_000_000 + secs);
            }
            Err(e) => {
                assert!(!ok, "{secs} s refused");
                assert_eq!(e.path(), "lifetimeSeconds");
            }
        }
    }
}

#[test]
fn jti_carries_at_least_96_bits() {
    // 16 base64url characters are 96 bits, the least RFC 9449 §4.2 asks of a DPoP jti; the
    // same bound holds for the assertion's jti (RFC 7523 §3: unique, to prevent replay).
    assert_refused(
        &Common {
            jti: "0123456789abcde",
            ..common()
        },
        "jti",
    );
    assert!(client_assertion(&common(), &Placement::None, Grant::ClientCredentials).is_ok());
}

fn params<'a>(nonce: &'a str, resources: &'a [String]) -> AuthorizeParams<'a> {
    AuthorizeParams {
        redirect_uri: "https://ehr.example/cb",
        scope: "openid",
        state: "state-1",
        nonce,
        code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        resources,
        ..AuthorizeParams::default()
    }
}

#[test]
fn request_object_sends_nonce_and_resource_only_when_given() {
    let (_, c) = request_object(&common(), &params("", &[]), &Placement::None).unwrap();
    assert!(c.get("nonce").is_none());
    assert!(c.get("resource").is_none());
    let res = ["https://api.example/".to_string()];
    let (_, c) = request_object(&common(), &params("n-1", &res), &Placement::None).unwrap();
    assert_eq!(c["nonce"], "n-1");
    // RFC 8707 §2: `resource` may be given more than once; the JSON form is an array.
    assert_eq!(c["resource"], json!(["https://api.example/"]));
    assert_eq!(c["code_challenge_method"], "S256");
    assert_eq!(c["exp"], 1_800_000_010u64);
}

#[test]
fn details_are_one_object_for_one_type_and_an_array_for_two() {
    // NorskHelsenett/HelseID.Library, `HelseId.Library/Services/PayloadClaimCreators/
    // DetailsCreators/DetailsCreator.cs`: one type gives the object, several an array.
    let only_tenant = Details {
        trust_context: None,
        tenant: Some(tenant()),
    };
    let v = only_tenant.to_json().unwrap();
    assert_eq!(v["type"], "helseid_authorization");
    let only_att = Details {
        trust_context: Some(attestation()),
        tenant: None,
    };
    assert_eq!(
        only_att.to_json().unwrap()["type"],
        "nhn:tillitsrammeverk:parameters"
    );
    let both = Details {
        trust_context: Some(attestation()),
        tenant: Some(tenant()),
    };
    let v = both.to_json().unwrap();
    let items = v.as_array().expect("an array for two types");
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["type"], "nhn:tillitsrammeverk:parameters");
    assert_eq!(items[1]["type"], "helseid_authorization");
    let none = Details {
        trust_context: None,
        tenant: None,
    };
    assert_eq!(
        none.to_json().unwrap_err().code(),
        ErrorCode::InvalidArgument
    );
}

#[test]
fn a_tenant_alone_goes_into_a_client_credentials_assertion() {
    let p = Placement::ClientAssertion(Details {
        trust_context: None,
        tenant: Some(tenant()),
    });
    let (_, c) = client_assertion(&common(), &p, Grant::ClientCredentials).unwrap();
    assert_eq!(
        c["assertion_details"]["practitioner_role"]["organization"]["identifier"]["value"],
        "NO:ORGNR:974760673:"
    );
}

#[test]
fn the_request_object_typ_is_nhns_or_rfc_9101s() {
    use tillit::assertion::RequestObjectTyp;
    // NHN's code signs request objects with the client assertion's typ
    // (NorskHelsenett/Pasientens-journaldokumenter, `HomeController.cs` `BuildHelseIdJwt`;
    // NorskHelsenett/HelseID.Samples, `NativeClients/SimpleRequestObjectsDemo/Program.cs`);
    // RFC 9101 §10.8 registers `oauth-authz-req+jwt`.
    for (s, t) in [
        ("client-authentication+jwt", RequestObjectTyp::Nhn),
        ("oauth-authz-req+jwt", RequestObjectTyp::Rfc9101),
    ] {
        assert_eq!(RequestObjectTyp::parse(s, "$.typ").unwrap(), t);
        assert_eq!(t.as_str(), s);
    }
    assert_eq!(RequestObjectTyp::default(), RequestObjectTyp::Nhn);
    for other in ["JWT", "", "oauth-authz-req+JWT"] {
        let e = RequestObjectTyp::parse(other, "$.typ").unwrap_err();
        assert_eq!((e.code(), e.path()), (ErrorCode::InvalidArgument, "$.typ"));
    }
    let p = AuthorizeParams {
        typ: RequestObjectTyp::Rfc9101,
        ..params("", &[])
    };
    let (h, _) = request_object(&common(), &p, &Placement::None).unwrap();
    assert_eq!(h["typ"], "oauth-authz-req+jwt");
}
