//! Storage behind one interface, SQLite or PostgreSQL: the device logs' heads, their records
//! (append-only: a trigger refuses UPDATE and DELETE) and the incidents of refused batches.
//! The queries and reports are written once here, in SQL both databases run; a back end only
//! runs statements (see [`Backend`]).

use crate::ingest::{LogState, Plan, Row};
use serde_json::{json, Value};
use std::sync::{Condvar, Mutex};
use tillit::audit::chain::Head;

/// A storage failure (the message names no patient data).
#[derive(Debug, Clone)]
pub struct StoreError(pub String);

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "storage: {}", self.0)
    }
}

/// Shorthand.
pub type Result<T> = std::result::Result<T, StoreError>;

/// A statement parameter.
#[derive(Clone, Debug, PartialEq)]
pub enum Param {
    /// Text.
    Text(String),
    /// An integer.
    Int(i64),
    /// SQL NULL.
    Null,
}

impl From<&str> for Param {
    fn from(s: &str) -> Self {
        Param::Text(s.to_string())
    }
}
impl From<String> for Param {
    fn from(s: String) -> Self {
        Param::Text(s)
    }
}
impl From<i64> for Param {
    fn from(n: i64) -> Self {
        Param::Int(n)
    }
}
impl From<u64> for Param {
    fn from(n: u64) -> Self {
        Param::Int(n as i64)
    }
}
impl From<bool> for Param {
    fn from(b: bool) -> Self {
        Param::Int(b as i64)
    }
}
impl<T: Into<Param>> From<Option<T>> for Param {
    fn from(o: Option<T>) -> Self {
        o.map_or(Param::Null, Into::into)
    }
}

/// A refused batch, kept for log control.
#[derive(Clone, Debug)]
pub struct Incident {
    /// The device log.
    pub log_id: String,
    /// The sequence number the refusal names.
    pub seq: Option<u64>,
    /// The refusal's code.
    pub code: String,
    /// The rule.
    pub detail: String,
    /// The client that sent the batch.
    pub client_id: String,
    /// When (RFC 3339).
    pub at: String,
}

/// A device log as stored: whose it is, its declaration and its head.
#[derive(Clone, Debug)]
pub struct LogRow {
    /// The log's id.
    pub log_id: String,
    /// The client that created it.
    pub client_id: String,
    /// The organisation (org number) it belongs to.
    pub org: String,
    /// The owner's registration `{ checkpointKey?, checkpointEvery? }` as JSON text.
    pub declaration: String,
    /// The head and checkpoint state.
    pub state: LogState,
}

/// What a database must do; everything else is written once on top of it.
pub trait Backend: Send + Sync + 'static {
    /// Runs a query; each row as JSON values (text, integer or null), in column order.
    fn rows(&self, sql: &str, params: &[Param]) -> Result<Vec<Vec<Value>>>;
    /// Runs a statement.
    fn exec(&self, sql: &str, params: &[Param]) -> Result<u64>;
    /// In one transaction: moves the head from `expected` to the plan's (a conditional
    /// update) and inserts the plan's rows. `Ok(false)` when the head had moved (nothing
    /// written: the caller checks the batch again against the new head).
    fn advance(&self, log_id: &str, expected: &Head, plan: &Plan) -> Result<bool>;
}

/// The statements of [`Backend::advance`], the same for both databases.
pub const ADVANCE_SQL: &str =
    "UPDATE logs SET next_seq = $1, head_hash = $2, since_checkpoint = $3, last_checkpoint = $4, \
     declared = $5, declared_seq = $6 WHERE log_id = $7 AND next_seq = $8 AND head_hash = $9";
/// Inserting one record.
pub const INSERT_SQL: &str =
    "INSERT INTO records (log_id, seq, hash, prev, kind, line, event_id, recorded, patient, \
     practitioner, organisation, purpose, action, outcome, decision_ref, user_selected) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)";

/// The parameters of [`ADVANCE_SQL`].
pub fn advance_params(log_id: &str, expected: &Head, plan: &Plan) -> Vec<Param> {
    let a = &plan.after;
    vec![
        a.head.next_seq.into(),
        a.head.hash.clone().into(),
        a.since_checkpoint.into(),
        a.last_checkpoint.into(),
        a.declared.as_ref().map(|(_, _, body)| body.clone()).into(),
        a.declared.as_ref().map(|(seq, _, _)| *seq).into(),
        log_id.into(),
        expected.next_seq.into(),
        expected.hash.clone().into(),
    ]
}

