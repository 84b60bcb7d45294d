//! Client assertions (private_key_jwt) and PAR request objects, with the attestation in
//! exactly one of them.
//!
//! The trust framework allows the attestation in the PAR request object
//! (`authorization_details`, for the life of the login) *or* in the client assertion at the
//! token endpoint (`assertion_details`, for that token only), never both in one flow
//! (HelseID answers `HID-DOUBLE-STRUCTURE`). [`Placement`] makes that a type: a flow picks
//! one placement, and only that placement's builder takes the details.

use crate::error::{Error, ErrorCode, Result};
use crate::jose::Alg;
use crate::trust::{Grant, TenantOrganisation, TrustContext};
use serde_json::{json, Map, Value};

/// `typ` of a HelseID client assertion.
pub const TYP_CLIENT_ASSERTION: &str = "client-authentication+jwt";
/// `client_assertion_type` for private_key_jwt.
pub const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Longest allowed assertion lifetime, in seconds.
pub const MAX_LIFETIME_SECS: u64 = 60;
/// Default assertion lifetime (NHN's own library uses 10 s).
pub const DEFAULT_LIFETIME_SECS: u64 = 10;

/// The authorisation details a token request carries: the attestation, the organisation the
/// client acts for, or both. A tenant goes alone in client_credentials, as NHN's .NET and Java
/// libraries send it for system clients.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Details {
    /// The trust context (only a practitioner's attestation is sent).
    pub trust_context: Option<TrustContext>,
    /// The organisation the client acts for.
    pub tenant: Option<TenantOrganisation>,
}

impl Details {
    /// The details as HelseID.Library (.NET) sends them: one object when there is one type,
    /// an array when there are several (NorskHelsenett/HelseID.Library,
    /// `HelseId.Library/Services/PayloadClaimCreators/DetailsCreators/DetailsCreator.cs`).
    /// An error when a citizen context is given (citizens are never attested).
    pub fn to_json(&self) -> Result<Value> {
        let mut items = Vec::new();
        match &self.trust_context {
            Some(TrustContext::Practitioner(a)) => items.push(a.to_json()),
            Some(TrustContext::Citizen(_)) => return Err(Error::new(
                ErrorCode::InvalidArgument,
                "trustContext",
                "a citizen context is not an attestation: send it without trust-framework details",
            )),
            None => {}
        }
        if let Some(t) = &self.tenant {
            items.push(t.to_json());
        }
        Ok(match items.len() {
            0 => {
                return Err(Error::new(
                    ErrorCode::InvalidArgument,
                    "trustContext",
                    "details need a trust context or a tenant",
                ))
            }
            1 => items.pop().unwrap_or_default(),
            _ => Value::Array(items),
        })
    }
}

/// Where a flow carries the attestation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Placement {
    /// In the PAR request object, for the whole login.
    RequestObject(Details),
    /// In each client assertion at the token endpoint.
    ClientAssertion(Details),
    /// Not at all (client_credentials without a user, or citizen logins).
    None,
}

/// The inputs every signed JWT of a flow shares.
#[derive(Clone, Debug)]
pub struct Common<'a> {
    /// The registered client id.
    pub client_id: &'a str,
    /// The issuer from discovery (the `aud`).
    pub issuer: &'a str,
    /// Signing algorithm.
    pub alg: Alg,
    /// Key id, if the registered JWK has one.
    pub kid: Option<&'a str>,
    /// Unix seconds now.
    pub now: u64,
    /// Lifetime in seconds, 1 to 60.
    pub lifetime_secs: u64,
    /// A fresh unique id.
    pub jti: &'a str,
}

impl Common<'_> {
    fn check(&self) -> Result<()> {
        if self.client_id.is_empty() || self.client_id.len() > 256 {
            return Err(Error::new(
                ErrorCode::InvalidArgument,
                "clientId",
                "must be 1 to 256 characters",
            ));
        }
        if !(self.issuer.starts_with("https://") || self.issuer.starts_with("http://")) {
            return Err(Error::new(
                ErrorCode::InvalidArgument,
                "issuer",
                "must be an http(s) URL (the issuer from discovery)",
            ));
        }
        if self.lifetime_secs == 0 || self.lifetime_secs > MAX_LIFETIME_SECS {
            return Err(Error::new(
                ErrorCode::InvalidArgument,
                "lifetimeSeconds",
                "must be 1 to 60 seconds",
            ));
        }
        if self.jti.len() < 16 {
            return Err(Error::new(
                ErrorCode::InvalidArgument,
                "jti",
                "must have at least 16 characters of randomness",
            ));
        }
        Ok(())
    }

    fn header(&self, typ: &str) -> Value {
        let mut h = Map::new();
        h.insert("alg".into(), json!(self.alg.name()));
        if let Some(kid) = self.kid {
            h.insert("kid".into(), json!(kid));
        }
        h.insert("typ".into(), json!(typ));
        Value::Object(h)
    }

    fn base_claims(&self) -> Map<String, Value> {
        let mut c = Map::new();
        c.insert("iss".into(), json!(self.client_id));
        c.insert("sub".into(), json!(self.client_id));
        c.insert("aud".into(), json!(self.issuer));
        c.insert("iat".into(), json!(self.now));
        c.insert("nbf".into(), json!(self.now));
        c.insert("exp".into(), json!(self.now + self.lifetime_secs));
        c.insert("jti".into(), json!(self.jti));
        c
    }
}

