//! What a document source may send (tillit issue 16): `document::accept` never panics, and what
//! it accepts is always a whole PDF, also when unwrapped from a CDA, which must then have named
//! the patient asked for. The first byte picks the content type; the rest is the body. And the
//! CDA reader reads nothing roxmltree (the reference) would not read, and reads it alike.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tillit::document::{accept, xml, Expected, CDA_TYPES};
use tillit::ErrorCode;

const PATIENT: &str = "13116900216";

fn same(o: &xml::Doc, i: usize, t: roxmltree::Node<'_, '_>) {
    let e = &o.elements[i];
    assert_eq!(e.name, t.tag_name().name());
    assert_eq!(e.ns.as_deref(), t.tag_name().namespace().filter(|n| !n.is_empty()));
    for a in t.attributes().filter(|a| a.namespace().is_none()) {
        assert_eq!(e.attr(a.name()), Some(a.value()));
    }
    let text: String = t.children().filter(|n| n.is_text()).filter_map(|n| n.text()).collect();
    assert_eq!(e.text, text);
    let kids: Vec<_> = t.children().filter(|n| n.is_element()).collect();
    assert_eq!(e.children.len(), kids.len());
    for (&c, k) in e.children.iter().zip(kids) {
        same(o, c, k);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else { return };
    if let Ok(text) = core::str::from_utf8(body) {
        if let Ok(ours) = xml::parse(text) {
            let theirs = roxmltree::Document::parse(text).expect("roxmltree reads what ours reads");
            same(&ours, 0, theirs.root_element());
        }
    }
    let types = [&["application/pdf", "text/html", "image/svg+xml", ""][..], CDA_TYPES].concat();
    let ct = types[pick as usize % types.len()];
    let size = (pick & 0x80 != 0).then_some(body.len() as u64);
    match accept(ct, body.to_vec(), &Expected { patient: PATIENT, size }) {
        Ok(a) => {
            assert_eq!(a.content_type, "application/pdf");
            assert!(a.bytes.starts_with(b"%PDF-"));
            let end = a.bytes.iter().rposition(|b| !b.is_ascii_whitespace() && *b != 0).map_or(0, |i| i + 1);
            assert!(a.bytes[..end].ends_with(b"%%EOF"));
            assert!(ct == "application/pdf" || CDA_TYPES.contains(&ct));
            if a.from_cda {
                assert!(core::str::from_utf8(body).unwrap().contains(PATIENT));
            }
        }
        Err(e) => assert!(matches!(
            e.code(),
            ErrorCode::UnsafeContent | ErrorCode::IncompleteDocument | ErrorCode::DocumentWithheld
        )),
    }
});
