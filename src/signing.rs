//! The server-side signer's rules: which JWS signing inputs the organisation's client key
//! may sign, for which session.
//!
//! A backend that signs whatever bytes a browser posts is a signing oracle: any script in the
//! page, or any logged-in user with a tool, gets assertions with any audience, lifetime,
//! practitioner or patient. [`Gate::check`] reads the signing input with the core's own
//! readers ([`crate::trust`], [`crate::ident`], [`crate::jose`]) and approves exactly two
//! shapes, those [`crate::assertion`] builds:
//!
//! - a client assertion (`typ: client-authentication+jwt`) of the configured client, for the
//!   configured issuer, living at most 60 s, issued now, with a `jti` not seen before;
//! - a PAR request object (`typ: oauth-authz-req+jwt`) of the same client, with a configured
//!   redirect URI and configured scopes;
//!
//! and, when they carry an attestation (`assertion_details` / `authorization_details`), one
//! that is valid by [`crate::trust`]'s rules, fresh, and bound to the caller's [`Session`]:
//! the practitioner is the session's user, the organisation and point of care are the
//! session's, every patient is one the session may open. Everything else is a [`Refusal`]
//! whose error names the field and the rule, never the value.
//!
//! The gate also holds the state the rules need: the `jti`s it approved (until they expire)
//! and a token bucket per session (the rate limit).

use crate::assertion::{MAX_LIFETIME_SECS, TYP_CLIENT_ASSERTION};
use crate::error::{Error, ErrorCode, Result};
use crate::ident::{HprNr, NationalId, OrgNr};
use crate::jose::{b64u_decode, Alg};
use crate::json::{parse_within, Obj};
use crate::trust::{
    Attestation, Patient, Practitioner, TenantOrganisation, TrustContext,
    TYPE_HELSEID_AUTHORIZATION, TYPE_TRUST_FRAMEWORK,
};
use serde_json::Value;
use std::collections::HashMap;

/// `typ` of a PAR request object.
pub const TYP_REQUEST_OBJECT: &str = "oauth-authz-req+jwt";
/// Longest signing input the gate reads (the core's own request objects are ~3 KB).
pub const MAX_INPUT_BYTES: usize = crate::limits::SIGNING_REQUEST.bytes;
/// Default tolerance, in seconds, for `iat`/`nbf` against the server's clock and for a `toa`
/// slightly in the future.
pub const DEFAULT_SKEW_SECS: u64 = crate::limits::DEFAULT_SKEW_SECS;
/// Most `jti`s held at once; beyond it the gate refuses (fail closed) rather than forget.
pub const MAX_SEEN_JTIS: usize = 100_000;
/// Sessions tracked before full (refilled) buckets are forgotten.
pub const MAX_BUCKETS: usize = 10_000;
/// Default rate limit: a burst of this many signatures per session …
pub const DEFAULT_BURST: u32 = 20;
/// … refilled at this many per minute.
pub const DEFAULT_PER_MINUTE: u32 = 60;

/// Why the gate refused: a stable code (the JS `SigningRefusedError.reason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    /// Not a JWS signing input (`b64u(header).b64u(claims)`, both JSON objects).
    NotJws,
    /// The header is not one the configured key signs (`alg`, `kid`, unknown members).
    Header,
    /// Neither a client assertion nor a request object (`typ`), or members they do not have.
    Type,
    /// `iss`, `sub` or `client_id` is not the configured client.
    Client,
    /// `aud` is not the configured issuer.
    Audience,
    /// Lifetime (`exp − iat`) over 60 s, or not positive.
    Lifetime,
    /// `iat`/`nbf` not now (beyond the skew), or already expired.
    Time,
    /// The `jti` was signed before (within its lifetime), or is not a proper `jti`.
    Replay,
    /// The attestation breaks the trust framework's rules (or is not an attestation).
    Attestation,
    /// The attestation's `toa` is too old or in the future.
    StaleAttestation,
    /// The attestation names another practitioner than the session's user.
    Practitioner,
    /// The attestation names another organisation or point of care than the session's.
    Organisation,
    /// The attestation names a patient the session may not open.
    Patient,
    /// The request object's `redirect_uri` is not configured.
    RedirectUri,
    /// The request object asks for a scope that is not configured, or breaks another
    /// authorisation-request rule (`response_type`, PKCE, resources).
    Request,
    /// The session asked for more signatures than the rate limit allows.
    RateLimited,
    /// The gate's replay memory is full: nothing more is signed until entries expire.
    Busy,
}

