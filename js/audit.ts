/**
 * The local access log: a FHIR AuditEvent (IHE BALP) for every look-up, written *before*
 * the request is sent and completed after, hash-chained (RFC 8785 + SHA-256) with signed
 * checkpoints, stored in a sink: memory, IndexedDB (browsers, several tabs share one
 * chain), an append-only NDJSON file (Node, fsync per batch, torn tails repaired), or yours.
 *
 * If the log cannot be written, `append` rejects with {@link AuditError} and the caller must
 * not send the request: the log fails closed.
 *
 * @example
 * ```ts
 * const log = await AuditLog.open({ sink: { file: '/var/log/tillit/access.ndjson' }, checkpointKey })
 * const { id } = await log.append({ kind: 'search', trustContext, clientId, server, transactionId })
 * // … send the request …
 * await log.complete(id, { outcome: 'success', completion: { returned: 4, withheld: { PATIENT_BLOCK: 1 } } })
 * const { ok, firstBadIndex } = await log.verify()
 * ```
 * @module
 */
import * as core from '#core';
import { AuditError, call, callAsync, fromCore } from './errors.js';
import type { Key } from './keys.js';
import { TrustContext } from './trust.js';
import { contextTextOf } from './context-text.js';
import { platform } from './platform.js';

/** A caller-supplied sink (e.g. shipping to the organisation's log platform). */
export interface CustomSink {
  /** Stores lines durably, in order; resolves only once they are stored. */
  append(lines: string[]): Promise<void>;
  /** All stored lines, in order. */
  read(): Promise<string[]>;
}

/** Where the log is kept. */
export type AuditSinkOption = 'memory' | 'indexeddb' | { file: string } | CustomSink;

/** Options of {@link AuditLog.open}. */
export interface AuditLogOptions {
  sink: AuditSinkOption;
  /** Log name (IndexedDB database suffix). Default `default`. */
  name?: string;
  /** Signs checkpoints of the chain head; keep it non-extractable (`generateKey`). */
  checkpointKey?: Key;
  /** A checkpoint after every N records. Default 100. */
  checkpointEvery?: number;
}

/** A look-up to log. */
export interface AuditEventInput {
  kind: 'search' | 'read' | 'token';
  trustContext: TrustContext;
  clientId: string;
  /** The server's base URL. */
  server: string;
  /** The `nhn-event-id` sent with the request. */
  transactionId: string;
  /** ITI-67 query string. */
  query?: string;
  /** ITI-68 document unique id. */
  documentId?: string;
  /** The access token's `jti` (never the token). */
  tokenJti?: string;
}

/** How a look-up ended. */
export interface AuditCompletion {
  outcome: 'success' | 'failure' | 'error';
  completion?: {
    httpStatus?: number;
    description?: string;
    returned?: number;
    withheld?: Record<string, number>;
    leaks?: number;
  };
}

/** What {@link AuditLog.verify} found. */
export interface VerifyResult {
  ok: boolean;
  entries: number;
  firstBadIndex?: number;
  problem?: string;
  /** Checkpoints whose signature and head were checked with the checkpoint key. */
  checkpointsVerified: number;
}

/** Filter of {@link AuditLog.query}. */
export interface AuditFilter {
  patient?: string;
  practitioner?: string;
  from?: string;
  to?: string;
  purpose?: 'TREAT' | 'ETREAT' | 'COC' | 'BTG';
  action?: 'search' | 'read' | 'token';
}

/** One line of "who looked at my record". */
export interface CitizenReportEntry {
  when: string;
  what: 'documentList' | 'document';
  who: string;
  role: string | null;
  organisation: string | null;
  purpose: string | null;
  why: string | null;
  outcome: string | null;
}

/** What the sink found when it was opened (a torn last line after a crash). */
export interface Recovery {
  tornBytes: number;
  savedAs: string;
}

/**
 * Lines stored together: NDJSON bytes as the core wrote them (each line ended by `\n`), or
 * text lines (read from a sink, or a single record), never both at rest. Text is made from
 * the bytes only when something asks for it, so a batch that goes from the core to a file or
 * to memory is never decoded on the way; text lines become bytes the first time the read
 * side needs them, and the text is let go.
 */
