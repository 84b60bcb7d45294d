//! The embedded back end: SQLite in one file (WAL, `synchronous = FULL`: a record the
//! collector acknowledged survives a crash of the process or the machine).

use crate::ingest::Plan;
use crate::store::{
    advance_params, insert_params, Backend, Param, Pool, Result, StoreError, ADVANCE_SQL, INDEXES,
    INSERT_SQL, LOOKUPS_VIEW,
};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, ToSql};
use serde_json::{json, Value};
use tillit::audit::chain::Head;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS logs (
  log_id TEXT PRIMARY KEY, client_id TEXT NOT NULL, org TEXT NOT NULL, declaration TEXT NOT NULL,
  next_seq INTEGER NOT NULL, head_hash TEXT NOT NULL, since_checkpoint INTEGER NOT NULL,
  last_checkpoint INTEGER, declared TEXT, declared_seq INTEGER, created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
  log_id TEXT NOT NULL REFERENCES logs (log_id), seq INTEGER NOT NULL, hash TEXT NOT NULL,
  prev TEXT NOT NULL, kind TEXT NOT NULL, line TEXT NOT NULL, event_id TEXT, recorded TEXT,
  patient TEXT, practitioner TEXT, organisation TEXT, purpose TEXT, action TEXT, outcome TEXT,
  decision_ref TEXT, user_selected INTEGER NOT NULL, PRIMARY KEY (log_id, seq));
CREATE TABLE IF NOT EXISTS incidents (
  id INTEGER PRIMARY KEY AUTOINCREMENT, log_id TEXT NOT NULL, seq INTEGER, code TEXT NOT NULL,
  detail TEXT NOT NULL, client_id TEXT NOT NULL, at TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS records_no_update BEFORE UPDATE ON records
  BEGIN SELECT RAISE(ABORT, 'records are append-only'); END;
CREATE TRIGGER IF NOT EXISTS records_no_delete BEFORE DELETE ON records
  BEGIN SELECT RAISE(ABORT, 'records are append-only'); END;
CREATE TRIGGER IF NOT EXISTS incidents_no_update BEFORE UPDATE ON incidents
  BEGIN SELECT RAISE(ABORT, 'incidents are append-only'); END;
CREATE TRIGGER IF NOT EXISTS incidents_no_delete BEFORE DELETE ON incidents
  BEGIN SELECT RAISE(ABORT, 'incidents are append-only'); END;
CREATE TRIGGER IF NOT EXISTS logs_no_delete BEFORE DELETE ON logs
  BEGIN SELECT RAISE(ABORT, 'logs are never deleted'); END;
CREATE TRIGGER IF NOT EXISTS logs_forward BEFORE UPDATE ON logs
  WHEN NEW.next_seq < OLD.next_seq OR NEW.log_id <> OLD.log_id OR NEW.client_id <> OLD.client_id
    OR NEW.org <> OLD.org OR NEW.declaration <> OLD.declaration
    OR (OLD.declared IS NOT NULL AND NEW.declared IS NOT OLD.declared)
  BEGIN SELECT RAISE(ABORT, 'a log head only moves forward'); END;
";

/// SQLite in one file.
pub struct Sqlite {
    pool: Pool<Connection>,
}

fn err(e: rusqlite::Error) -> StoreError {
    StoreError(format!("sqlite: {e}"))
}

struct P<'a>(&'a Param);

impl ToSql for P<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self.0 {
            Param::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Param::Int(n) => ToSqlOutput::Borrowed(ValueRef::Integer(*n)),
            Param::Null => ToSqlOutput::Borrowed(ValueRef::Null),
        })
    }
}

fn bind(params: &[Param]) -> Vec<P<'_>> {
    params.iter().map(P).collect()
}

impl Sqlite {
    /// Opens (and creates) the database at `path`.
    pub fn open(path: &str) -> Result<Sqlite> {
        let mut conns = Vec::new();
        for i in 0..4 {
            let c = Connection::open(path).map_err(err)?;
            c.busy_timeout(std::time::Duration::from_secs(30))
                .map_err(err)?;
            c.execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
            )
            .map_err(err)?;
            if i == 0 {
                c.execute_batch(SCHEMA).map_err(err)?;
                c.execute_batch(&LOOKUPS_VIEW.replace("CREATE VIEW", "CREATE VIEW IF NOT EXISTS"))
                    .map_err(err)?;
                for ix in INDEXES {
                    c.execute_batch(ix).map_err(err)?;
                }
            }
            conns.push(c);
        }
        Ok(Sqlite {
            pool: Pool::new(conns),
        })
    }
}

fn cell(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(n) => json!(n),
        ValueRef::Real(f) => json!(f),
        ValueRef::Text(t) | ValueRef::Blob(t) => json!(String::from_utf8_lossy(t)),
    }
}

impl Backend for Sqlite {
    fn rows(&self, sql: &str, params: &[Param]) -> Result<Vec<Vec<Value>>> {
        self.pool.with(|c| {
            let mut st = c.prepare_cached(sql).map_err(err)?;
            let n = st.column_count();
            let ps = bind(params);
            let refs: Vec<&dyn ToSql> = ps.iter().map(|p| p as &dyn ToSql).collect();
            let mut rows = st.query(refs.as_slice()).map_err(err)?;
            let mut out = Vec::new();
            while let Some(r) = rows.next().map_err(err)? {
                out.push(
                    (0..n)
                        .map(|i| r.get_ref(i).map(cell).unwrap_or(Value::Null))
                        .collect(),
                );
            }
            Ok(out)
        })
    }

    fn exec(&self, sql: &str, params: &[Param]) -> Result<u64> {
        self.pool.with(|c| {
            let ps = bind(params);
            let refs: Vec<&dyn ToSql> = ps.iter().map(|p| p as &dyn ToSql).collect();
            c.prepare_cached(sql)
                .and_then(|mut st| st.execute(refs.as_slice()))
                .map(|n| n as u64)
                .map_err(err)
        })
    }

    fn advance(&self, log_id: &str, expected: &Head, plan: &Plan) -> Result<bool> {
        self.pool.with(|c| {
            let tx = c
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(err)?;
            let ap = advance_params(log_id, expected, plan);
            let ps = bind(&ap);
            let refs: Vec<&dyn ToSql> = ps.iter().map(|p| p as &dyn ToSql).collect();
            let moved = tx.execute(ADVANCE_SQL, refs.as_slice()).map_err(err)?;
            if moved != 1 {
                return Ok(false); // dropped: rolled back
            }
            {
                let mut st = tx.prepare_cached(INSERT_SQL).map_err(err)?;
                for r in &plan.rows {
                    let ip = insert_params(log_id, r);
                    let ps = bind(&ip);
                    let refs: Vec<&dyn ToSql> = ps.iter().map(|p| p as &dyn ToSql).collect();
                    st.execute(refs.as_slice()).map_err(err)?;
                }
            }
            tx.commit().map_err(err)?;
            Ok(true)
        })
    }
}