impl Reason {
    /// The stable string code.
    pub const fn as_str(self) -> &'static str {
        match self {
            Reason::NotJws => "NOT_JWS",
            Reason::Header => "HEADER",
            Reason::Type => "TYPE",
            Reason::Client => "CLIENT",
            Reason::Audience => "AUDIENCE",
            Reason::Lifetime => "LIFETIME",
            Reason::Time => "TIME",
            Reason::Replay => "REPLAY",
            Reason::Attestation => "ATTESTATION",
            Reason::StaleAttestation => "STALE_ATTESTATION",
            Reason::Practitioner => "PRACTITIONER",
            Reason::Organisation => "ORGANISATION",
            Reason::Patient => "PATIENT",
            Reason::RedirectUri => "REDIRECT_URI",
            Reason::Request => "REQUEST",
            Reason::RateLimited => "RATE_LIMITED",
            Reason::Busy => "BUSY",
        }
    }

    /// Every refusal reason, in declaration order: the list the JS wrapper's types are checked
    /// against (`tests/agreement.rs`).
    pub const ALL: [Reason; 17] = [
        Reason::NotJws,
        Reason::Header,
        Reason::Type,
        Reason::Client,
        Reason::Audience,
        Reason::Lifetime,
        Reason::Time,
        Reason::Replay,
        Reason::Attestation,
        Reason::StaleAttestation,
        Reason::Practitioner,
        Reason::Organisation,
        Reason::Patient,
        Reason::RedirectUri,
        Reason::Request,
        Reason::RateLimited,
        Reason::Busy,
    ];
}

/// A refusal: the reason, and an error (code `SIGNING_REFUSED`) naming the field and rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// Why, as a stable code.
    pub reason: Reason,
    /// Where and which rule; never the value.
    pub error: Error,
}

fn refuse<T>(reason: Reason, path: impl Into<String>, rule: impl Into<String>) -> Refused<T> {
    Err(Refusal {
        reason,
        error: Error::new(ErrorCode::SigningRefused, path, rule),
    })
}

/// A core error (from a reader) as a refusal for `reason`, re-rooted under `prefix`; the
/// reader's code goes into the rule (`INVALID_IDENTIFIER: fails the check digit`).
fn refusal(reason: Reason, prefix: &str) -> impl Fn(Error) -> Refusal + '_ {
    move |e| {
        let e = e.under(prefix);
        Refusal {
            reason,
            error: Error::new(
                ErrorCode::SigningRefused,
                e.path(),
                format!("{}: {}", e.code().as_str(), e.rule()),
            ),
        }
    }
}

type Refused<T> = core::result::Result<T, Refusal>;

/// What the signer is configured for: its key, its client, what its requests may ask.
#[derive(Clone, Debug)]
pub struct Config {
    /// The registered client id.
    pub client_id: String,
    /// The issuer from discovery: the only `aud`.
    pub issuer: String,
    /// The key's algorithm.
    pub alg: Alg,
    /// The key's `kid`; when `None`, a header with a `kid` is refused.
    pub kid: Option<String>,
    /// Redirect URIs a request object may name (exact match).
    pub redirect_uris: Vec<String>,
    /// Scopes a request object may ask for (each space-separated scope must be one).
    pub scopes: Vec<String>,
    /// Resource indicators a request object may name (default none).
    pub resources: Vec<String>,
    /// Clock tolerance in seconds.
    pub skew_secs: u64,
    /// Whether an attestation without `practitioner.identifier` (NHN's "narrow" form, the
    /// user taken from the login) may be signed. Off by default: see SECURITY.md.
    pub allow_narrow: bool,
    /// Rate limit: burst per session.
    pub burst: u32,
    /// Rate limit: refill per minute.
    pub per_minute: u32,
    /// Most unexpired `jti`s remembered (default [`MAX_SEEN_JTIS`]).
    pub max_seen_jtis: usize,
}

