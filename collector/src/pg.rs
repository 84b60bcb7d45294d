//! The production back end: PostgreSQL, shared by several collectors. The head of each log
//! moves by a conditional UPDATE in the transaction that inserts its records, so collectors
//! receiving the same or competing batches never store a duplicate or a fork; records and
//! incidents are append-only twice over: a trigger refuses UPDATE, DELETE and TRUNCATE, and
//! those privileges are revoked from the role the collector connects as.

use crate::ingest::Plan;
use crate::store::{
    advance_params, insert_params, Backend, Param, Pool, Result, StoreError, ADVANCE_SQL, INDEXES,
    INSERT_SQL, LOOKUPS_VIEW,
};
use postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use postgres::{Client, NoTls};
use serde_json::{json, Value};
use tillit::audit::chain::Head;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS logs (
  log_id TEXT PRIMARY KEY, client_id TEXT NOT NULL, org TEXT NOT NULL, declaration TEXT NOT NULL,
  next_seq BIGINT NOT NULL, head_hash TEXT NOT NULL, since_checkpoint BIGINT NOT NULL,
  last_checkpoint BIGINT, declared TEXT, declared_seq BIGINT, created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
  log_id TEXT NOT NULL REFERENCES logs (log_id), seq BIGINT NOT NULL, hash TEXT NOT NULL,
  prev TEXT NOT NULL, kind TEXT NOT NULL, line TEXT NOT NULL, event_id TEXT, recorded TEXT,
  patient TEXT, practitioner TEXT, organisation TEXT, purpose TEXT, action TEXT, outcome TEXT,
  decision_ref TEXT, user_selected BIGINT NOT NULL, PRIMARY KEY (log_id, seq));
CREATE TABLE IF NOT EXISTS incidents (
  id BIGSERIAL PRIMARY KEY, log_id TEXT NOT NULL, seq BIGINT, code TEXT NOT NULL,
  detail TEXT NOT NULL, client_id TEXT NOT NULL, at TEXT NOT NULL);
CREATE OR REPLACE FUNCTION tillit_append_only() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$;
CREATE OR REPLACE FUNCTION tillit_head_forward() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN
    IF NEW.next_seq < OLD.next_seq OR NEW.log_id <> OLD.log_id OR NEW.client_id <> OLD.client_id
       OR NEW.org <> OLD.org OR NEW.declaration <> OLD.declaration
       OR (OLD.declared IS NOT NULL AND NEW.declared IS DISTINCT FROM OLD.declared) THEN
      RAISE EXCEPTION 'a log head only moves forward';
    END IF;
    RETURN NEW;
  END $$;
CREATE OR REPLACE TRIGGER records_append_only BEFORE UPDATE OR DELETE ON records
  FOR EACH ROW EXECUTE FUNCTION tillit_append_only();
CREATE OR REPLACE TRIGGER records_no_truncate BEFORE TRUNCATE ON records
  FOR EACH STATEMENT EXECUTE FUNCTION tillit_append_only();
CREATE OR REPLACE TRIGGER incidents_append_only BEFORE UPDATE OR DELETE ON incidents
  FOR EACH ROW EXECUTE FUNCTION tillit_append_only();
CREATE OR REPLACE TRIGGER incidents_no_truncate BEFORE TRUNCATE ON incidents
  FOR EACH STATEMENT EXECUTE FUNCTION tillit_append_only();
CREATE OR REPLACE TRIGGER logs_no_delete BEFORE DELETE ON logs
  FOR EACH ROW EXECUTE FUNCTION tillit_append_only();
CREATE OR REPLACE TRIGGER logs_forward BEFORE UPDATE ON logs
  FOR EACH ROW EXECUTE FUNCTION tillit_head_forward();
REVOKE UPDATE, DELETE, TRUNCATE ON records, incidents FROM PUBLIC, CURRENT_USER;
REVOKE DELETE, TRUNCATE ON logs FROM PUBLIC, CURRENT_USER;
";

/// Connections the pool keeps.
const CONNECTIONS: usize = 8;

/// PostgreSQL at a `postgres://` URL.
pub struct Postgres {
    pool: Pool<Client>,
}

