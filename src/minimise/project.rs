//! The projection: a kept resource rebuilt, member by member and at every depth, from the
//! FHIR R4 shapes in [`super::schema`] and the policy's paths. What a shape does not have or
//! the policy does not list is dropped (and counted); a value of the wrong JSON type, a
//! member named twice or a `modifierExtension` makes the resource unreadable, and the entry
//! is withheld. Kept primitive values are the input's own JSON text, checked for their type.
//! `contained` keeps only the resources a kept reference points to (`#id`), in the shape
//! their type has ([`schema::contained_shape`]), whatever else they hold.

use super::bundle::{NameSet, MODIFIER, TWICE};
use super::schema::{self, Datatype, Member, Selection, Ty};
use super::{Reason, Withhold};
use crate::error::Result;
use crate::scan::{Kind, Reader};
use std::borrow::Cow;

/// A contained resource: its `resourceType` and `id` (where strings) and its text.
type Item<'a> = (Option<Cow<'a, str>>, Option<Cow<'a, str>>, &'a str);

/// One resource's projection in progress.
pub(super) struct Projector<'a> {
    max_depth: usize,
    /// Elements dropped.
    pub removed: usize,
    /// The first reason the resource cannot be shown.
    pub problem: Option<Withhold>,
    /// Ids of contained resources that kept references point to.
    local: Vec<Cow<'a, str>>,
}

const WRONG_TYPE: Withhold = (
    Reason::UnreadableElement,
    "an element has a JSON type its FHIR R4 datatype does not allow",
);
const CONTAINED_ID: Withhold = (
    Reason::UnreadableElement,
    "a contained resource has no id, or shares its id with another",
);

impl<'a> Projector<'a> {
    #[cfg_attr(tillit_speed, optimize(speed))]
    pub fn new(max_depth: usize) -> Self {
        Projector {
            max_depth,
            removed: 0,
            problem: None,
            local: Vec::new(),
        }
    }

    #[cfg_attr(tillit_speed, optimize(speed))]
    fn flag(&mut self, w: Withhold) {
        self.problem.get_or_insert(w);
    }

    /// Writes the projected DocumentReference whose JSON text is `text` to `out`.
    #[cfg_attr(tillit_speed, optimize(speed))]
    pub fn document_reference(
        &mut self,
        text: &'a str,
        sel: &Selection,
        out: &mut String,
    ) -> Result<()> {
        let mut r = Reader::new(text, self.max_depth, "bundle.entry.resource");
        let mut contained = None;
        let keep_contained = sel
            .of(&schema::DOCUMENT_REFERENCE, "contained", true)
            .is_some();
        self.object(
            &mut r,
            &schema::DOCUMENT_REFERENCE,
            sel,
            Some("DocumentReference"),
            out,
            &mut |name, r, _| {
                if name != "contained" || !keep_contained {
                    return Ok(false);
                }
                contained = Some(r.skip()?);
                Ok(true)
            },
        )?;
        if let Some(text) = contained {
            self.contained(text, out)?;
        }
        Ok(())
    }

    /// Appends `,"contained":[…]` to the object `out` ends with (its closing brace is moved
    /// after it): the referenced resources, projected, in input order.
    #[cfg_attr(tillit_speed, optimize(speed))]
    fn contained(&mut self, text: &'a str, out: &mut String) -> Result<()> {
        let mut r = Reader::new(text, self.max_depth, "bundle.entry.resource.contained");
        if r.peek()? != Kind::Array {
            self.flag(WRONG_TYPE);
            return Ok(());
        }
        // (resourceType, id, text) of each item.
        let mut items: Vec<Item<'a>> = Vec::new();
        r.array(|r| {
            let start = r.offset();
            let (mut rt, mut id) = (None, None);
            if r.peek()? != Kind::Object {
                r.skip()?;
            } else {
                r.object(|r, name| {
                    match name.as_ref() {
                        "resourceType" => rt = r.opt_string()?,
                        "id" => id = r.opt_string()?,
                        _ => drop(r.skip()?),
                    }
                    Ok(())
                })?;
            }
            items.push((rt, id, r.since(start)));
            Ok(())
        })?;
        for (i, (_, id, _)) in items.iter().enumerate() {
            match id {
                Some(id) if items[..i].iter().all(|x| x.1.as_ref() != Some(id)) => {}
                _ => self.flag(CONTAINED_ID),
            }
        }
        // Referenced ids, until a pass adds none (a PractitionerRole points on).
        let mut kept: Vec<Option<String>> = vec![None; items.len()];
        loop {
            let mut more = false;
            for (i, (rt, id, text)) in items.iter().enumerate() {
                if kept[i].is_some() {
                    continue;
                }
                let (Some(rt), Some(id)) = (rt, id) else {
                    continue;
                };
                let Some(dt) = schema::contained_shape(rt) else {
                    continue;
                };
                if !self.local.iter().any(|l| l == id) {
                    continue;
                }
                let mut buf = String::with_capacity(text.len());
                let mut r = Reader::new(text, self.max_depth, "bundle.entry.resource.contained");
                self.object(
                    &mut r,
                    dt,
                    &Selection::Whole,
                    Some(dt.name),
                    &mut buf,
                    &mut |_, _, _| Ok(false),
                )?;
                kept[i] = Some(buf);
                more = true;
            }
            if !more {
                break;
            }
        }
        self.removed += kept.iter().filter(|k| k.is_none()).count();
        if kept.iter().all(Option::is_none) {
            return Ok(());
        }
        let close = out.pop();
        debug_assert_eq!(close, Some('}'));
        if !out.ends_with('{') {
            out.push(',');
        }
        out.push_str("\"contained\":[");
        for (n, k) in kept.iter().flatten().enumerate() {
            if n > 0 {
                out.push(',');
            }
            out.push_str(k);
        }
        out.push_str("]}");
        Ok(())
    }