/// Header and claims of a client assertion for a token request of `grant`. `details` are sent
/// as `assertion_details` only when the flow's placement is [`Placement::ClientAssertion`]; an
/// attestation without the user is refused where `grant` does not carry one
/// ([`TrustContext::check_grant`]).
pub fn client_assertion(
    common: &Common<'_>,
    placement: &Placement,
    grant: Grant,
) -> Result<(Value, Value)> {
    common.check()?;
    let mut claims = common.base_claims();
    if let Placement::ClientAssertion(d) = placement {
        check_details_fresh(d, common.now)?;
        if let Some(tc) = &d.trust_context {
            tc.check_grant(grant).map_err(|e| e.under("trustContext"))?;
        }
        claims.insert("assertion_details".into(), d.to_json()?);
    }
    Ok((common.header(TYP_CLIENT_ASSERTION), Value::Object(claims)))
}

/// The `typ` header of a PAR request object. NHN's code signs request objects with
/// `client-authentication+jwt`, the client assertion's type (NorskHelsenett/Pasientens-journaldokumenter,
/// `.NET/PatientHealthRecordsEPJ/.../Controllers/HomeController.cs` `BuildHelseIdJwt`, used for both;
/// NorskHelsenett/HelseID.Samples, `NativeClients/SimpleRequestObjectsDemo/Program.cs`); RFC 9101
/// names `oauth-authz-req+jwt`. NHN's form is the default; the RFC's is a choice.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RequestObjectTyp {
    /// `client-authentication+jwt`, as NHN's code sets it.
    #[default]
    Nhn,
    /// `oauth-authz-req+jwt` (RFC 9101).
    Rfc9101,
}

impl RequestObjectTyp {
    /// The header value.
    pub const fn as_str(self) -> &'static str {
        match self {
            RequestObjectTyp::Nhn => TYP_CLIENT_ASSERTION,
            RequestObjectTyp::Rfc9101 => "oauth-authz-req+jwt",
        }
    }

    /// Reads a header value; anything else is refused.
    pub fn parse(s: &str, path: &str) -> Result<Self> {
        match s {
            TYP_CLIENT_ASSERTION => Ok(RequestObjectTyp::Nhn),
            "oauth-authz-req+jwt" => Ok(RequestObjectTyp::Rfc9101),
            _ => Err(Error::new(
                ErrorCode::InvalidArgument,
                path,
                "must be client-authentication+jwt (as NHN's code sets it) or oauth-authz-req+jwt (RFC 9101)",
            )),
        }
    }
}

/// The authorisation-request parameters a PAR request object carries.
#[derive(Clone, Debug, Default)]
pub struct AuthorizeParams<'a> {
    /// The request object's `typ`.
    pub typ: RequestObjectTyp,
    /// `redirect_uri`.
    pub redirect_uri: &'a str,
    /// Space-separated scopes.
    pub scope: &'a str,
    /// `state`.
    pub state: &'a str,
    /// `nonce` (OpenID).
    pub nonce: &'a str,
    /// PKCE `code_challenge` (S256).
    pub code_challenge: &'a str,
    /// Resource indicators.
    pub resources: &'a [String],
}

/// Header and claims of a PAR request object (`typ` from [`AuthorizeParams::typ`]). The attestation
/// is sent as `authorization_details` only when the placement is [`Placement::RequestObject`].
pub fn request_object(
    common: &Common<'_>,
    params: &AuthorizeParams<'_>,
    placement: &Placement,
) -> Result<(Value, Value)> {
    common.check()?;
    for (name, v) in [
        ("redirectUri", params.redirect_uri),
        ("state", params.state),
        ("codeChallenge", params.code_challenge),
        ("scope", params.scope),
    ] {
        if v.is_empty() {
            return Err(Error::new(
                ErrorCode::InvalidArgument,
                name,
                "is required for an authorisation request",
            ));
        }
    }
    let mut c = Map::new();
    c.insert("iss".into(), json!(common.client_id));
    c.insert("aud".into(), json!(common.issuer));
    c.insert("client_id".into(), json!(common.client_id));
    c.insert("jti".into(), json!(common.jti));
    c.insert("iat".into(), json!(common.now));
    c.insert("nbf".into(), json!(common.now));
    c.insert("exp".into(), json!(common.now + common.lifetime_secs));
    c.insert("response_type".into(), json!("code"));
    c.insert("redirect_uri".into(), json!(params.redirect_uri));
    c.insert("scope".into(), json!(params.scope));
    c.insert("state".into(), json!(params.state));
    if !params.nonce.is_empty() {
        c.insert("nonce".into(), json!(params.nonce));
    }
    c.insert("code_challenge".into(), json!(params.code_challenge));
    c.insert("code_challenge_method".into(), json!("S256"));
    if !params.resources.is_empty() {
        c.insert("resource".into(), json!(params.resources));
    }
    if let Placement::RequestObject(d) = placement {
        check_details_fresh(d, common.now)?;
        c.insert("authorization_details".into(), d.to_json()?);
    }
    Ok((common.header(params.typ.as_str()), Value::Object(c)))
}

