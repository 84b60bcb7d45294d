//! Deterministic synthetic patients and documents: synthetic national ids (month + 80, valid
//! check digits), a realistic mix of the legal document kinds with Norwegian titles, authors,
//! dates, security labels (patient blocks `NORS`, confidentiality `R`/`V`), and the
//! documents themselves (PDF, or CDA wrapping a base64 PDF).

use serde_json::{json, Value};
use tillit::ident::national_id_check_digits;

/// splitmix64: small, deterministic, good enough for test data.
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9e37_79b9_7f4a_7c15)
    }
    /// The next 64 bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// A number below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// A synthetic fødselsnummer (month + 80) drawn from `rng`.
pub fn synthetic_fnr(rng: &mut Rng) -> String {
    loop {
        let day = 1 + rng.below(28);
        let month = 81 + rng.below(12);
        let yy = 30 + rng.below(70);
        let ind = rng.below(500);
        let s = format!("{day:02}{month:02}{yy:02}{ind:03}");
        let d: Vec<u32> = s.bytes().map(|b| u32::from(b - b'0')).collect();
        if let Some((k1, k2)) = national_id_check_digits(&d.try_into().expect("nine digits")) {
            return format!("{s}{k1}{k2}");
        }
    }
}

/// A valid organisation number from an 8-digit prefix (the next prefix if its check digit is 10).
pub fn orgnr(mut prefix: u32) -> String {
    loop {
        let s = format!("{prefix:08}");
        let d: Vec<u32> = s.bytes().map(|b| u32::from(b - b'0')).collect();
        let sum: u32 = d
            .iter()
            .zip([3, 2, 7, 6, 5, 4, 3, 2])
            .map(|(a, w)| a * w)
            .sum();
        match 11 - sum % 11 {
            10 => prefix += 1,
            11 => return format!("{s}0"),
            k => return format!("{s}{k}"),
        }
    }
}

/// A document source (hospital).
#[derive(Clone)]
pub struct Org {
    /// Organisation number.
    pub orgnr: String,
    /// Name.
    pub name: &'static str,
    /// Repository unique id (OID).
    pub repository: &'static str,
}

/// The document sources.
pub fn orgs() -> Vec<Org> {
    vec![
        Org {
            orgnr: orgnr(99359876),
            name: "Helse Vest Testsykehus HF",
            repository: "2.16.578.1.12.4.5.100.1",
        },
        Org {
            orgnr: orgnr(99399777),
            name: "Oslo Testuniversitetssykehus HF",
            repository: "2.16.578.1.12.4.5.100.2",
        },
        Org {
            orgnr: orgnr(99488811),
            name: "Nordlandstestsykehuset HF",
            repository: "2.16.578.1.12.4.5.100.3",
        },
    ]
}

/// One document.
#[derive(Clone)]
pub struct Doc {
    /// FHIR id.
    pub id: String,
    /// Index of the patient.
    pub patient: usize,
    /// Volven 9602 subtype.
    pub type_code: &'static str,
    /// Title.
    pub title: String,
    /// Date, `YYYY-MM-DD`.
    pub date: String,
    /// Source.
    pub org: usize,
    /// Author.
    pub author: &'static str,
    /// `(system, code)` labels.
    pub labels: Vec<(&'static str, &'static str)>,
    /// Whether the source returns a CDA document wrapping the PDF.
    pub cda: bool,
    /// Whether that CDA wraps a KITH XML message instead of a PDF.
    pub kith: bool,
}