impl Config {
    /// A configuration with the defaults (30 s skew, no narrow attestations, 20 burst,
    /// 60 per minute, no resources).
    pub fn new(client_id: &str, issuer: &str, alg: Alg, kid: Option<&str>) -> Result<Self> {
        if client_id.is_empty() || client_id.len() > 256 {
            return Err(Error::new(
                ErrorCode::InvalidArgument,
                "clientId",
                "must be 1 to 256 characters",
            ));
        }
        if !(issuer.starts_with("https://") || issuer.starts_with("http://")) {
            return Err(Error::new(
                ErrorCode::InvalidArgument,
                "issuer",
                "must be an http(s) URL (the issuer from discovery)",
            ));
        }
        Ok(Config {
            client_id: client_id.into(),
            issuer: issuer.into(),
            alg,
            kid: kid.map(String::from),
            redirect_uris: Vec::new(),
            scopes: Vec::new(),
            resources: Vec::new(),
            skew_secs: DEFAULT_SKEW_SECS,
            allow_narrow: false,
            burst: DEFAULT_BURST,
            per_minute: DEFAULT_PER_MINUTE,
            max_seen_jtis: MAX_SEEN_JTIS,
        })
    }
}

/// The caller, as the integrator's `authorize` callback found them in the authenticated
/// session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// The session's user (national id, as HelseID's `pid` of the login).
    pub practitioner: NationalId,
    /// The user's HPR number, if the session knows it.
    pub hpr_nr: Option<HprNr>,
    /// The session's organisation (legal entity).
    pub legal_entity: OrgNr,
    /// The session's point of care (the legal entity where there are no sub-units).
    pub point_of_care: OrgNr,
    /// The patients this user may open now (the callback decides; empty: none).
    pub allowed_patients: Vec<NationalId>,
}

/// What was approved, for the signature's log entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Approved {
    /// Which of the two shapes.
    pub kind: Kind,
    /// The `jti` signed.
    pub jti: String,
    /// Its expiry (unix seconds).
    pub exp: u64,
    /// The attestation carried, if any (for the access log).
    pub trust_context: Option<TrustContext>,
}

/// The two shapes the gate signs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A client assertion.
    ClientAssertion,
    /// A PAR request object.
    RequestObject,
}