/// The parameters of [`INSERT_SQL`] for one row.
pub fn insert_params(log_id: &str, r: &Row) -> Vec<Param> {
    vec![
        log_id.into(),
        r.seq.into(),
        r.hash.clone().into(),
        r.prev.clone().into(),
        r.kind.clone().into(),
        r.line.clone().into(),
        r.event_id.clone().into(),
        r.recorded.clone().into(),
        r.patient.clone().into(),
        r.practitioner.clone().into(),
        r.organisation.clone().into(),
        r.purpose.clone().into(),
        r.action.clone().into(),
        r.outcome.clone().into(),
        r.decision_ref.clone().into(),
        r.user_selected.into(),
    ]
}

/// The current look-ups: every event record, except a pending one whose completion (a later
/// record of the same look-up id, patient and practitioner, with an outcome) is stored. A
/// later record about another patient never hides an earlier look-up.
pub const LOOKUPS_VIEW: &str = "CREATE VIEW lookups AS SELECT r.* FROM records r WHERE r.kind = 'event' AND NOT ( \
     r.outcome IS NULL AND EXISTS (SELECT 1 FROM records c WHERE c.log_id = r.log_id AND c.event_id = r.event_id \
     AND c.seq > r.seq AND c.kind = 'event' AND c.outcome IS NOT NULL AND COALESCE(c.action, '') = COALESCE(r.action, '') \
     AND COALESCE(c.patient, '') = COALESCE(r.patient, '') AND COALESCE(c.practitioner, '') = COALESCE(r.practitioner, '')))";

/// The indexes the queries need (both databases).
pub const INDEXES: &[&str] = &[
    "CREATE INDEX IF NOT EXISTS records_patient ON records (patient, recorded)",
    "CREATE INDEX IF NOT EXISTS records_practitioner ON records (practitioner, recorded)",
    "CREATE INDEX IF NOT EXISTS records_event ON records (log_id, event_id)",
    "CREATE INDEX IF NOT EXISTS records_recorded ON records (recorded)",
    "CREATE INDEX IF NOT EXISTS incidents_log ON incidents (log_id)",
];

/// A tiny blocking pool of connections.
pub struct Pool<C> {
    free: Mutex<Vec<C>>,
    ready: Condvar,
}

impl<C> Pool<C> {
    /// A pool of `conns`.
    pub fn new(conns: Vec<C>) -> Self {
        Pool {
            free: Mutex::new(conns),
            ready: Condvar::new(),
        }
    }

    /// Runs `f` with a connection.
    pub fn with<T>(&self, f: impl FnOnce(&mut C) -> T) -> T {
        let mut c = {
            let mut free = self.free.lock().expect("pool lock");
            loop {
                if let Some(c) = free.pop() {
                    break c;
                }
                free = self.ready.wait(free).expect("pool lock");
            }
        };
        let out = f(&mut c);
        self.free.lock().expect("pool lock").push(c);
        self.ready.notify_one();
        out
    }
}

fn text(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}
fn int(v: &Value) -> Option<u64> {
    v.as_i64().map(|n| n as u64)
}

/// The storage every route uses: a back end and the statements written once.
pub struct Store {
    db: Box<dyn Backend>,
}

impl Store {
    /// Wraps a back end.
    pub fn new(db: Box<dyn Backend>) -> Self {
        Store { db }
    }

    /// The back end (tests reach the database through it).
    pub fn backend(&self) -> &dyn Backend {
        &*self.db
    }