    /// Writes the object at `r` as `dt` under `sel`. `resource` names the resource type when the
    /// object is a resource (its `resourceType` must say so and is written first, and its `id`
    /// is kept). `hook` may take a member first (returns `true` when it read the value).
    #[cfg_attr(tillit_speed, optimize(speed))]
    fn object(
        &mut self,
        r: &mut Reader<'a>,
        dt: &'static Datatype,
        sel: &Selection,
        resource: Option<&'static str>,
        out: &mut String,
        hook: &mut dyn FnMut(&str, &mut Reader<'a>, &mut String) -> Result<bool>,
    ) -> Result<()> {
        if r.peek()? != Kind::Object {
            r.skip()?;
            self.flag(WRONG_TYPE);
            return Ok(());
        }
        out.push('{');
        let open = out.len();
        if let Some(rt) = resource {
            out.push_str("\"resourceType\":\"");
            out.push_str(rt);
            out.push('"');
        }
        let mut names = NameSet::new();
        r.object(|r, name| {
            if !names.insert(&name) {
                self.flag(TWICE);
            }
            match name.as_ref() {
                "modifierExtension" => {
                    self.flag(MODIFIER);
                    r.skip()?;
                    return Ok(());
                }
                "resourceType" if resource.is_some() => {
                    if r.opt_string()?.as_deref() != resource {
                        self.flag(WRONG_TYPE);
                    }
                    return Ok(());
                }
                _ => {}
            }
            if hook(&name, r, out)? {
                return Ok(());
            }
            let Some((m, s)) = sel.of(dt, &name, resource.is_some()) else {
                self.removed += 1;
                r.skip()?;
                return Ok(());
            };
            let mark = out.len();
            if out.len() > open {
                out.push(',');
            }
            out.push('"');
            out.push_str(m.name);
            out.push_str("\":");
            let value = out.len();
            self.member(r, m, s, out)?;
            if matches!(&out[value..], "{}" | "[]") {
                out.truncate(mark);
                self.removed += 1;
            }
            Ok(())
        })?;
        out.push('}');
        Ok(())
    }

    #[cfg_attr(tillit_speed, optimize(speed))]
    fn member(
        &mut self,
        r: &mut Reader<'a>,
        m: &'static Member,
        sel: &Selection,
        out: &mut String,
    ) -> Result<()> {
        if !m.many {
            return self.single(r, m.ty, sel, out);
        }
        if r.peek()? != Kind::Array {
            r.skip()?;
            self.flag(WRONG_TYPE);
            return Ok(());
        }
        out.push('[');
        let open = out.len();
        r.array(|r| {
            let mark = out.len();
            if out.len() > open {
                out.push(',');
            }
            let value = out.len();
            self.single(r, m.ty, sel, out)?;
            if &out[value..] == "{}" {
                out.truncate(mark);
                self.removed += 1;
            }
            Ok(())
        })?;
        out.push(']');
        Ok(())
    }

    #[cfg_attr(tillit_speed, optimize(speed))]
    fn single(
        &mut self,
        r: &mut Reader<'a>,
        ty: Ty,
        sel: &Selection,
        out: &mut String,
    ) -> Result<()> {
        let kind = r.peek()?;
        let want = match ty {
            Ty::Str => Kind::String,
            Ty::Num => Kind::Number,
            Ty::Bool => Kind::Bool,
            Ty::Dt(dt) if std::ptr::eq(dt, &schema::REFERENCE) => {
                return self.reference(r, sel, out);
            }
            Ty::Dt(dt) => return self.object(r, dt, sel, None, out, &mut |_, _, _| Ok(false)),
        };
        let text = r.skip()?;
        if kind == want {
            out.push_str(text);
        } else {
            self.flag(WRONG_TYPE);
        }
        Ok(())
    }

    /// A Reference: as any element, and a local `#id` it points to is noted (when kept).
    #[cfg_attr(tillit_speed, optimize(speed))]
    fn reference(&mut self, r: &mut Reader<'a>, sel: &Selection, out: &mut String) -> Result<()> {
        let keeps = sel.of(&schema::REFERENCE, "reference", false).is_some();
        let mut local = None;
        self.object(
            r,
            &schema::REFERENCE,
            sel,
            None,
            out,
            &mut |name, r, out| {
                if name == "reference" && keeps && r.peek()? == Kind::String {
                    let start = r.offset();
                    let v = r.string()?;
                    local = match v {
                        Cow::Borrowed(s) => s.strip_prefix('#').map(Cow::Borrowed),
                        Cow::Owned(s) => s.strip_prefix('#').map(|x| Cow::Owned(x.to_string())),
                    };
                    let raw = r.since(start);
                    // Written as `object` would have (the hook took the member).
                    if !out.ends_with('{') {
                        out.push(',');
                    }
                    out.push_str("\"reference\":");
                    out.push_str(raw);
                    return Ok(true);
                }
                Ok(false)
            },
        )?;
        if let Some(l) = local {
            self.local.push(l);
        }
        Ok(())
    }
}
