//! Reading the Bundle: one pass over its text that finds the entries, reads of each resource
//! what the rules need ([`Doc`]) and walks everything else for what makes a resource
//! unreadable wherever it sits: a member named twice (parsers disagree on which one counts),
//! a `modifierExtension`, `implicitRules`.

use super::rules::Doc;
use super::{Reason, Withhold};
use crate::error::{Error, ErrorCode, Result};
use crate::scan::{Kind, Reader};
use std::borrow::Cow;

/// A member named twice in one object: parsers disagree on which one counts.
pub(super) const TWICE: Withhold = (
    Reason::UnreadableElement,
    "a member appears more than once in one object",
);
/// A `modifierExtension`, wherever it sits.
pub(super) const MODIFIER: Withhold = (
    Reason::ModifierExtension,
    "a modifierExtension changes the meaning of what it sits in; tillit does not know it",
);
const IMPLICIT_RULES: Withhold = (
    Reason::ModifierExtension,
    "implicitRules changes how the resource is read; tillit does not know them",
);
const WRONG_TYPE: Withhold = (
    Reason::UnreadableElement,
    "id, status or date is not a JSON string",
);
const ENTRY_SHAPE: Withhold = (
    Reason::UnreadableElement,
    "the entry is not an object whose fullUrl is a string",
);

/// Member names met in one object, to tell a repeat: the first few borrowed names in place,
/// the rest (and names that had escapes) in a list that allocates only when used.
pub(super) struct NameSet<'a> {
    inline: [&'a str; 16],
    n: usize,
    more: Vec<Cow<'a, str>>,
}

impl<'a> NameSet<'a> {
    #[cfg_attr(tillit_speed, optimize(speed))]
    pub fn new() -> Self {
        NameSet {
            inline: [""; 16],
            n: 0,
            more: Vec::new(),
        }
    }

    /// Adds `name`; `false` if it was met before.
    #[inline]
    #[expect(
        clippy::ptr_arg,
        reason = "a borrowed name is kept in place, an owned one cloned"
    )]
    #[cfg_attr(tillit_speed, optimize(speed))]
    pub fn insert(&mut self, name: &Cow<'a, str>) -> bool {
        let s: &str = name;
        if self.inline[..self.n].contains(&s) || self.more.iter().any(|m| m == s) {
            return false;
        }
        match name {
            Cow::Borrowed(b) if self.n < self.inline.len() => {
                self.inline[self.n] = b;
                self.n += 1;
            }
            _ => self.more.push(name.clone()),
        }
        true
    }
}

const NULL: Withhold = (
    Reason::UnreadableElement,
    "a value is JSON null, which FHIR R4 JSON does not use",
);

/// Walks the value at `r`, noting in `problem` the first member named twice or
/// `modifierExtension` at any depth; returns the value's text.
#[cfg_attr(tillit_speed, optimize(speed))]
pub(super) fn check<'a>(r: &mut Reader<'a>, problem: &mut Option<Withhold>) -> Result<&'a str> {
    let start = r.offset();
    walk(r, problem)?;
    Ok(r.since(start))
}

#[cfg_attr(tillit_speed, optimize(speed))]
fn walk<'a>(r: &mut Reader<'a>, problem: &mut Option<Withhold>) -> Result<()> {
    match r.peek()? {
        Kind::Object => {
            let mut names = NameSet::new();
            r.object(|r, name| {
                if name == "modifierExtension" {
                    problem.get_or_insert(MODIFIER);
                }
                if !names.insert(&name) {
                    problem.get_or_insert(TWICE);
                }
                walk(r, problem)
            })
        }
        Kind::Array => r.array(|r| walk(r, problem)),
        Kind::Null => {
            problem.get_or_insert(NULL);
            r.skip().map(drop)
        }
        _ => r.skip().map(drop),
    }
}

/// A string member; another JSON type is a problem (and reads as absent only for the
/// problem's sake: the entry is withheld).
#[cfg_attr(tillit_speed, optimize(speed))]
fn string<'a>(r: &mut Reader<'a>, problem: &mut Option<Withhold>) -> Result<Option<Cow<'a, str>>> {
    let v = r.opt_string()?;
    if v.is_none() {
        problem.get_or_insert(WRONG_TYPE);
    }
    Ok(v)
}

/// A resource as it arrives: what the rules read, and its text.
pub(super) struct Resource<'a> {
    pub doc: Doc<'a>,
    pub text: &'a str,
}