    /// A device log, if held.
    pub fn log(&self, log_id: &str) -> Result<Option<LogRow>> {
        let rows = self.db.rows(
            "SELECT log_id, client_id, org, declaration, next_seq, head_hash, since_checkpoint, last_checkpoint, \
             declared, declared_seq FROM logs WHERE log_id = $1",
            &[log_id.into()],
        )?;
        let Some(r) = rows.into_iter().next() else {
            return Ok(None);
        };
        let declaration = text(&r[3]).unwrap_or_default();
        let registration = serde_json::from_str(&declaration)
            .ok()
            .and_then(|v| crate::declare::from_registration(&v).ok())
            .ok_or_else(|| StoreError("a stored registration does not read".into()))?;
        let declared = match (text(&r[8]), int(&r[9])) {
            (Some(body), Some(seq)) => {
                let (d, _) = serde_json::from_str(&body)
                    .ok()
                    .and_then(|v| tillit::audit::format::Declaration::parse(&v).ok())
                    .ok_or_else(|| StoreError("a stored declaration does not read".into()))?;
                Some((seq, d, body))
            }
            _ => None,
        };
        Ok(Some(LogRow {
            log_id: text(&r[0]).unwrap_or_default(),
            client_id: text(&r[1]).unwrap_or_default(),
            org: text(&r[2]).unwrap_or_default(),
            declaration,
            state: LogState {
                head: Head {
                    next_seq: int(&r[4]).unwrap_or(0),
                    hash: text(&r[5]).unwrap_or_default(),
                },
                since_checkpoint: int(&r[6]).unwrap_or(0),
                last_checkpoint: int(&r[7]),
                registration,
                declared,
            },
        }))
    }

    /// Creates a log for `client_id` and `org` unless it exists (then nothing changes); the
    /// log as now stored.
    pub fn create_log(
        &self,
        log_id: &str,
        client_id: &str,
        org: &str,
        declaration: &Value,
        now: &str,
    ) -> Result<LogRow> {
        self.db.exec(
            "INSERT INTO logs (log_id, client_id, org, declaration, next_seq, head_hash, since_checkpoint, created) \
             VALUES ($1, $2, $3, $4, 0, $5, 0, $6) ON CONFLICT (log_id) DO NOTHING",
            &[
                log_id.into(),
                client_id.into(),
                org.into(),
                declaration.to_string().into(),
                tillit::audit::chain::GENESIS.into(),
                now.into(),
            ],
        )?;
        self.log(log_id)?
            .ok_or_else(|| StoreError("the log vanished after it was created".into()))
    }

    /// The hashes held for `from..to` of a log.
    pub fn held_hashes(&self, log_id: &str, from: u64, to: u64) -> Result<Vec<String>> {
        Ok(self
            .db
            .rows(
                "SELECT hash FROM records WHERE log_id = $1 AND seq >= $2 AND seq < $3 ORDER BY seq",
                &[log_id.into(), from.into(), to.into()],
            )?
            .iter()
            .filter_map(|r| text(&r[0]))
            .collect())
    }

    /// See [`Backend::advance`].
    pub fn advance(&self, log_id: &str, expected: &Head, plan: &Plan) -> Result<bool> {
        self.db.advance(log_id, expected, plan)
    }

    /// Keeps an incident.
    pub fn incident(&self, i: &Incident) -> Result<()> {
        self.db.exec(
            "INSERT INTO incidents (log_id, seq, code, detail, client_id, at) VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                i.log_id.clone().into(),
                i.seq.into(),
                i.code.clone().into(),
                i.detail.clone().into(),
                i.client_id.clone().into(),
                i.at.clone().into(),
            ],
        )?;
        Ok(())
    }

    /// The incidents of one log (all when `None`), oldest first.
    pub fn incidents(&self, log_id: Option<&str>) -> Result<Vec<Value>> {
        let (sql, p): (&str, Vec<Param>) = match log_id {
            Some(l) => (
                "SELECT log_id, seq, code, detail, client_id, at FROM incidents WHERE log_id = $1 ORDER BY id",
                vec![l.into()],
            ),
            None => (
                "SELECT log_id, seq, code, detail, client_id, at FROM incidents ORDER BY id",
                vec![],
            ),
        };
        Ok(self
            .db
            .rows(sql, &p)?
            .into_iter()
            .map(|r| {
                json!({ "logId": r[0], "seq": r[1], "code": r[2], "detail": r[3], "clientId": r[4], "at": r[5] })
            })
            .collect())
    }

    /// Runs a read built elsewhere (queries and reports).
    pub fn rows(&self, sql: &str, params: &[Param]) -> Result<Vec<Vec<Value>>> {
        self.db.rows(sql, params)
    }
}