class Batch {
  #bytes?: Uint8Array;
  #lines?: string[];
  readonly count: number;
  private constructor(count: number, bytes?: Uint8Array, lines?: string[]) {
    this.count = count;
    this.#bytes = bytes;
    this.#lines = lines;
  }
  static ofBytes(bytes: Uint8Array, count: number): Batch {
    return new Batch(count, bytes);
  }
  static ofLines(lines: string[]): Batch {
    return new Batch(lines.length, undefined, [...lines]);
  }
  /** NDJSON bytes. */
  get bytes(): Uint8Array {
    if (!this.#bytes) {
      this.#bytes = encoder.encode(this.#lines!.map((l) => `${l}\n`).join(''));
      this.#lines = undefined;
    }
    return this.#bytes;
  }
  /** The lines as text: a new array each time (decoded from the bytes, not kept). */
  get lines(): string[] {
    if (this.#lines) return [...this.#lines];
    const text = decoder.decode(this.#bytes!);
    return this.count ? text.slice(0, -1).split('\n') : [];
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Records in order, held as the batches they were stored in. */
class Records {
  #batches: Batch[] = [];
  length = 0;
  push(b: Batch) {
    this.#batches.push(b);
    this.length += b.count;
  }
  /** Every line as text. */
  lines(): string[] {
    return this.#batches.flatMap((b) => b.lines);
  }
  /** Every line as one NDJSON byte array. */
  bytes(): Uint8Array {
    const parts = this.#batches.map((b) => b.bytes);
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

interface Sink {
  append(batch: Batch): Promise<void>;
  read(): Promise<string[]>;
  readFrom?(seq: number): Promise<string[]>;
  lock?<T>(f: () => Promise<T>): Promise<T>;
  recovered?: Recovery;
  close?(): Promise<void>;
}

class MemorySink implements Sink {
  records = new Records();
  async append(batch: Batch) {
    this.records.push(batch);
  }
  async read() {
    return this.records.lines();
  }
}

/** IndexedDB: one record per line keyed by `seq`; Web Locks serialise tabs. */
class IndexedDbSink implements Sink {
  #db: IDBDatabase;
  #name: string;
  private constructor(db: IDBDatabase, name: string) {
    this.#db = db;
    this.#name = name;
  }
  static async open(name: string): Promise<IndexedDbSink> {
    const f = (globalThis as { indexedDB?: IDBFactory }).indexedDB;
    if (!f) throw new AuditError('AUDIT_FAILURE', 'sink', 'IndexedDB is not available here: use a file sink (Node) or your own sink');
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const req = f.open(`tillit-audit-${name}`, 1);
      req.onupgradeneeded = () => req.result.createObjectStore('records');
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(new AuditError('AUDIT_FAILURE', 'sink', 'IndexedDB could not be opened'));
    });
    return new IndexedDbSink(db, name);
  }
  #tx<T>(mode: IDBTransactionMode, f: (s: IDBObjectStore) => IDBRequest<T> | void): Promise<T | undefined> {
    return new Promise((resolve, reject) => {
      const tx = this.#db.transaction('records', mode, { durability: 'strict' });
      const req = f(tx.objectStore('records'));
      tx.oncomplete = () => resolve(req ? req.result : undefined);
      tx.onerror = tx.onabort = () => reject(new AuditError('AUDIT_FAILURE', 'sink', 'IndexedDB refused the write'));
    });
  }
  async append(batch: Batch) {
    await this.#tx('readwrite', (s) => {
      for (const l of batch.lines) s.add(l, JSON.parse(l).seq as number);
    });
  }
  async read() {
    return ((await this.#tx('readonly', (s) => s.getAll())) ?? []) as string[];
  }
  async readFrom(seq: number) {
    return ((await this.#tx('readonly', (s) => s.getAll(IDBKeyRange.lowerBound(seq)))) ?? []) as string[];
  }
  async lock<T>(f: () => Promise<T>): Promise<T> {
    const locks = (globalThis.navigator as Navigator | undefined)?.locks;
    if (!locks) return f();
    return locks.request(`tillit-audit-${this.#name}`, { mode: 'exclusive' }, f) as Promise<T>;
  }
  async close() {
    this.#db.close();
  }
}

/** The part of Node's `fs/promises` the file sink uses (typed here: no @types/node needed). */
interface FileHandle {
  write(data: Uint8Array, offset: number, length: number): Promise<{ bytesWritten: number }>;
  truncate(len: number): Promise<void>;
  datasync(): Promise<void>;
  close(): Promise<void>;
}
interface FsPromises {
  readFile(path: string): Promise<Uint8Array>;
  writeFile(path: string, data: Uint8Array): Promise<void>;
  truncate(path: string, len: number): Promise<void>;
  open(path: string, flags: string): Promise<FileHandle>;
}

/** An append-only NDJSON file; fsync per batch; a torn last line is set aside, not dropped. */
class FileSink implements Sink {
  #path: string;
  #fh: FileHandle | undefined;
  #fs: FsPromises | undefined;
  /** The file's length in whole, acknowledged lines. */
  #size = 0;
  /** Set when a failed write left bytes that could not be taken back. */
  #broken = false;
  recovered?: Recovery;
  constructor(path: string) {
    this.#path = path;
  }
  async #mod() {
    if (!this.#fs) {
      const { fs } = platform;
      if (!fs) throw new AuditError('AUDIT_FAILURE', 'sink.file', 'a file sink needs Node: in browsers use indexeddb');
      this.#fs = fs as FsPromises;
    }
    return this.#fs;
  }
  async read() {
    const fs = await this.#mod();
    let bytes: Uint8Array;
    try {
      bytes = await fs.readFile(this.#path);
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT') return [];
      throw new AuditError('AUDIT_FAILURE', 'sink.file', 'the log file could not be read');
    }
    const r = call(() => core.auditReadNdjson(bytes)) as { lines: string[]; tornAt: number | null };
    this.#size = bytes.length;
    if (r.tornAt !== null && r.tornAt !== undefined) {
      const savedAs = `${this.#path}.torn-${Date.now()}`;
      await fs.writeFile(savedAs, bytes.subarray(r.tornAt));
      await fs.truncate(this.#path, r.tornAt);
      this.recovered = { tornBytes: bytes.length - r.tornAt, savedAs };
      this.#size = r.tornAt;
    }
    return r.lines;
  }
  async append(batch: Batch) {
    if (this.#broken) {
      throw new AuditError('AUDIT_FAILURE', 'sink.file', 'an earlier write failed part-way and could not be taken back: open the log again, which sets the partial line aside');
    }
    const fs = await this.#mod();
    let fh: FileHandle | undefined;
    try {
      fh = this.#fh ??= await fs.open(this.#path, 'a');
      // A write may take less than it was given (a full disk, a signal): the rest follows,
      // and nothing is acknowledged before all of it is written and synced.
      const bytes = batch.bytes;
      for (let at = 0; at < bytes.length; ) {
        const { bytesWritten } = await fh.write(bytes, at, bytes.length - at);
        if (!(bytesWritten > 0)) throw new Error('no progress');
        at += bytesWritten;
      }
      await fh.datasync();
      this.#size += bytes.length;
    } catch {
      // None of the batch is acknowledged; what of it reached the file is taken back, so the
      // next write starts on a line of its own. If that fails too, the sink refuses further
      // writes (a later line after a partial one would be corruption, not a torn tail).
      if (fh) {
        try {
          await fh.truncate(this.#size);
        } catch {
          this.#broken = true;
        }
      }
      throw new AuditError('AUDIT_FAILURE', 'sink.file', 'the log file could not be written and synced');
    }
  }
  async close() {
    await this.#fh?.close();
    this.#fh = undefined;
  }
}

function customSink(s: CustomSink): Sink {
  if (typeof s?.append !== 'function' || typeof s?.read !== 'function') {
    throw new AuditError('AUDIT_FAILURE', 'sink', "must be 'memory', 'indexeddb', { file } or an object with append(lines) and read()");
  }
  return {
    append: async (batch) => {
      try {
        await s.append(batch.lines);
      } catch {
        throw new AuditError('AUDIT_FAILURE', 'sink.append', 'the sink refused the write');
      }
    },
    read: async () => {
      const lines = await s.read();
      if (!Array.isArray(lines) || lines.some((l) => typeof l !== 'string')) throw new AuditError('AUDIT_FAILURE', 'sink.read', 'must resolve to an array of strings');
      return lines;
    },
  };
}

/**
 * Entries prepared and stored per sink write, at most: a batch's lines stay small enough for
 * the CPU caches, and a file sink still syncs once per batch, not per entry.
 */
const BATCH = 256;

interface Pending {
  input: Record<string, unknown>;
  /** The trust context's JSON text. */
  context: string | undefined;
  resolve: (v: { id: string; seq: number }) => void;
  reject: (e: unknown) => void;
  /** Whether this entry opens a look-up (append) or completes one (complete). */
  opens: boolean;
}

/** A tamper-evident access log. */
export class AuditLog {
  #chain: core.AuditCore;
  /** The stored records this log has seen, in order (the read side works on these). */
  #records = new Records();
  #sink: Sink;
  #key?: Key;
  #every: number;
  #open = new Map<string, { input: Record<string, unknown>; context: string | undefined }>();
  #queue: Pending[] = [];
  #flushing: Promise<void> | null = null;
  #sinceCheckpoint = 0;
  /** Set when opening found and repaired a torn last line. */
  readonly recovered?: Recovery;

  private constructor(c: core.AuditCore, lines: string[], sink: Sink, opts: AuditLogOptions) {
    this.#chain = c;
    this.#records.push(Batch.ofLines(lines));
    this.#sink = sink;
    this.#key = opts.checkpointKey;
    this.#every = opts.checkpointEvery ?? 100;
    this.recovered = sink.recovered;
  }

  /** Opens (or creates) a log; throws {@link AuditError} if the stored chain does not verify. */
  static async open(opts: AuditLogOptions): Promise<AuditLog> {
    const s = opts?.sink;
    const sink: Sink =
      s === 'memory' ? new MemorySink()
      : s === 'indexeddb' ? await IndexedDbSink.open(opts.name ?? 'default')
      : s && typeof s === 'object' && 'file' in s ? new FileSink(s.file)
      : customSink(s as CustomSink);
    const lines = await sink.read();
    let c: core.AuditCore;
    try {
      c = new core.AuditCore(lines, await nativeSha256());
    } catch (e) {
      const err = fromCore(e) as { rule?: string; path?: string };
      throw new AuditError('AUDIT_FAILURE', err.path ?? 'log', `the stored log does not verify: ${err.rule ?? 'unreadable'}`);
    }
    const log = new AuditLog(c, lines, sink, opts);
    if (sink.recovered) {
      await log.#write(() => Batch.ofLines([call(() => log.#chain.prepareRecord('recovery', { tornBytes: sink.recovered!.tornBytes, savedAs: sink.recovered!.savedAs, note: 'a torn last line (an unfinished write) was set aside' }))]));
    }
    return log;
  }

  /** Records, by sequence. */
  get length(): number {
    return this.#records.length;
  }

  /**
   * Appends the look-up's entry with outcome pending and resolves once it is stored; only
   * then may the request be sent. Rejects with {@link AuditError} if it cannot be stored.
   */
  append(event: AuditEventInput & { id?: string }): Promise<{ id: string; seq: number }> {
    // The context travels as JSON text, one string per context object; the core parses each
    // distinct text once.
    let text: string | undefined;
    try {
      text = contextText(event?.trustContext);
    } catch {
      return Promise.reject(new AuditError('AUDIT_FAILURE', 'event.trustContext', 'must be a TrustContext or its JSON'));
    }
    // Our own copy, of the members the core reads (one shape for every entry): the batch
    // writer sets its trustContext to an index; the context's text stays beside it.
    const e = (event ?? {}) as Partial<AuditEventInput> & { id?: string };
    const input: Record<string, unknown> = {
      kind: e.kind,
      trustContext: undefined,
      clientId: e.clientId,
      server: e.server,
      transactionId: e.transactionId,
      query: e.query,
      documentId: e.documentId,
      tokenJti: e.tokenJti,
      id: e.id ?? uuid(),
      outcome: 'pending',
    };
    return new Promise((resolve, reject) => {
      this.#queue.push({ input, context: text, resolve, reject, opens: true });
      this.#kick();
    });
  }

  /** Completes a pending look-up with its outcome (and minimisation counts). */
  complete(id: string, done: AuditCompletion): Promise<{ id: string; seq: number }> {
    const base = this.#open.get(id);
    if (!base) return Promise.reject(new AuditError('AUDIT_FAILURE', 'id', 'no pending look-up with this id in this log'));
    const input = { ...base.input, outcome: done.outcome, completion: done.completion };
    return new Promise<{ id: string; seq: number }>((resolve, reject) => {
      this.#queue.push({ input, context: base.context, resolve, reject, opens: false });
      this.#kick();
    });
  }

  #kick() {
    this.#flushing ??= (async () => {
      const toError = (e: unknown) => (e instanceof AuditError ? e : new AuditError('AUDIT_FAILURE', (e as { path?: string }).path ?? 'event', (e as { rule?: string }).rule ?? 'the entry could not be written'));
      const store = async (items: Pending[]) => {
        const { first } = await this.#write(() => prepareBatch(this.#chain, items));
        items.forEach((b, i) => {
          const id = b.input.id as string;
          // A pending look-up stays open until its completion is stored.
          if (b.opens) this.#open.set(id, { input: b.input, context: b.context });
          else this.#open.delete(id);
          b.resolve({ id, seq: first + i });
        });
      };
      while (this.#queue.length) {
        const batch = this.#queue.splice(0, BATCH);
        try {
          await store(batch);
        } catch (e) {
          // Nothing of the batch was stored. One bad entry must not fail the others: store
          // them one by one, so each caller hears about its own entry.
          if (batch.length === 1) batch[0]!.reject(toError(e));
          else {
            for (const b of batch) {
              try {
                await store([b]);
              } catch (e1) {
                b.reject(toError(e1));
              }
            }
          }
        }
      }
      this.#flushing = null;
    })();
  }

  async #write(prepare: () => Batch): Promise<{ first: number }> {
    const run = async () => {
      if (this.#sink.readFrom) {
        this.#absorb(await this.#sink.readFrom(this.#records.length));
      }
      const first = this.#records.length;
      const batch = prepare();
      await this.#sink.append(batch);
      this.#chain.commitPrepared(batch.count);
      this.#records.push(batch);
      this.#sinceCheckpoint += batch.count;
      return { first };
    };
    const r = await (this.#sink.lock ? this.#sink.lock(run) : run());
    if (this.#key && this.#sinceCheckpoint >= this.#every) await this.checkpoint();
    return r;
  }

  /** Appends a checkpoint: the chain head signed with the checkpoint key. */
  async checkpoint(): Promise<void> {
    if (!this.#key) throw new AuditError('AUDIT_FAILURE', 'checkpointKey', 'is needed to sign checkpoints');
    this.#sinceCheckpoint = 0;
    const key = this.#key;
    const run = async () => {
      if (this.#sink.readFrom) {
        this.#absorb(await this.#sink.readFrom(this.#records.length));
      }
      const jws = await callAsync(() => core.signCheckpoint(key, this.#chain.checkpointClaims()));
      const batch = Batch.ofLines([call(() => this.#chain.prepareRecord('checkpoint', { jws, kid: key.kid }))]);
      await this.#sink.append(batch);
      this.#chain.commitPrepared(1);
      this.#records.push(batch);
    };
    await (this.#sink.lock ? this.#sink.lock(run) : run());
  }

  /**
   * Verifies the chain (the first broken, missing, reordered or altered record) and, with a
   * checkpoint key, every checkpoint's signature and head.
   */
  async verify(): Promise<VerifyResult> {
    return verifyLines(await this.#sink.read(), this.#key?.publicJwk);
  }

  /** Look-ups matching `filter` (the latest state of each). */
  query(filter: AuditFilter = {}): Record<string, unknown>[] {
    return this.#read((r) => r.query(filter)) as Record<string, unknown>[];
  }

  /** Follow-up reports: missing decision refs, emergency access, self-granted, unusual volume, unknown outcomes. */
  report(opts: { volumeThreshold?: number } = {}): Record<string, unknown> {
    return this.#read((r) => r.report(opts.volumeThreshold ?? 50)) as Record<string, unknown>;
  }

  /** "Who looked at my record": never the practitioner's national id. */
  citizenReport(patientId: string): CitizenReportEntry[] {
    return this.#read((r) => r.citizenReport(patientId)) as CitizenReportEntry[];
  }

  /** The records as NDJSON (with the chain), or the AuditEvents as a FHIR Bundle. */
  export(format: 'ndjson'): string;
  export(format: 'bundle'): { resourceType: 'Bundle'; type: 'collection'; entry: Array<{ resource: Record<string, unknown> }> };
  export(format: 'ndjson' | 'bundle'): unknown {
    return format === 'ndjson' ? decoder.decode(this.#records.bytes()) : this.#read((r) => r.exportBundle());
  }

  /** Lines another writer (another tab) stored after ours: they must link to our head. */
  #absorb(fresh: string[]) {
    call(() => this.#chain.absorb(fresh));
    this.#records.push(Batch.ofLines(fresh));
  }

  /** Runs a log-control read over the records (parsed in the core for this call). */
  #read<T>(f: (r: core.AuditRecords) => T): T {
    const r = call(() => core.AuditRecords.fromNdjson(this.#records.bytes()));
    try {
      return call(() => f(r));
    } finally {
      r.free();
    }
  }

  /** Waits for pending writes, then releases the sink. */
  async close(): Promise<void> {
    await this.#flushing;
    await this.#sink.close?.();
  }
}

/** Verifies stored lines (for tooling): the chain, and checkpoints with `publicJwk`. */
export async function verifyLines(lines: string[], publicJwk?: Key['publicJwk']): Promise<VerifyResult> {
  const { checkpoints, ...r } = call(() => core.auditVerifyLines(lines)) as Omit<VerifyResult, 'checkpointsVerified'> & {
    checkpoints?: Array<{ index: number; jws: string; prevHash: string }>;
  };
  let checkpointsVerified = 0;
  if (r.ok && publicJwk) {
    for (const cp of checkpoints ?? []) {
      const claims = (await callAsync(() => core.verifyCheckpoint(publicJwk, cp.jws))) as { head: string; count: number } | null;
      if (!claims || claims.head !== cp.prevHash || claims.count !== cp.index) {
        return { ok: false, entries: r.entries, firstBadIndex: cp.index, problem: 'CHECKPOINT: the signature or the signed head does not match', checkpointsVerified };
      }
      checkpointsVerified++;
    }
  }
  return { ...r, firstBadIndex: r.firstBadIndex ?? undefined, problem: r.problem ?? undefined, checkpointsVerified };
}

/**
 * One crossing for a batch: the events as one JSON text, each naming its trust context by
 * index into the batch's distinct context texts.
 */
function prepareBatch(chain: core.AuditCore, batch: Pending[]): Batch {
  const contexts: string[] = [];
  const index = new Map<unknown, number>();
  const events = batch.map((b) => {
    const t = b.context;
    let i: number | undefined;
    if (typeof t === 'string') {
      i = index.get(t);
      if (i === undefined) {
        i = contexts.length;
        contexts.push(t);
        index.set(t, i);
      }
    }
    b.input.trustContext = i;
    return b.input;
  });
  return Batch.ofBytes(call(() => chain.prepareEvents(JSON.stringify(events), contexts)) as Uint8Array, batch.length);
}

/**
 * The JSON text of a trust context: for a {@link TrustContext} (deep-frozen) the same string
 * every time; a plain object (which may change) is written anew each time.
 */
function contextText(tc: TrustContext | object | undefined): string | undefined {
  if (tc === undefined || tc === null || typeof tc !== 'object') return tc as undefined;
  return tc instanceof TrustContext ? contextTextOf(tc) : JSON.stringify(tc);
}

let sha256: Promise<((bytes: Uint8Array) => string) | undefined> | undefined;

/**
 * Node's native SHA-256 (`node:crypto`), which the core checks against its own and uses to
 * chain records; elsewhere undefined (the core's RustCrypto SHA-256 serves).
 */
function nativeSha256(): Promise<((bytes: Uint8Array) => string) | undefined> {
  sha256 ??= (async () => {
    if (typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node !== 'string') return undefined;
    try {
      const c = platform.crypto as {
        hash?: (alg: string, data: Uint8Array, enc: 'hex') => string;
        createHash(alg: string): { update(b: Uint8Array): { digest(enc: 'hex'): string } };
      };
      // crypto.hash (Node >= 20.12) is the one-shot form: no Hash object per record.
      const hash = c.hash;
      return hash ? (bytes: Uint8Array) => hash('sha256', bytes, 'hex') : (bytes: Uint8Array) => c.createHash('sha256').update(bytes).digest('hex');
    } catch {
      return undefined;
    }
  })();
  return sha256;
}

/** Look-up ids: random v4 UUIDs made by the core, fetched 64 at a time. */
let ids = '';
let idAt = 0;
function uuid(): string {
  if (idAt >= ids.length) {
    ids = call(() => core.uuids(64));
    idAt = 0;
  }
  idAt += 36;
  return ids.slice(idAt - 36, idAt);
}
