//! A strict, small XML reader for what a CDA document needs: elements with namespaces,
//! attributes, text, CDATA, comments and processing instructions, the five predefined entities
//! and character references. A DTD (`<!DOCTYPE`), an unknown entity, an unbound prefix, a
//! mismatched or unclosed tag, a duplicate attribute or anything after the root element but
//! comments, PIs and white space is refused: input that is not well-formed is never read.
//!
//! Why not a library: roxmltree (0.21, std only) added 24,233 bytes to the gzipped wasm
//! (265,858 with it, 241,625 without, measured 2026-12-02 with `scripts/build.sh`'s flags), over
//! the budget in `bench/config.json`. roxmltree stays the reference: the native tests and the
//! `document` fuzz target check that both accept the same documents and read the same tree.

/// One element: its local name, namespace, attributes (by their name as written), its
/// children (indices into [`Doc::elements`]) and its direct text (CDATA included).
#[derive(Debug, Default)]
pub struct Element {
    /// The local name.
    pub name: String,
    /// The namespace URI, if the element has one.
    pub ns: Option<String>,
    /// `(name as written, decoded value)`.
    pub attrs: Vec<(String, String)>,
    /// Child elements.
    pub children: Vec<usize>,
    /// Direct character data, concatenated.
    pub text: String,
}

impl Element {
    /// An unprefixed attribute's value.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A parsed document; element 0 is the root.
#[derive(Debug)]
pub struct Doc {
    /// All elements, in document order.
    pub elements: Vec<Element>,
}

impl Doc {
    /// The root element.
    pub fn root(&self) -> &Element {
        &self.elements[0]
    }

    /// The children of `e` in namespace `ns` named `name`.
    pub fn children<'a>(
        &'a self,
        e: &'a Element,
        ns: &'a str,
        name: &'a str,
    ) -> impl Iterator<Item = &'a Element> + 'a {
        e.children
            .iter()
            .map(|&i| &self.elements[i])
            .filter(move |c| c.name == name && c.ns.as_deref() == Some(ns))
    }
}

/// Why the input is not read (no position, no quoted input: the caller names the rule).
#[derive(Debug, PartialEq, Eq)]
pub struct NotWellFormed;

type R<T> = Result<T, NotWellFormed>;

/// Deepest element nesting read.
const MAX_DEPTH: usize = 256;

struct P<'a> {
    s: &'a str,
    i: usize,
}

/// XML 1.0 (fifth edition) NameStartChar, by its code point ranges (no Unicode tables).
fn is_name_start(c: char) -> bool {
    matches!(c, ':' | 'A'..='Z' | '_' | 'a'..='z'
        | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}' | '\u{F8}'..='\u{2FF}'
        | '\u{370}'..='\u{37D}' | '\u{37F}'..='\u{1FFF}' | '\u{200C}'..='\u{200D}'
        | '\u{2070}'..='\u{218F}' | '\u{2C00}'..='\u{2FEF}' | '\u{3001}'..='\u{D7FF}'
        | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}' | '\u{10000}'..='\u{EFFFF}')
}

/// XML 1.0 NameChar.
fn is_name_char(c: char) -> bool {
    is_name_start(c)
        || matches!(c, '-' | '.' | '0'..='9' | '\u{B7}' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}')
}

impl<'a> P<'a> {
    fn rest(&self) -> &'a str {
        &self.s[self.i..]
    }
    fn eat(&mut self, t: &str) -> bool {
        let ok = self.rest().starts_with(t);
        if ok {
            self.i += t.len();
        }
        ok
    }
    fn expect(&mut self, t: &str) -> R<()> {
        self.eat(t).then_some(()).ok_or(NotWellFormed)
    }
    fn ws(&mut self) -> bool {
        let n = self.rest().len()
            - self
                .rest()
                .trim_start_matches([' ', '\t', '\r', '\n'])
                .len();
        self.i += n;
        n > 0
    }
    fn until(&mut self, end: &str) -> R<&'a str> {
        let j = self.rest().find(end).ok_or(NotWellFormed)?;
        let out = &self.rest()[..j];
        self.i += j + end.len();
        Ok(out)
    }
    fn name(&mut self) -> R<&'a str> {
        let r = self.rest();
        let mut it = r.char_indices();
        match it.next() {
            Some((_, c)) if is_name_start(c) => {}
            _ => return Err(NotWellFormed),
        }
        let end = it
            .find(|(_, c)| !is_name_char(*c))
            .map_or(r.len(), |(k, _)| k);
        self.i += end;
        Ok(&r[..end])
    }
    /// Comments, PIs and white space between markup (the prolog and after the root).
    fn misc(&mut self) -> R<()> {
        loop {
            self.ws();
            if self.eat("<!--") {
                self.until("-->")?;
            } else if self.rest().starts_with("<?") {
                self.pi()?;
            } else {
                return Ok(());
            }
        }
    }
    fn pi(&mut self) -> R<()> {
        self.expect("<?")?;
        // `xml` is reserved for the declaration, which only opens a document.
        if self.name()?.eq_ignore_ascii_case("xml") {
            return Err(NotWellFormed);
        }
        self.until("?>").map(|_| ())
    }
}

