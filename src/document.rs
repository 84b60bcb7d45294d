//! What a retrieved document must be before its bytes are handed over: a PDF, or a CDA
//! `ClinicalDocument` about the patient asked for that carries a PDF, whole.
//!
//! The rules, in one place:
//! - **Only types the page cannot execute.** `application/pdf`, and CDA in one of
//!   [`CDA_TYPES`] that unwraps to a PDF. HTML, SVG, XHTML, other XML, JavaScript, text, an
//!   unknown or missing type: refused (`UNSAFE_CONTENT`). The bytes decide as well as the
//!   header: a "PDF" that does not start with `%PDF-` is refused the same way.
//! - **Whole documents only.** A body whose length differs from the entry's
//!   `attachment.size` (when given), a PDF without its `%%EOF` end marker, a CDA that does not
//!   parse (or declares a DTD: [`xml`] reads well-formed XML without one), a base64 payload that does not decode: `INCOMPLETE_DOCUMENT`.
//! - **The patient asked for.** A CDA's single `recordTarget` must name the patient by a
//!   national id (fødselsnummer, D-number, H-number) and name no other; otherwise
//!   `DOCUMENT_WITHHELD` with `OTHER_PATIENT` or `SUBJECT_UNKNOWN` in the rule.
//!
//! Error texts never quote the body or a header beyond a media type of safe characters.

use crate::error::{Error, ErrorCode, Result};
use base64ct::{Base64, Encoding};

/// The content type a PDF arrives as.
pub const PDF_TYPE: &str = "application/pdf";
/// The content types a CDA document may arrive as (NHN's document sources send
/// `application/xml`; the others are the registered and common CDA types).
pub const CDA_TYPES: &[&str] = &[
    "application/xml",
    "text/xml",
    "application/hl7-v3+xml",
    "application/hl7-cda+xml",
];
/// The HL7 v3 namespace a CDA `ClinicalDocument` lives in.
const HL7_V3: &str = "urn:hl7-org:v3";
/// OIDs (CDA `id/@root`) of the Norwegian national person ids: fødselsnummer, D-number,
/// H-number (the same systems as [`crate::ident`], without `urn:oid:`).
const PERSON_ID_ROOTS: &[&str] = &[
    "2.16.578.1.12.4.1.4.1",
    "2.16.578.1.12.4.1.4.2",
    "2.16.578.1.12.4.1.4.3",
];
/// How far from the end a PDF's `%%EOF` may sit (readers look in the last 1024 bytes).
const EOF_WINDOW: usize = 1024;

/// What the entry promised about the document.
#[derive(Clone, Copy, Debug)]
pub struct Expected<'a> {
    /// The national id of the patient the document was asked for.
    pub patient: &'a str,
    /// The entry's `attachment.size`, when it gave one.
    pub size: Option<u64>,
}

/// The content type of a KITH XML message unwrapped from a CDA document.
pub const KITH_TYPE: &str = "application/xml";
/// Namespaces of XML a browser would render as a page (script and all): never a KITH message.
const ACTIVE_XML_NAMESPACES: &[&str] =
    &["http://www.w3.org/1999/xhtml", "http://www.w3.org/2000/svg"];

/// A document that may be handed over: a PDF, or a KITH XML message a CDA carried.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accepted {
    /// `application/pdf`, or `application/xml` for a KITH message.
    pub content_type: &'static str,
    /// The document's bytes.
    pub bytes: Vec<u8>,
    /// Whether it came wrapped in CDA.
    pub from_cda: bool,
    /// Whether a page may show it as it is (a PDF, in a sandboxed frame). A KITH message is
    /// data for the EHR to read and render itself, never to hand to a frame: browsers run
    /// script in XML that pulls in XHTML or SVG.
    pub displayable: bool,
}

/// The media type of a `Content-Type` header, lower case, without parameters.
pub fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// What the retrieval does with a media type, decided before the body is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handling {
    /// A PDF: may be streamed (its completeness checked at the end).
    Pdf,
    /// CDA: read whole, parsed, unwrapped.
    Cda,
}

/// Whether `content_type` is one a document may arrive as; refuses the rest.
pub fn handling(content_type: &str) -> Result<Handling> {
    let mt = media_type(content_type);
    if mt == PDF_TYPE {
        Ok(Handling::Pdf)
    } else if CDA_TYPES.contains(&mt.as_str()) {
        Ok(Handling::Cda)
    } else {
        Err(unsafe_type(&mt))
    }
}

