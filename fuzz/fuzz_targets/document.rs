//! What a document source may send (tillit issue 16): `document::accept` never panics, and what
//! it accepts is always a whole PDF, also when unwrapped from a CDA, which must then have named
//! the patient asked for. The first byte picks the content type; the rest is the body.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tillit::document::{accept, Expected, CDA_TYPES};
use tillit::ErrorCode;

const PATIENT: &str = "13116900216";

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else { return };
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