/// `Name S? '=' S? ('"' … '"' | "'" … "'")`: an attribute, or a pseudo-attribute of the XML
/// declaration; its name and its raw value (not yet normalised or decoded).
fn name_eq_value<'a>(p: &mut P<'a>) -> R<(&'a str, &'a str)> {
    let name = p.name()?;
    p.ws();
    p.expect("=")?;
    p.ws();
    let q = if p.eat("\"") {
        "\""
    } else if p.eat("'") {
        "'"
    } else {
        return Err(NotWellFormed);
    };
    Ok((name, p.until(q)?))
}

/// The XML declaration after `<?xml`: `version`, then optionally `encoding` and `standalone`,
/// in that order, each with its value's own grammar.
fn declaration(p: &mut P<'_>) -> R<()> {
    let mut seen = 0;
    loop {
        let spaced = p.ws();
        if p.eat("?>") {
            return if seen > 0 { Ok(()) } else { Err(NotWellFormed) };
        }
        if !spaced {
            return Err(NotWellFormed);
        }
        let (name, v) = name_eq_value(p)?;
        let (rank, ok) = match name {
            "version" => (
                1,
                v.strip_prefix("1.")
                    .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit())),
            ),
            "encoding" => (
                2,
                v.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
                    && v.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)),
            ),
            "standalone" => (3, v == "yes" || v == "no"),
            _ => (0, false),
        };
        if !ok || rank <= seen || (seen == 0 && rank != 1) {
            return Err(NotWellFormed);
        }
        seen = rank;
    }
}

/// Text with entity and character references decoded; `<` is refused (the caller stops at it).
fn decode(raw: &str, out: &mut String) -> R<()> {
    let mut rest = raw;
    while let Some(k) = rest.find(['&', '<']) {
        out.push_str(&rest[..k]);
        if rest.as_bytes()[k] == b'<' {
            return Err(NotWellFormed);
        }
        let end = rest[k..].find(';').ok_or(NotWellFormed)? + k;
        let ent = &rest[k + 1..end];
        let c = match ent {
            "lt" => '<',
            "gt" => '>',
            "amp" => '&',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let n = if let Some(h) = ent.strip_prefix("#x") {
                    u32::from_str_radix(h, 16).ok()
                } else if let Some(d) = ent.strip_prefix('#') {
                    d.parse().ok()
                } else {
                    None
                };
                n.filter(|n| *n != 0)
                    .and_then(char::from_u32)
                    .ok_or(NotWellFormed)?
            }
        };
        out.push(c);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Ok(())
}

/// Resolves `prefix:local` (or `local`) against the namespace scopes, innermost last.
fn resolve(scopes: &[Vec<(String, String)>], qname: &str) -> R<(String, Option<String>)> {
    let (prefix, local) = match qname.split_once(':') {
        // Both parts are NCNames: each starts with a name-start character.
        Some((p, l))
            if p.starts_with(is_name_start) && l.starts_with(is_name_start) && !l.contains(':') =>
        {
            (p, l)
        }
        Some(_) => return Err(NotWellFormed),
        None => ("", qname),
    };
    let bound = scopes
        .iter()
        .rev()
        .flat_map(|s| s.iter().rev())
        .find(|(p, _)| p == prefix)
        .map(|(_, u)| u.clone());
    match (prefix, bound) {
        ("xml", _) => Ok((
            local.into(),
            Some("http://www.w3.org/XML/1998/namespace".into()),
        )),
        ("", b) => Ok((local.into(), b.filter(|u| !u.is_empty()))),
        (_, Some(u)) if !u.is_empty() => Ok((local.into(), Some(u))),
        _ => Err(NotWellFormed),
    }
}

/// Whether `c` may appear in an XML 1.0 document.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && !matches!(c, '\u{fffe}' | '\u{ffff}'))
}