const LEGAL: [(&str, &[&str]); 8] = [
    (
        "A03-2",
        &[
            "Epikrise",
            "Epikrise etter innleggelse",
            "Utskrivningsepikrise",
        ],
    ),
    (
        "A13-2",
        &["Poliklinisk epikrise", "Notat fra poliklinisk kontroll"],
    ),
    (
        "E01-2",
        &["Røntgen thorax", "CT caput", "MR kne", "Ultralyd abdomen"],
    ),
    (
        "I01-2",
        &[
            "Henvisning til ortopedisk poliklinikk",
            "Henvisning til kardiologisk utredning",
        ],
    ),
    ("C01-2", &["Medisinsk biokjemi", "Blodprøvesvar"]),
    ("C03-2", &["Mikrobiologi: dyrkning", "Mikrobiologi: PCR"]),
    ("C04-2", &["Patologi: biopsi"]),
    ("A03-2", &["Sammenfatning"]),
];
const AUTHORS: [&str; 5] = [
    "Lege Kari Nordmann",
    "Lege Ola Hansen",
    "Overlege Ingrid Berg",
    "Lege Per Olsen",
    "Radiolog Nina Dahl",
];
/// Volven 9603.
pub const SYSTEM_BLOCKS: &str = "urn:oid:2.16.578.1.12.4.1.1.9603";
/// HL7 v3 Confidentiality.
pub const SYSTEM_CONF: &str = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality";
const DOC_TYPE: &str = "urn:oid:2.16.578.1.12.4.1.1.9602";
const FNR: &str = "urn:oid:2.16.578.1.12.4.1.4.1";

/// Days since 1970-01-01 → `YYYY-MM-DD`.
fn date_of(days: u64) -> String {
    let d = tillit::fhirtime::Day::from_unix(days * 86_400);
    format!("{:04}-{:02}-{:02}", d.year, d.month, d.day)
}

/// The synthetic world: patients and their documents.
pub struct World {
    /// Patients' national ids: the listed ones, then the three status patients (reserved,
    /// restricted, blocked; see [`World::status`]).
    pub patients: Vec<String>,
    /// How many patients `/_emulator/patients` lists (the status patients come after).
    pub listed: usize,
    /// Each patient's privacy setting as PJD's `/status` reports it.
    pub status: Vec<PatientStatus>,
    /// All documents, newest first per patient.
    pub docs: Vec<Doc>,
    /// Sources.
    pub orgs: Vec<Org>,
}

impl World {
    /// Generates a world: `extra` fixed patients (from the config) first, then `generated`
    /// more; the last generated patient has `big` documents (for benchmarks).
    pub fn generate(
        seed: u64,
        fixed: &[String],
        generated: usize,
        big: usize,
        today_days: u64,
    ) -> World {
        let mut rng = Rng::new(seed);
        let mut patients: Vec<String> = fixed.to_vec();
        for _ in 0..generated {
            patients.push(synthetic_fnr(&mut rng));
        }
        let orgs = orgs();
        let mut docs = Vec::new();
        let n = patients.len();
        for p in 0..n {
            let count = if p + 1 == n && big > 0 {
                big
            } else {
                8 + rng.below(16) as usize
            };
            docs.extend(docs_for(p, count, &mut rng, &orgs, today_days));
        }
        // Three patients for PJD's /status, from their own generator so the listed world
        // stays as it was: one reserved against the core record (kjernejournal), one
        // restricted (sperret adresse), one who has blocked all access to their documents.
        let mut rng2 = Rng::new(seed ^ 0x5354_4154_5553);
        let mut status = vec![PatientStatus::default(); n];
        for flags in [
            PatientStatus {
                reserved: true,
                ..PatientStatus::default()
            },
            PatientStatus {
                restricted: true,
                ..PatientStatus::default()
            },
            PatientStatus {
                blocked: true,
                ..PatientStatus::default()
            },
        ] {
            let p = patients.len();
            patients.push(synthetic_fnr(&mut rng2));
            status.push(flags);
            let mut mine = docs_for(p, 6, &mut rng2, &orgs, today_days);
            // The newest document of each status patient is a KITH message wrapped in CDA, as
            // PJD serves some sources' documents (see `cda_kith`).
            mine[0].cda = true;
            mine[0].kith = true;
            mine[0].labels = vec![(SYSTEM_CONF, "N")];
            docs.extend(mine);
        }
        World {
            patients,
            listed: n,
            status,
            docs,
            orgs,
        }
    }

    /// A document of a kind outside the legal four (for the leak fault).
    pub fn illegal_doc(&self, patient: usize) -> Doc {
        Doc {
            id: format!("p{patient}note"),
            patient,
            type_code: "B02-2",
            title: "Journalnotat".into(),
            date: date_of(20_000),
            org: 0,
            author: AUTHORS[0],
            labels: vec![],
            cda: false,
            kith: false,
        }
    }