fn err(e: postgres::Error) -> StoreError {
    // The database's own message (a constraint, a trigger, a lost connection) without the
    // statement's parameters.
    StoreError(format!(
        "postgres: {}",
        e.as_db_error()
            .map_or_else(|| e.to_string(), |d| d.message().to_string())
    ))
}

#[derive(Debug)]
struct P<'a>(&'a Param);

impl ToSql for P<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut postgres::types::private::BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self.0 {
            Param::Null => Ok(IsNull::Yes),
            Param::Text(s) => s.as_str().to_sql(ty, out),
            Param::Int(n) if *ty == Type::INT4 => i32::try_from(*n)?.to_sql(ty, out),
            Param::Int(n) => n.to_sql(ty, out),
        }
    }
    fn accepts(ty: &Type) -> bool {
        matches!(*ty, Type::TEXT | Type::VARCHAR | Type::INT8 | Type::INT4)
    }
    to_sql_checked!();
}

fn bind(params: &[Param]) -> Vec<P<'_>> {
    params.iter().map(P).collect()
}

impl Postgres {
    /// Connects, and creates the schema unless it exists (under an advisory lock, so
    /// collectors starting together do not race).
    pub fn open(url: &str) -> Result<Postgres> {
        let mut conns = Vec::new();
        for i in 0..CONNECTIONS {
            let mut c = Client::connect(url, NoTls).map_err(err)?;
            if i == 0 {
                let mut tx = c.transaction().map_err(err)?;
                tx.batch_execute("SELECT pg_advisory_xact_lock(7415321)")
                    .map_err(err)?;
                tx.batch_execute(SCHEMA).map_err(err)?;
                tx.batch_execute(&LOOKUPS_VIEW.replace("CREATE VIEW", "CREATE OR REPLACE VIEW"))
                    .map_err(err)?;
                for ix in INDEXES {
                    tx.batch_execute(ix).map_err(err)?;
                }
                tx.commit().map_err(err)?;
            }
            conns.push(c);
        }
        Ok(Postgres {
            pool: Pool::new(conns),
        })
    }
}

fn cell(row: &postgres::Row, i: usize) -> Value {
    let ty = row.columns()[i].type_();
    if *ty == Type::INT8 {
        row.get::<_, Option<i64>>(i)
            .map_or(Value::Null, |n| json!(n))
    } else if *ty == Type::INT4 {
        row.get::<_, Option<i32>>(i)
            .map_or(Value::Null, |n| json!(n))
    } else if *ty == Type::BOOL {
        row.get::<_, Option<bool>>(i)
            .map_or(Value::Null, |b| json!(b as i64))
    } else {
        row.try_get::<_, Option<String>>(i)
            .ok()
            .flatten()
            .map_or(Value::Null, |s| json!(s))
    }
}

fn refs<'a>(ps: &'a [P<'a>]) -> Vec<&'a (dyn ToSql + Sync)> {
    ps.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
}

impl Backend for Postgres {
    fn rows(&self, sql: &str, params: &[Param]) -> Result<Vec<Vec<Value>>> {
        self.pool.with(|c| {
            let ps = bind(params);
            let rows = c.query(sql, &refs(&ps)).map_err(err)?;
            Ok(rows
                .iter()
                .map(|r| (0..r.len()).map(|i| cell(r, i)).collect())
                .collect())
        })
    }

    fn exec(&self, sql: &str, params: &[Param]) -> Result<u64> {
        self.pool.with(|c| {
            let ps = bind(params);
            c.execute(sql, &refs(&ps)).map_err(err)
        })
    }

    fn advance(&self, log_id: &str, expected: &Head, plan: &Plan) -> Result<bool> {
        self.pool.with(|c| {
            let mut tx = c.transaction().map_err(err)?;
            let ap = advance_params(log_id, expected, plan);
            let ps = bind(&ap);
            // Under READ COMMITTED a competing transaction waits for this row's lock, then
            // sees the moved head and updates nothing.
            if tx.execute(ADVANCE_SQL, &refs(&ps)).map_err(err)? != 1 {
                return Ok(false);
            }
            let st = tx.prepare(INSERT_SQL).map_err(err)?;
            for r in &plan.rows {
                let ip = insert_params(log_id, r);
                let ps = bind(&ip);
                tx.execute(&st, &refs(&ps)).map_err(err)?;
            }
            tx.commit().map_err(err)?;
            Ok(true)
        })
    }
}