/// Parses `text` as a well-formed XML document without a DTD.
pub fn parse(text: &str) -> R<Doc> {
    if !text.chars().all(is_xml_char) {
        return Err(NotWellFormed);
    }
    let mut p = P { s: text, i: 0 };
    p.eat("\u{feff}");
    if p.rest().starts_with("<?xml") && p.rest()[5..].starts_with([' ', '\t', '\r', '\n', '?']) {
        p.i += 5;
        declaration(&mut p)?;
    }
    p.misc()?;
    if p.rest().starts_with("<!") {
        // A DTD (or anything else `<!` but a comment) is refused.
        return Err(NotWellFormed);
    }
    let mut elements: Vec<Element> = Vec::new();
    // Open elements: (index, qualified name as written); namespace scopes alongside.
    let mut open: Vec<(usize, &str)> = Vec::new();
    let mut scopes: Vec<Vec<(String, String)>> = Vec::new();
    loop {
        if open.is_empty() && !elements.is_empty() {
            break;
        }
        if open.is_empty() || p.rest().starts_with('<') {
            if !open.is_empty() && p.eat("</") {
                let name = p.name()?;
                p.ws();
                p.expect(">")?;
                let (_, qname) = open.pop().ok_or(NotWellFormed)?;
                scopes.pop();
                if name != qname {
                    return Err(NotWellFormed);
                }
                continue;
            }
            if !open.is_empty() && p.eat("<!--") {
                p.until("-->")?;
                continue;
            }
            if !open.is_empty() && p.eat("<![CDATA[") {
                let t = p.until("]]>")?;
                let top = open.last().ok_or(NotWellFormed)?.0;
                // Line ends are normalised in CDATA too (XML 1.0 section 2.11).
                elements[top]
                    .text
                    .push_str(&t.replace("\r\n", "\n").replace('\r', "\n"));
                continue;
            }
            if !open.is_empty() && p.rest().starts_with("<?") {
                p.pi()?;
                continue;
            }
            p.expect("<")?;
            let qname = p.name()?;
            let mut raw_attrs: Vec<(&str, String)> = Vec::new();
            let mut scope = Vec::new();
            let empty = loop {
                let spaced = p.ws();
                if p.eat("/>") {
                    break true;
                }
                if p.eat(">") {
                    break false;
                }
                if !spaced {
                    return Err(NotWellFormed);
                }
                let (an, raw) = name_eq_value(&mut p)?;
                // Attribute-value normalisation: each line break or tab becomes a space.
                let raw = raw.replace("\r\n", " ").replace(['\t', '\n', '\r'], " ");
                let mut v = String::new();
                decode(&raw, &mut v)?;
                if raw_attrs.iter().any(|(n, _)| *n == an) {
                    return Err(NotWellFormed);
                }
                if an == "xmlns" {
                    scope.push((String::new(), v.clone()));
                } else if let Some(pfx) = an.strip_prefix("xmlns:") {
                    if v.is_empty() || !pfx.starts_with(is_name_start) || pfx.contains(':') {
                        return Err(NotWellFormed);
                    }
                    scope.push((pfx.to_string(), v.clone()));
                }
                raw_attrs.push((an, v));
            };
            scopes.push(scope);
            let (name, ns) = resolve(&scopes, qname)?;
            for (an, _) in &raw_attrs {
                if an.contains(':') && !an.starts_with("xmlns:") {
                    resolve(&scopes, an)?;
                }
            }
            let idx = elements.len();
            if let Some(&(parent, _)) = open.last() {
                elements[parent].children.push(idx);
            }
            elements.push(Element {
                name,
                ns,
                attrs: raw_attrs
                    .into_iter()
                    .map(|(n, v)| (n.to_string(), v))
                    .collect(),
                children: Vec::new(),
                text: String::new(),
            });
            if empty {
                scopes.pop();
            } else {
                open.push((idx, qname));
                if open.len() > MAX_DEPTH {
                    return Err(NotWellFormed);
                }
            }
        } else {
            let j = p.rest().find('<').ok_or(NotWellFormed)?;
            let raw = &p.rest()[..j];
            if raw.contains("]]>") {
                return Err(NotWellFormed);
            }
            let top = open.last().ok_or(NotWellFormed)?.0;
            decode(
                &raw.replace("\r\n", "\n").replace('\r', "\n"),
                &mut elements[top].text,
            )?;
            p.i += j;
        }
    }
    p.misc()?;
    if p.i != text.len() {
        return Err(NotWellFormed);
    }
    Ok(Doc { elements })
}