    /// The DocumentReference for a document, as the document list returns it.
    pub fn document_reference(&self, d: &Doc, base: &str) -> Value {
        let org = &self.orgs[d.org];
        let unique = format!("2.16.578.1.12.4.5.100.9.{}", d.id.replace(['p', 'd'], "."));
        // The shapes NHN's reference EHR reads (NorskHelsenett/Pasientens-journaldokumenter,
        // .NET/PatientHealthRecordsEPJ/.../Views/Documents/Index.cshtml): the institution is the
        // contained Organization whose type coding has the organisation-number OID (bare), the
        // author a contained Practitioner with given and family names, and masterIdentifier's
        // value is split at '^' (documentUniqueId^repositoryUniqueId).
        let (given, family) = d.author.rsplit_once(' ').unwrap_or(("", d.author));
        let mut r = json!({
            "resourceType": "DocumentReference",
            "id": d.id,
            "contained": [
                { "resourceType": "Organization", "id": "org",
                  "identifier": [{ "system": "urn:oid:2.16.578.1.12.4.1.4.101", "value": org.orgnr }],
                  "type": [{ "coding": [{ "system": "2.16.578.1.12.4.1.4.101", "code": org.orgnr }] }],
                  "name": org.name },
                { "resourceType": "Practitioner", "id": "aut", "name": [{ "text": d.author, "family": family, "given": given.split(' ').filter(|g| !g.is_empty()).collect::<Vec<_>>() }] }
            ],
            "masterIdentifier": { "value": format!("{unique}^{}", org.repository) },
            "status": "current",
            "type": { "coding": [{ "system": DOC_TYPE, "code": d.type_code }] },
            "category": [{ "coding": [{ "system": DOC_TYPE, "code": format!("{}00-1", &d.type_code[..1]) }] }],
            "subject": { "identifier": { "system": FNR, "value": self.patients[d.patient] } },
            "date": format!("{}T08:30:00+01:00", d.date),
            "author": [{ "reference": "#aut" }, { "reference": "#org" }],
            "custodian": { "reference": "#org" },
            "content": [{ "attachment": {
                "contentType": if d.cda { "application/xml" } else { "application/pdf" },
                "title": d.title,
                // FHIR R4 Attachment.size: the bytes at `url` (the CDA itself for CDA documents).
                "size": if d.kith { cda_kith(&d.title, &self.patients[d.patient]).len() } else if d.cda { cda(&d.title, &self.patients[d.patient]).len() } else { pdf(&d.title).len() },
                "creation": format!("{}T08:30:00+01:00", d.date),
                "url": format!("{base}/mhd/document?documentUniqueId={unique}&repositoryUniqueId={}&homeCommunityId=urn:oid:2.16.578.1.12.4.5.100", org.repository)
            } }]
        });
        if !d.labels.is_empty() {
            r["securityLabel"] = json!(d
                .labels
                .iter()
                .map(|(s, c)| json!({ "coding": [{ "system": s, "code": c }] }))
                .collect::<Vec<_>>());
        }
        r
    }

    /// Finds a document by its unique id.
    pub fn by_unique_id(&self, unique: &str) -> Option<&Doc> {
        let id = unique
            .strip_prefix("2.16.578.1.12.4.5.100.9.")?
            .replacen('.', "p", 1)
            .replacen('.', "d", 1);
        self.docs.iter().find(|d| d.id == id)
    }
}

/// A small valid PDF showing `title`.
pub fn pdf(title: &str) -> Vec<u8> {
    let text: String = title
        .chars()
        .map(|c| {
            if c.is_ascii() && c != '(' && c != ')' && c != '\\' {
                c
            } else {
                '?'
            }
        })
        .collect();
    let stream = format!("BT /F1 18 Tf 72 720 Td ({text}) Tj ET");
    let objs = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_string(),
        format!("<< /Length {} >>\nstream\n{stream}\nendstream", stream.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_string(),
    ];
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objs.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objs.len() + 1).as_bytes());
    for o in offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objs.len() + 1
        )
        .as_bytes(),
    );
    out
}