impl Kind {
    /// The wire name.
    pub const fn name(self) -> &'static str {
        match self {
            Kind::ClientAssertion => "client-assertion",
            Kind::RequestObject => "request-object",
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    at_ms: u64,
}

/// The signer's rules and the state they need (seen `jti`s, per-session buckets).
#[derive(Debug)]
pub struct Gate {
    config: Config,
    seen: HashMap<String, u64>,
    buckets: HashMap<String, Bucket>,
}

const ASSERTION_MEMBERS: [&str; 8] = [
    "iss",
    "sub",
    "aud",
    "iat",
    "nbf",
    "exp",
    "jti",
    "assertion_details",
];
const REQUEST_MEMBERS: [&str; 16] = [
    "iss",
    "aud",
    "client_id",
    "jti",
    "iat",
    "nbf",
    "exp",
    "response_type",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "resource",
    "authorization_details",
];

impl Gate {
    /// A gate for `config`.
    pub fn new(config: Config) -> Self {
        Gate {
            config,
            seen: HashMap::new(),
            buckets: HashMap::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// How many sessions' rate-limit buckets are held (for monitoring the signer's memory).
    pub fn tracked_sessions(&self) -> usize {
        self.buckets.len()
    }

    /// Takes one signature from `session_key`'s bucket at `now_ms`, or refuses.
    pub fn take(&mut self, session_key: &str, now_ms: u64) -> Refused<()> {
        let (burst, per_ms) = (
            f64::from(self.config.burst),
            f64::from(self.config.per_minute) / 60_000.0,
        );
        if self.buckets.len() > MAX_BUCKETS {
            // Forget sessions whose bucket has refilled: they are as if new.
            self.buckets
                .retain(|_, b| b.tokens + (now_ms.saturating_sub(b.at_ms) as f64) * per_ms < burst);
        }
        let b = self
            .buckets
            .entry(session_key.to_string())
            .or_insert(Bucket {
                tokens: burst,
                at_ms: now_ms,
            });
        b.tokens = (b.tokens + (now_ms.saturating_sub(b.at_ms) as f64) * per_ms).min(burst);
        b.at_ms = b.at_ms.max(now_ms);
        if b.tokens < 1.0 {
            return refuse(
                Reason::RateLimited,
                "session",
                format!(
                    "asked for more than {} signatures at once or {} a minute",
                    self.config.burst, self.config.per_minute
                ),
            );
        }
        b.tokens -= 1.0;
        Ok(())
    }

    /// Decides whether `input` (the JWS signing input, `b64u(header).b64u(claims)`) may be
    /// signed for `session` at `now` (unix seconds). On approval the `jti` is remembered
    /// until it expires, so the same `jti` is never approved twice.
    pub fn check(&mut self, input: &[u8], session: &Session, now: u64) -> Refused<Approved> {
        let (header, claims) = split(input)?;
        let mut kind = self.header(&header)?;
        let c = Obj::new(&claims, "$.claims", ErrorCode::SigningRefused).map_err(|e| Refusal {
            reason: Reason::NotJws,
            error: e,
        })?;
        // NHN's reference EHR and HelseID.Samples give the PAR request object the same `typ`
        // as a client assertion (docs/nhn-conformance.md): a `client_id` claim, which a client
        // assertion never has, marks it as a request object; its own rules then apply.
        if kind == Kind::ClientAssertion && c.get("client_id").is_some() {
            kind = Kind::RequestObject;
        }
        let typ_err = |e: Error| Refusal {
            reason: Reason::Type,
            error: e,
        };
        let cfg = &self.config;
        let details_key = match kind {
            Kind::ClientAssertion => {
                c.only(&ASSERTION_MEMBERS).map_err(typ_err)?;
                self.same_client(&c, "sub")?;
                "assertion_details"
            }
            Kind::RequestObject => {
                c.only(&REQUEST_MEMBERS).map_err(typ_err)?;
                self.same_client(&c, "client_id")?;
                self.request(&c)?;
                "authorization_details"
            }
        };
        self.same_client(&c, "iss")?;
        if c.get("aud").and_then(Value::as_str) != Some(cfg.issuer.as_str()) {
            return refuse(
                Reason::Audience,
                c.at("aud"),
                "must be the configured issuer (one string)",
            );
        }
        let (jti, exp) = self.times(&c, now)?;
        let trust_context = match c.get(details_key) {
            Some(d) => Some(self.attestation(d, &c.at(details_key), session, now)?),
            None => None,
        };
        if self.seen.len() >= cfg.max_seen_jtis {
            self.seen.retain(|_, e| *e + cfg.skew_secs >= now);
            if self.seen.len() >= cfg.max_seen_jtis {
                return refuse(
                    Reason::Busy,
                    "$.claims.jti",
                    "the signer holds too many unexpired jti values; try again shortly",
                );
            }
        }
        self.seen.insert(jti.to_string(), exp);
        Ok(Approved {
            kind,
            jti: jti.to_string(),
            exp,
            trust_context,
        })
    }

    fn header(&self, h: &Value) -> Refused<Kind> {
        let o = Obj::new(h, "$.header", ErrorCode::SigningRefused).map_err(|e| Refusal {
            reason: Reason::NotJws,
            error: e,
        })?;
        o.only(&["alg", "kid", "typ"]).map_err(|e| Refusal {
            reason: Reason::Header,
            error: e,
        })?;
        if o.get("alg").and_then(Value::as_str) != Some(self.config.alg.name()) {
            return refuse(
                Reason::Header,
                o.at("alg"),
                "must be the configured key's alg",
            );
        }
        // Absent and configured-absent agree; a kid where none is configured does not.
        if o.get("kid").and_then(Value::as_str) != self.config.kid.as_deref() {
            return refuse(
                Reason::Header,
                o.at("kid"),
                "must be the configured key's kid",
            );
        }
        match o.get("typ").and_then(Value::as_str) {
            Some(TYP_CLIENT_ASSERTION) => Ok(Kind::ClientAssertion),
            Some(TYP_REQUEST_OBJECT) => Ok(Kind::RequestObject),
            _ => refuse(
                Reason::Type,
                o.at("typ"),
                "must be client-authentication+jwt or oauth-authz-req+jwt",
            ),
        }
    }

    fn same_client(&self, c: &Obj<'_>, key: &str) -> Refused<()> {
        if c.get(key).and_then(Value::as_str) != Some(self.config.client_id.as_str()) {
            return refuse(
                Reason::Client,
                c.at(key),
                "must be the configured client id",
            );
        }
        Ok(())
    }

    fn times<'a>(&self, c: &Obj<'a>, now: u64) -> Refused<(&'a str, u64)> {
        let skew = self.config.skew_secs;
        let int = |k: &str| -> Refused<u64> {
            match c.opt_u64(k) {
                Ok(Some(v)) => Ok(v),
                _ => refuse(Reason::Time, c.at(k), "is required, a non-negative integer"),
            }
        };
        let (iat, nbf, exp) = (int("iat")?, int("nbf")?, int("exp")?);
        if exp <= iat || exp - iat > MAX_LIFETIME_SECS {
            return refuse(
                Reason::Lifetime,
                c.at("exp"),
                "exp − iat must be 1 to 60 seconds",
            );
        }
        if iat.abs_diff(now) > skew {
            return refuse(
                Reason::Time,
                c.at("iat"),
                format!("must be now, within {skew} s"),
            );
        }
        if nbf.abs_diff(now) > skew || nbf > exp {
            return refuse(
                Reason::Time,
                c.at("nbf"),
                format!("must be now, within {skew} s, and before exp"),
            );
        }
        if exp <= now {
            return refuse(Reason::Time, c.at("exp"), "has passed");
        }
        let jti = match c.get("jti").and_then(Value::as_str) {
            Some(j) if (16..=128).contains(&j.len()) && j.bytes().all(|b| b.is_ascii_graphic()) => {
                j
            }
            _ => {
                return refuse(
                    Reason::Replay,
                    c.at("jti"),
                    "is required: 16 to 128 printable ASCII characters",
                )
            }
        };
        // Entries are kept until their own exp (+ skew) has passed, and an input whose exp has
        // passed is refused above: a remembered jti is a replay.
        if self.seen.contains_key(jti) {
            return refuse(
                Reason::Replay,
                c.at("jti"),
                "was signed before: a jti is used once",
            );
        }
        Ok((jti, exp))
    }

    fn request(&self, c: &Obj<'_>) -> Refused<()> {
        let cfg = &self.config;
        let s = |k: &str| c.get(k).and_then(Value::as_str);
        match s("redirect_uri") {
            Some(u) if cfg.redirect_uris.iter().any(|r| r == u) => {}
            _ => {
                return refuse(
                    Reason::RedirectUri,
                    c.at("redirect_uri"),
                    "must be one of the configured redirect URIs",
                )
            }
        }
        if s("response_type") != Some("code") {
            return refuse(Reason::Request, c.at("response_type"), "must be code");
        }
        if s("code_challenge_method") != Some("S256")
            || s("code_challenge").is_none_or(str::is_empty)
        {
            return refuse(
                Reason::Request,
                c.at("code_challenge"),
                "PKCE with S256 is required",
            );
        }
        if s("state").is_none_or(str::is_empty) {
            return refuse(Reason::Request, c.at("state"), "is required");
        }
        if c.get("nonce").is_some() && s("nonce").is_none() {
            return refuse(Reason::Request, c.at("nonce"), "must be a string");
        }
        match s("scope") {
            Some(sc)
                if !sc.is_empty() && sc.split(' ').all(|x| cfg.scopes.iter().any(|k| k == x)) => {}
            _ => {
                return refuse(
                    Reason::Request,
                    c.at("scope"),
                    "every scope must be one of the configured scopes",
                )
            }
        }
        if let Some(r) = c.get("resource") {
            let ok = r.as_array().is_some_and(|a| {
                a.iter().all(|x| {
                    x.as_str()
                        .is_some_and(|x| cfg.resources.iter().any(|k| k == x))
                })
            });
            if !ok {
                return refuse(
                    Reason::Request,
                    c.at("resource"),
                    "every resource must be one of the configured resources",
                );
            }
        }
        Ok(())
    }

    /// Reads `assertion_details` / `authorization_details` (one object or an array) and
    /// binds it to the session.
    fn attestation(
        &self,
        d: &Value,
        path: &str,
        session: &Session,
        now: u64,
    ) -> Refused<TrustContext> {
        let items: Vec<&Value> = match d {
            Value::Array(a) => a.iter().collect(),
            v @ Value::Object(_) => vec![v],
            _ => {
                return refuse(
                    Reason::Attestation,
                    path,
                    "must be an object or an array of objects",
                )
            }
        };
        let mut context: Option<(TrustContext, String)> = None;
        let mut tenant: Option<(TenantOrganisation, String)> = None;
        for (i, item) in items.iter().enumerate() {
            let at = if d.is_array() {
                format!("{path}[{i}]")
            } else {
                path.to_string()
            };
            let bad = refusal(Reason::Attestation, &at);
            match item.get("type").and_then(Value::as_str) {
                Some(TYPE_TRUST_FRAMEWORK) if context.is_none() => {
                    context = Some((TrustContext::from_json(item).map_err(&bad)?, at.clone()));
                }
                Some(TYPE_HELSEID_AUTHORIZATION) if tenant.is_none() => {
                    tenant = Some((TenantOrganisation::from_json(item).map_err(&bad)?, at.clone()));
                }
                _ => {
                    return refuse(
                        Reason::Attestation,
                        format!("{at}.type"),
                        "must be one nhn:tillitsrammeverk:parameters and at most one helseid_authorization",
                    )
                }
            }
        }
        let Some((context, at)) = context else {
            return refuse(
                Reason::Attestation,
                path,
                "holds no nhn:tillitsrammeverk:parameters attestation",
            );
        };
        let Some(att) = context.attestation() else {
            return refuse(
                Reason::Attestation,
                path,
                "must be a practitioner's attestation",
            );
        };
        context
            .check_fresh(now, self.config.skew_secs)
            .map_err(refusal(Reason::StaleAttestation, &at))?;
        self.bind(att, session, &at)?;
        if let Some((t, at)) = tenant {
            // A parent, when named (multi-tenant), and a child, when named, must be the
            // session's; a single-tenant client names only the child.
            if t.parent
                .as_ref()
                .is_some_and(|p| *p != session.legal_entity)
                || t.child
                    .as_ref()
                    .is_some_and(|c| *c != session.point_of_care)
            {
                return refuse(
                    Reason::Organisation,
                    format!("{at}.practitioner_role.organization.identifier.value"),
                    "must be the session's organisation and point of care",
                );
            }
        }
        Ok(context)
    }

    /// The binding rules: the attestation speaks for the session's user, organisation and
    /// patients, and nobody else.
    fn bind(&self, att: &Attestation, session: &Session, path: &str) -> Refused<()> {
        let p = &att.practitioner;
        let pp = format!("{path}.practitioner");
        match practitioner_id(p) {
            Some(id) if *id == session.practitioner => {}
            Some(_) => {
                return refuse(
                    Reason::Practitioner,
                    format!("{pp}.identifier.id"),
                    "must be the session's user",
                )
            }
            None if self.config.allow_narrow => {}
            None => {
                return refuse(
                    Reason::Practitioner,
                    format!("{pp}.identifier"),
                    "is required: narrow attestations are not enabled on this signer",
                )
            }
        }
        if let Some((hpr, _)) = &p.hpr_nr {
            if session.hpr_nr.as_ref() != Some(hpr) {
                return refuse(
                    Reason::Practitioner,
                    format!("{pp}.hpr_nr.id"),
                    "must be the session user's HPR number",
                );
            }
        }
        if p.legal_entity.orgnr != session.legal_entity {
            return refuse(
                Reason::Organisation,
                format!("{pp}.legal_entity.id"),
                "must be the session's organisation",
            );
        }
        if p.point_of_care.orgnr != session.point_of_care {
            return refuse(
                Reason::Organisation,
                format!("{pp}.point_of_care.id"),
                "must be the session's point of care",
            );
        }
        for (i, pt) in att.patients.iter().enumerate() {
            match patient_id(pt) {
                Some(id) if session.allowed_patients.contains(id) => {}
                Some(_) => {
                    return refuse(
                        Reason::Patient,
                        format!("{path}.patients[{i}].identifier.id"),
                        "is not a patient the session may open",
                    )
                }
                // A narrow entry names no patient: nothing to bind, and nothing granted by it.
                None if self.config.allow_narrow => {}
                None => {
                    return refuse(
                        Reason::Patient,
                        format!("{path}.patients[{i}].identifier"),
                        "is required: narrow attestations are not enabled on this signer",
                    )
                }
            }
        }
        Ok(())
    }
}

/// The practitioner's national id, when the attestation names one. The one place that reads
/// it: NHN's "narrow" attestations leave it out (HelseID takes the user from the login).
fn practitioner_id(p: &Practitioner) -> Option<&NationalId> {
    p.identifier.as_ref().map(|i| &i.id)
}

/// The patient's national id, when the entry names one (NHN's narrow form may send only the
/// point of care). The one place that reads it, like [`practitioner_id`].
fn patient_id(p: &Patient) -> Option<&NationalId> {
    p.identifier.as_ref().map(|i| &i.id)
}

/// Splits and decodes `b64u(header).b64u(claims)` into two JSON objects.
fn split(input: &[u8]) -> Refused<(Value, Value)> {
    let not_jws =
        |rule: &str| -> Refused<(Value, Value)> { refuse(Reason::NotJws, "$", rule.to_string()) };
    if input.len() > MAX_INPUT_BYTES {
        return not_jws("a signing input longer than 16 KiB is refused");
    }
    let Ok(text) = core::str::from_utf8(input) else {
        return not_jws("must be ASCII: b64u(header).b64u(claims)");
    };
    let mut parts = text.split('.');
    let (Some(h), Some(c), None) = (parts.next(), parts.next(), parts.next()) else {
        return not_jws("must be two dot-separated base64url parts: b64u(header).b64u(claims)");
    };
    let part = |s: &str, what: &str| -> Refused<Value> {
        let path = format!("$.{what}");
        let bytes = b64u_decode(s, &path).map_err(|e| Refusal {
            reason: Reason::NotJws,
            error: Error::new(ErrorCode::SigningRefused, e.path(), e.rule()),
        })?;
        let text = core::str::from_utf8(&bytes).map_err(|_| Refusal {
            reason: Reason::NotJws,
            error: Error::new(ErrorCode::SigningRefused, path.clone(), "is not UTF-8 JSON"),
        })?;
        let v = parse_within(text, crate::limits::SIGNING_REQUEST, &path).map_err(|e| Refusal {
            reason: Reason::NotJws,
            error: Error::new(ErrorCode::SigningRefused, e.path(), e.rule()),
        })?;
        if !v.is_object() {
            return refuse(Reason::NotJws, path, "must be a JSON object");
        }
        Ok(v)
    };
    Ok((part(h, "header")?, part(c, "claims")?))
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod all_reason_tests {
    use super::Reason;

    #[test]
    fn all_holds_every_refusal_once() {
        // A new variant does not compile here until it is added to this match and to ALL.
        let index = |c: Reason| match c {
            Reason::NotJws => 0,
            Reason::Header => 1,
            Reason::Type => 2,
            Reason::Client => 3,
            Reason::Audience => 4,
            Reason::Lifetime => 5,
            Reason::Time => 6,
            Reason::Replay => 7,
            Reason::Attestation => 8,
            Reason::StaleAttestation => 9,
            Reason::Practitioner => 10,
            Reason::Organisation => 11,
            Reason::Patient => 12,
            Reason::RedirectUri => 13,
            Reason::Request => 14,
            Reason::RateLimited => 15,
            Reason::Busy => 16,
        };
        assert_eq!(Reason::ALL.len(), 17);
        for (i, c) in Reason::ALL.iter().enumerate() {
            assert_eq!(index(*c), i);
        }
    }
}