fn unsafe_type(mt: &str) -> Error {
    let shown = if !mt.is_empty()
        && mt.len() <= 80
        && mt
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/+-.".contains(&b))
    {
        mt
    } else if mt.is_empty() {
        "a missing content type"
    } else {
        "this content type"
    };
    Error::new(
        ErrorCode::UnsafeContent,
        "document.contentType",
        format!("{shown} is not a document type tillit hands over (only PDF, or CDA carrying a PDF): a page could execute it"),
    )
}

fn incomplete(path: &str, rule: impl Into<String>) -> Error {
    Error::new(ErrorCode::IncompleteDocument, path, rule)
}

/// Checks the body's length against `attachment.size`.
pub fn check_size(len: u64, expected: Option<u64>) -> Result<()> {
    match expected {
        Some(size) if size != len => Err(incomplete(
            "document",
            format!("is {len} bytes where the entry's attachment.size promised {size} (cut short or padded)"),
        )),
        _ => Ok(()),
    }
}

/// Checks the start of a PDF (enough for a stream's first chunk): `%PDF-`.
pub fn check_pdf_start(head: &[u8]) -> Result<()> {
    if head.len() >= 5 && head.starts_with(b"%PDF-") {
        Ok(())
    } else if head.len() < 5 && b"%PDF-".starts_with(head) {
        Err(incomplete("document", "ended before a PDF header"))
    } else {
        Err(Error::new(
            ErrorCode::UnsafeContent,
            "document",
            "a PDF was promised but the body is not one (it does not start with %PDF-)",
        ))
    }
}

/// Checks the end of a PDF (its last bytes, at least 1024 when it is that long):
/// `%%EOF`, then only white space.
pub fn check_pdf_end(tail: &[u8]) -> Result<()> {
    let tail = &tail[tail.len().saturating_sub(EOF_WINDOW)..];
    let end = tail
        .iter()
        .rposition(|b| !b.is_ascii_whitespace() && *b != 0)
        .map_or(0, |i| i + 1);
    if tail[..end].ends_with(b"%%EOF") {
        Ok(())
    } else {
        Err(incomplete(
            "document",
            "the PDF has no %%EOF end marker (cut short?)",
        ))
    }
}

/// A whole PDF: its start, its end.
pub fn check_pdf(bytes: &[u8]) -> Result<()> {
    check_pdf_start(bytes)?;
    check_pdf_end(bytes)
}

/// The whole decision for a body read whole: the type allowed, the size promised, a PDF
/// complete, a CDA parsed, about the patient asked for and carrying a complete PDF.
pub fn accept(content_type: &str, body: Vec<u8>, expected: &Expected<'_>) -> Result<Accepted> {
    // What the bytes are and whom they are about decide first (the graver refusal), then
    // whether they are whole.
    match handling(content_type)? {
        Handling::Pdf => {
            check_pdf_start(&body)?;
            check_size(body.len() as u64, expected.size)?;
            check_pdf_end(&body)?;
            Ok(Accepted {
                content_type: PDF_TYPE,
                bytes: body,
                from_cda: false,
                displayable: true,
            })
        }
        Handling::Cda => {
            let (content_type, inner) = cda_body(&body, expected.patient)?;
            check_size(body.len() as u64, expected.size)?;
            if content_type == PDF_TYPE {
                check_pdf(&inner).map_err(|e| {
                    Error::new(e.code(), "document.component.nonXMLBody.text", e.rule())
                })?;
            }
            Ok(Accepted {
                content_type,
                bytes: inner,
                from_cda: true,
                displayable: content_type == PDF_TYPE,
            })
        }
    }
}

fn withheld(reason: &str, rule: &str) -> Error {
    Error::new(
        ErrorCode::DocumentWithheld,
        "document.recordTarget",
        format!("{reason}: {rule}"),
    )
}