impl<'a> Resource<'a> {
    #[cfg_attr(tillit_speed, optimize(speed))]
    pub fn read(r: &mut Reader<'a>) -> Result<Self> {
        let start = r.offset();
        let mut d = Doc::default();
        if r.peek()? != Kind::Object {
            r.skip()?;
            return Ok(Resource {
                doc: d,
                text: r.since(start),
            });
        }
        let mut names = NameSet::new();
        r.object(|r, name| {
            if !names.insert(&name) {
                d.problem.get_or_insert(TWICE);
            }
            let p = &mut d.problem;
            match name.as_ref() {
                "resourceType" => d.resource_type = r.opt_string()?,
                "id" => d.id = r.opt_string()?,
                "status" => d.status = string(r, p)?,
                "date" => d.date = string(r, p)?,
                "subject" => d.subject = Some(check(r, p)?),
                "type" => d.type_ = Some(check(r, p)?),
                "category" => d.category = Some(check(r, p)?),
                "securityLabel" => d.security_label = Some(check(r, p)?),
                "meta" => d.meta = Some(check(r, p)?),
                "contained" => d.contained = Some(check(r, p)?),
                "content" => d.content = Some(check(r, p)?),
                "modifierExtension" => {
                    p.get_or_insert(MODIFIER);
                    r.skip()?;
                }
                "implicitRules" => {
                    p.get_or_insert(IMPLICIT_RULES);
                    r.skip()?;
                }
                _ => drop(check(r, p)?),
            }
            Ok(())
        })?;
        Ok(Resource {
            doc: d,
            text: r.since(start),
        })
    }
}

/// An entry as it arrives: its `fullUrl` text, its resource, and whether it is readable as
/// an entry (an object, no member twice, `fullUrl` a string when present).
pub(super) struct Entry<'a> {
    pub full_url: Option<&'a str>,
    pub resource: Option<Resource<'a>>,
    pub problem: Option<Withhold>,
}

impl<'a> Entry<'a> {
    #[cfg_attr(tillit_speed, optimize(speed))]
    pub fn read(r: &mut Reader<'a>) -> Result<Self> {
        let mut e = Entry {
            full_url: None,
            resource: None,
            problem: None,
        };
        if r.peek()? != Kind::Object {
            r.skip()?;
            e.problem = Some(ENTRY_SHAPE);
            return Ok(e);
        }
        let mut names = NameSet::new();
        r.object(|r, name| {
            if !names.insert(&name) {
                e.problem.get_or_insert(TWICE);
            }
            match name.as_ref() {
                "resource" => e.resource = Some(Resource::read(r)?),
                "fullUrl" => {
                    if r.peek()? != Kind::String {
                        e.problem.get_or_insert(ENTRY_SHAPE);
                    }
                    e.full_url = Some(r.skip()?);
                }
                // search, request, response, link: Bundle plumbing, never passed on.
                _ => drop(r.skip()?),
            }
            Ok(())
        })?;
        Ok(e)
    }
}

/// The Bundle members the minimised Bundle carries over (each read once, as text).
pub(super) const BUNDLE_MEMBERS: [&str; 7] = [
    "resourceType",
    "id",
    "meta",
    "type",
    "timestamp",
    "link",
    "total",
];

/// What one pass over the Bundle's text reads: the members carried over (as text) and the
/// entries.
pub(super) struct BundleIn<'a> {
    pub members: [Option<&'a str>; BUNDLE_MEMBERS.len()],
    pub entries: Vec<Entry<'a>>,
}

impl<'a> BundleIn<'a> {
    #[cfg_attr(tillit_speed, optimize(speed))]
    pub fn read(text: &'a str, max_depth: usize) -> Result<Self> {
        let mut r = Reader::new(text, max_depth, "bundle");
        let kind = r.peek()?;
        if kind != Kind::Object {
            r.skip()?;
            r.end()?;
            return Err(Error::new(
                ErrorCode::InvalidResource,
                "bundle.resourceType",
                format!("must be Bundle (the input is {})", kind.name()),
            ));
        }
        let mut members = [None; BUNDLE_MEMBERS.len()];
        let mut entries = None;
        r.object(|r, name| {
            let slot = BUNDLE_MEMBERS.iter().position(|m| *m == name);
            let seen = match slot {
                Some(i) => members[i].is_some(),
                None => name == "entry" && entries.is_some(),
            };
            if seen {
                return Err(Error::new(
                    ErrorCode::MalformedJson,
                    format!("bundle.{name}"),
                    "appears more than once",
                ));
            }
            match slot {
                Some(i) => members[i] = Some(r.skip()?),
                None if name == "entry" => {
                    entries = Some(match r.peek()? {
                        Kind::Array => {
                            let mut list = Vec::new();
                            r.array(|r| {
                                list.push(Entry::read(r)?);
                                Ok(())
                            })?;
                            list
                        }
                        Kind::Null => {
                            r.skip()?;
                            Vec::new()
                        }
                        other => {
                            return Err(Error::new(
                                ErrorCode::InvalidResource,
                                "bundle.entry",
                                format!("must be an array, not {}", other.name()),
                            ))
                        }
                    });
                }
                None => {
                    r.skip()?;
                }
            }
            Ok(())
        })?;
        r.end()?;
        Ok(BundleIn {
            members,
            entries: entries.unwrap_or_default(),
        })
    }
}