fn check_details_fresh(d: &Details, now: u64) -> Result<()> {
    match &d.trust_context {
        Some(tc) => tc.check_fresh(now, 30).map_err(|e| e.under("trustContext")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trust::tests::{sample, synthetic_fnr};

    fn common(now: u64) -> Common<'static> {
        Common {
            client_id: "tillit-demo",
            issuer: "https://helseid-sts.test.nhn.no",
            alg: Alg::Es256,
            kid: Some("k1"),
            now,
            lifetime_secs: 10,
            jti: "0123456789abcdef0123",
        }
    }

    fn details() -> Details {
        Details {
            trust_context: Some(TrustContext::from_json(&sample(&synthetic_fnr(1))).unwrap()),
            tenant: None,
        }
    }

    #[test]
    fn assertion_shape() {
        let (h, c) = client_assertion(
            &common(1000),
            &Placement::ClientAssertion(details()),
            Grant::ClientCredentials,
        )
        .unwrap();
        assert_eq!(
            h,
            json!({"alg": "ES256", "kid": "k1", "typ": "client-authentication+jwt"})
        );
        assert_eq!(c["iss"], "tillit-demo");
        assert_eq!(c["sub"], "tillit-demo");
        assert_eq!(c["aud"], "https://helseid-sts.test.nhn.no");
        assert_eq!(c["exp"], 1010);
        assert_eq!(c["nbf"], 1000);
        assert_eq!(
            c["assertion_details"]["type"],
            "nhn:tillitsrammeverk:parameters"
        );
        assert!(c.get("authorization_details").is_none());
    }

    #[test]
    fn attestation_in_exactly_one_place() {
        let p = Placement::RequestObject(details());
        let params = AuthorizeParams {
            typ: RequestObjectTyp::default(),
            redirect_uri: "https://ehr.example/cb",
            scope: "openid",
            state: "s",
            nonce: "n",
            code_challenge: "c",
            resources: &[],
        };
        let (_, ro) = request_object(&common(1000), &params, &p).unwrap();
        assert!(ro["authorization_details"].is_object());
        let (_, ca) = client_assertion(&common(1000), &p, Grant::AuthorizationCode).unwrap();
        assert!(ca.get("assertion_details").is_none());
        let p = Placement::ClientAssertion(details());
        let (_, ro) = request_object(&common(1000), &params, &p).unwrap();
        assert!(ro.get("authorization_details").is_none());
    }

    #[test]
    fn argument_rules() {
        let mut c = common(1000);
        c.lifetime_secs = 61;
        assert_eq!(
            client_assertion(&c, &Placement::None, Grant::ClientCredentials)
                .unwrap_err()
                .path(),
            "lifetimeSeconds"
        );
        c.lifetime_secs = 0;
        assert!(client_assertion(&c, &Placement::None, Grant::ClientCredentials).is_err());
        let mut c = common(1000);
        c.issuer = "helseid";
        assert_eq!(
            client_assertion(&c, &Placement::None, Grant::ClientCredentials)
                .unwrap_err()
                .path(),
            "issuer"
        );
        let mut c = common(1000);
        c.jti = "short";
        assert!(client_assertion(&c, &Placement::None, Grant::ClientCredentials).is_err());
    }

    #[test]
    fn stale_attestation_refused() {
        let mut v = sample(&synthetic_fnr(1));
        v["toa"] = json!(1000);
        let d = Details {
            trust_context: Some(TrustContext::from_json(&v).unwrap()),
            tenant: None,
        };
        let e = client_assertion(
            &common(1000 + 3601),
            &Placement::ClientAssertion(d),
            Grant::RefreshToken,
        )
        .unwrap_err();
        assert_eq!(e.code(), ErrorCode::AttestationExpired);
        assert_eq!(e.path(), "trustContext.toa");
    }

    #[test]
    fn citizen_context_is_not_sent() {
        let v = json!({"type": "tillit:citizen", "citizen": {"identifier": {"id": synthetic_fnr(3), "system": "urn:oid:2.16.578.1.12.4.1.4.1"}}});
        let d = Details {
            trust_context: Some(TrustContext::from_json(&v).unwrap()),
            tenant: None,
        };
        assert_eq!(
            client_assertion(
                &common(1),
                &Placement::ClientAssertion(d),
                Grant::ClientCredentials
            )
            .unwrap_err()
            .path(),
            "trustContext"
        );
    }
}