/// Parses a CDA document, checks its patient and returns what its `nonXMLBody` carries: a PDF,
/// or a KITH XML message (unwrapped as NHN's reference EHR does: NorskHelsenett/
/// Pasientens-journaldokumenter, `.NET/PatientHealthRecordsEPJ/.../DocumentController.cs`).
fn cda_body(body: &[u8], patient: &str) -> Result<(&'static str, Vec<u8>)> {
    let text = core::str::from_utf8(body)
        .map_err(|_| incomplete("document", "the CDA document is not UTF-8 (cut short?)"))?;
    // A DTD is refused: no entity expansion, no external references.
    let doc = xml::parse(text).map_err(|_| {
        incomplete(
            "document",
            "the CDA document is not well-formed XML (cut short?), or declares a DTD",
        )
    })?;
    let root = doc.root();
    if root.name != "ClinicalDocument" || root.ns.as_deref() != Some(HL7_V3) {
        return Err(Error::new(
            ErrorCode::UnsafeContent,
            "document",
            "XML other than an HL7 CDA ClinicalDocument is not a document tillit hands over",
        ));
    }
    // The patient: exactly one recordTarget, whose patientRole names the patient by a
    // national id and names no other.
    let targets: Vec<_> = doc.children(root, HL7_V3, "recordTarget").collect();
    let [target] = targets.as_slice() else {
        return Err(withheld(
            "SUBJECT_UNKNOWN",
            "a CDA document must have exactly one recordTarget",
        ));
    };
    let ids: Vec<_> = doc
        .children(target, HL7_V3, "patientRole")
        .flat_map(|r| doc.children(r, HL7_V3, "id"))
        .filter(|id| {
            id.attr("root")
                .is_some_and(|r| PERSON_ID_ROOTS.contains(&r.trim()))
        })
        .collect();
    if ids.is_empty() {
        return Err(withheld(
            "SUBJECT_UNKNOWN",
            "the CDA document's recordTarget names no patient by national id",
        ));
    }
    if ids
        .iter()
        .any(|id| id.attr("extension").map(str::trim) != Some(patient))
    {
        return Err(withheld(
            "OTHER_PATIENT",
            "the CDA document is about another patient than the one asked for",
        ));
    }
    // The body: component/nonXMLBody/text, base64, a PDF.
    let texts: Vec<_> = doc
        .children(root, HL7_V3, "component")
        .flat_map(|c| doc.children(c, HL7_V3, "nonXMLBody"))
        .flat_map(|b| doc.children(b, HL7_V3, "text"))
        .collect();
    let [t] = texts.as_slice() else {
        return Err(Error::new(
            ErrorCode::UnsafeContent,
            "document.component",
            "a CDA document without exactly one nonXMLBody text is not shown (tillit renders no structured XML)",
        ));
    };
    let b64 = t.attr("representation") == Some("B64");
    let decode = || {
        let text: String = t
            .text
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        Base64::decode_vec(&text).map_err(|_| {
            incomplete(
                "document.component.nonXMLBody.text",
                "is not valid base64 (cut short?)",
            )
        })
    };
    match t.attr("mediaType").map(media_type).as_deref() {
        Some(PDF_TYPE) if b64 => Ok((PDF_TYPE, decode()?)),
        Some("application/xml" | "text/xml") => {
            let kith = if b64 { decode()? } else { t.text.clone().into_bytes() };
            check_kith(&kith)?;
            Ok((KITH_TYPE, kith))
        }
        _ => Err(Error::new(
            ErrorCode::UnsafeContent,
            "document.component.nonXMLBody.text",
            "must be a PDF in base64 (mediaType application/pdf, representation B64) or a KITH XML message",
        )),
    }
}

/// A KITH message: well-formed XML without a DTD, whose root is not XHTML or SVG.
fn check_kith(bytes: &[u8]) -> Result<()> {
    const AT: &str = "document.component.nonXMLBody.text";
    let text = core::str::from_utf8(bytes)
        .map_err(|_| incomplete(AT, "the KITH message is not UTF-8 (cut short?)"))?;
    let doc = xml::parse(text.trim_start_matches('\u{feff}')).map_err(|_| {
        incomplete(
            AT,
            "the KITH message is not well-formed XML (cut short?), or declares a DTD",
        )
    })?;
    let root = doc.root();
    let active = root
        .ns
        .as_deref()
        .is_some_and(|ns| ACTIVE_XML_NAMESPACES.contains(&ns))
        || ["html", "svg"].contains(&root.name.to_ascii_lowercase().as_str());
    if active {
        return Err(Error::new(
            ErrorCode::UnsafeContent,
            AT,
            "XHTML or SVG is not a KITH message: a browser would run its script",
        ));
    }
    Ok(())
}

pub mod xml;

#[cfg(test)]
mod tests;