/// A CDA ClinicalDocument about `patient` (recordTarget/patientRole/id, the fødselsnummer
/// OID as root) whose nonXMLBody carries the PDF in base64.
pub fn cda(title: &str, patient: &str) -> String {
    use base64ct::{Base64, Encoding};
    let b64 = Base64::encode_string(&pdf(title));
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ClinicalDocument xmlns=\"urn:hl7-org:v3\"><title>{}</title><recordTarget><patientRole><id root=\"2.16.578.1.12.4.1.4.1\" extension=\"{patient}\"/></patientRole></recordTarget><component><nonXMLBody><text mediaType=\"application/pdf\" representation=\"B64\">{b64}</text></nonXMLBody></component></ClinicalDocument>\n",
        title.replace('&', "&amp;").replace('<', "&lt;")
    )
}

/// A CDA ClinicalDocument whose nonXMLBody carries a KITH XML message (an epicrisis) in
/// base64, the form NHN's reference EHR unwraps (NorskHelsenett/Pasientens-journaldokumenter,
/// `.NET/PatientHealthRecordsEPJ/.../Controllers/DocumentController.cs`).
pub fn cda_kith(title: &str, patient: &str) -> String {
    use base64ct::{Base64, Encoding};
    let t = title.replace('&', "&amp;").replace('<', "&lt;");
    let kith = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Epikrise xmlns=\"http://www.kith.no/xmlstds/epikrise/2012-02-15\"><Tittel>{t}</Tittel></Epikrise>"
    );
    let b64 = Base64::encode_string(kith.as_bytes());
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ClinicalDocument xmlns=\"urn:hl7-org:v3\"><title>{t}</title><recordTarget><patientRole><id root=\"2.16.578.1.12.4.1.4.1\" extension=\"{patient}\"/></patientRole></recordTarget><component><nonXMLBody><text mediaType=\"application/xml\" representation=\"B64\">{b64}</text></nonXMLBody></component></ClinicalDocument>\n"
    )
}

/// A patient's privacy setting as PJD's `/status` reports it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PatientStatus {
    /// Reserved against the core record (`hasReservationKjernejournal`).
    pub reserved: bool,
    /// Restricted (`isRestricted`).
    pub restricted: bool,
    /// Has blocked access to their documents (`isBlocked`): only a raised access basis opens them.
    pub blocked: bool,
}

/// `count` documents of patient `p`, newest first.
fn docs_for(p: usize, count: usize, rng: &mut Rng, orgs: &[Org], today_days: u64) -> Vec<Doc> {
    let mut mine = Vec::with_capacity(count);
    for i in 0..count {
        let (type_code, titles) = LEGAL[rng.below(LEGAL.len() as u64) as usize];
        let age = rng.below(8 * 365);
        let roll = rng.below(100);
        let labels = match roll {
            0..=5 => vec![(SYSTEM_BLOCKS, "NORS")],
            6..=9 => vec![(SYSTEM_CONF, "R")],
            10 => vec![(SYSTEM_CONF, "V")],
            _ => vec![(SYSTEM_CONF, "N")],
        };
        // The first documents of every patient are recent, so each kind shows.
        let age = if i < 4 { rng.below(200) } else { age };
        mine.push(Doc {
            id: format!("p{p}d{i}"),
            patient: p,
            type_code,
            title: titles[rng.below(titles.len() as u64) as usize].to_string(),
            date: date_of(today_days.saturating_sub(age)),
            org: rng.below(orgs.len() as u64) as usize,
            author: AUTHORS[rng.below(AUTHORS.len() as u64) as usize],
            labels: if i < 2 {
                vec![(SYSTEM_CONF, "N")]
            } else {
                labels
            },
            cda: rng.below(3) == 0,
            kith: false,
        });
    }
    mine.sort_by(|a, b| b.date.cmp(&a.date));
    mine.sort_by(|a, b| b.date.cmp(&a.date));
    mine
}
