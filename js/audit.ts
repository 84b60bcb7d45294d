/**
 * The local access log: a FHIR AuditEvent (IHE BALP) for every look-up, written *before*
 * the request is sent and completed after, hash-chained (RFC 8785 + SHA-256) with signed
 * checkpoints, stored in a sink: memory, IndexedDB (browsers, several tabs share one
 * chain), an append-only NDJSON file (Node, fsync per batch, torn tails repaired), or yours.
 *
 * If the log cannot be written, `append` rejects with {@link AuditError} and the caller must
 * not send the request: the log fails closed. The stored format (format 1: a declaration
 * record, the chain, checkpoints every N records) is specified in docs/audit-format.md.
 *
 * @example
 * ```ts
 * const log = await AuditLog.open({ sink: { file: '/var/log/tillit/access.ndjson' }, checkpointKey })
 * const { id } = await log.append({ kind: 'search', trustContext, clientId, server, transactionId })
 * // … send the request …
 * await log.complete(id, { outcome: 'success', completion: { returned: 4, withheld: { PATIENT_BLOCK: 1 } } })
 * const anchor = log.head() // hand it to the collector
 * const { ok, signed, firstBadIndex, problem } = await log.verify({ anchor })
 * ```
 * @module
 */
import * as core from '#core';
import {
  ArgumentError,
  AuditError,
  AuditIntegrityError,
  call,
  callAsync,
  fromCore,
} from './errors.js';
import type { Key } from './keys.js';
import { TrustContext } from './trust.js';
import { contextTextOf } from './context-text.js';
import { platform } from './platform.js';
import { uuid } from './uuid.js';
import { limits } from './limits.js';
import { Batch, Records, VERIFY_CHUNK, type Sink } from './sinks/sink.js';
import { MemorySink } from './sinks/memory.js';
import { IndexedDbSink } from './sinks/indexeddb.js';
import { FileSink } from './sinks/file.js';
import { customSink } from './sinks/custom.js';
import {
  fileStateStore,
  indexedDbStateStore,
  memoryStateStore,
  Shipper,
  type ShipOptions,
  type ShippingStatus,
  type ShipSource,
  type ShipState,
  type ShipStateStore,
} from './ship.js';

export type { ShipOptions, ShippingStatus, ShipState } from './ship.js';

/** The `shipping` event of {@link AuditLog.addEventListener} (a `CustomEvent`). */
export interface ShippingEvent {
  readonly type: 'shipping';
  /** The status after the change. */
  readonly detail: ShippingStatus;
}

/** A caller-supplied sink (e.g. shipping to the organisation's log platform). */
export interface CustomSink {
  /** Stores lines durably, in order; resolves only once they are stored. */
  append(lines: string[]): Promise<void>;
  /** All stored lines, in order. */
  read(): Promise<string[]>;
  /**
   * How many lines are stored and the last of them. Optional: without it the log calls
   * `read()` before each batch to check that the sink still ends where the log does.
   */
  tail?(): Promise<{ count: number; last?: string }>;
  /**
   * Where the shipping state (`ship` option: the collector's acknowledged head, the log id,
   * the prune point) is kept beside the lines. Optional: without it the state lives in memory
   * and shipping starts each time by asking the collector for its head.
   */
  shipState?: { load(): Promise<ShipState | null>; save(state: ShipState): Promise<void> };
}

/** Where the log is kept. */
export type AuditSinkOption = 'memory' | 'indexeddb' | { file: string } | CustomSink;

/** Options of {@link AuditLog.open}. */
export interface AuditLogOptions {
  sink: AuditSinkOption;
  /** Log name (IndexedDB database suffix). Default `default`. */
  name?: string;
  /**
   * Signs the log's declaration and checkpoints of the chain head; keep it non-extractable
   * (`generateKey`). A log begun with a key must be opened with it; a log begun without one
   * cannot be opened with one.
   */
  checkpointKey?: Key;
  /** A checkpoint after every N records (1 to 1,000,000), declared when the log begins. Default 100; an existing log keeps its own. */
  checkpointEvery?: number;
  /**
   * Open a log written before the declaration record (format 0): it is verified as such,
   * and a declaration is appended before anything else. Default false: such a log is refused.
   */
  acceptLegacy?: boolean;
  /**
   * Ship every record to the organisation's collector (`tillit-collector`), in order, at
   * least once; see {@link ShipOptions} and `log.shipping`. The local log stays the
   * write-ahead gate of each look-up: shipping never blocks or fails a look-up.
   */
  ship?: ShipOptions;
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
  /** PJD's `nhn-access-basis`, if sent; a raised (`FORHOYET_*`) one is reported as emergency access. */
  accessBasis?: string;
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

/** The head of a log, for a party outside the device to hold (see {@link AuditLog.head}). */
export interface AuditHead {
  /** The last record's sequence number. */
  seq: number;
  /** Its hash. */
  hash: string;
  /** The last checkpoint: its sequence number and JWS (keyed logs). */
  checkpoint?: { seq: number; jws: string };
}

/** `log.report(…)`: the follow-up reports. */
export interface ReportOptions {
  /** Look-ups by one user in a day above which the volume report lists them; default 50. */
  volumeThreshold?: number;
}

/** Options of {@link AuditLog.verify} and {@link verifyLines}. */
export interface VerifyOptions {
  /** The checkpoint key's public JWK: the log must declare it, and every signature must hold. */
  publicJwk?: Key['publicJwk'];
  /** A head held outside the device ({@link AuditLog.head}): the log must still hold it (or, pruned, continue right after it). */
  anchor?: { seq: number; hash: string };
  /**
   * The last record pruned locally after the collector acknowledged it (`log.shipping.prunedTo`):
   * the log may continue after its declaration at the next record, linked to this one.
   * `log.verify()` passes its own.
   */
  prunedTo?: { seq: number; hash: string };
  /** Read a log written before the declaration record (format 0). Default false. */
  acceptLegacy?: boolean;
}

/** What {@link AuditLog.verify} found. */
export interface VerifyResult {
  ok: boolean;
  entries: number;
  firstBadIndex?: number;
  /** `CODE: words`; the code (`ALTERED`, `CHECKPOINT_MISSING`, `TRUNCATED`, …) is stable: see docs/audit-format.md. */
  problem?: string;
  /**
   * `true` only when a public key was given, the log declares it, and the declaration and
   * every checkpoint verified with it. `false`: nothing was checked against a key (an
   * unsigned log, or no key given): the chain shows edits, not a careful rewrite.
   */
  signed: boolean;
  /** 1 (a declaration record), or 0 (a log written before it, read with `acceptLegacy`). */
  format?: number;
  /** The key the log declares (`null`: the log says it is unsigned). */
  checkpointKey?: { thumbprint: string; alg: string } | null;
  /** The interval the log declares. */
  checkpointEvery?: number | null;
  /** Checkpoint records in the log. */
  checkpoints?: number;
  /** Records after the last signed record (a log closed by its writer has none). */
  unsignedTail?: number;
  /** Signatures (declaration and checkpoints) checked with the key. */
  checkpointsVerified: number;
  /** The head the log ends at. */
  head?: { seq: number; hash: string } | null;
}

export { AuditIntegrityError } from './errors.js';

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
 * What {@link AuditLog.open} read and verified before it wrote. The stored log is read in
 * bounded parts (a file 64 KiB per read, IndexedDB 256 records per read) and verified as it comes, so opening holds one part and one unfinished
 * line at a time, however long the log.
 */
export interface OpenedLog {
  /** Records read and verified. */
  records: number;
  /** Bytes read (a file sink; 0 for the others). */
  bytes: number;
  /** Reads from the sink. */
  reads: number;
  /**
   * The most of the stored log held at once while verifying: one read and the line not yet
   * ended (a file, in bytes), or one read's records (IndexedDB and custom sinks, in UTF-16
   * code units). Bounded by the read size and the longest record, not by the log's length.
   */
  peakBufferedBytes: number;
}

const decoder = new TextDecoder();

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
  #records: Records;
  #sink: Sink;
  #key?: Key;
  #acceptLegacy: boolean;
  /** Look-ups whose pending record is stored and whose completion is not yet asked for. */
  #open = new Map<string, { input: Record<string, unknown>; context: string | undefined }>();
  #queue: Pending[] = [];
  #flushing: Promise<void> | null = null;
  /** The last checkpoint: its seq and JWS. */
  #checkpoint?: { seq: number; jws: string };
  /** Set once the sink lost records or another writer wrote under us: every append is refused. */
  #lost?: AuditIntegrityError;
  /** Set when opening found and repaired a torn last line. */
  readonly recovered?: Recovery;
  /** Records pruned after the declaration (the records held begin at seq `#pruned + 1`). */
  #pruned = 0;
  #prunedTo: { seq: number; hash: string } | null = null;
  /** Where the shipping state (the prune point another tab may have moved) is kept. */
  #states?: ShipStateStore;
  #shipper?: Shipper;
  #events = new EventTarget();
  #serial: Promise<void> = Promise.resolve();
  /**
   * What opening read and verified, and the most of it held at once.
   *
   * @example
   * ```ts
   * const { records, reads, peakBufferedBytes } = log.opened // a 36 MB file: 556 reads, under 70 KB held
   * ```
   */
  readonly opened: OpenedLog;

  private constructor(
    c: core.AuditCore,
    records: Records,
    checkpoint: { seq: number; jws: string } | undefined,
    sink: Sink,
    opts: AuditLogOptions,
    opened: OpenedLog,
  ) {
    this.#chain = c;
    this.#records = records;
    this.#sink = sink;
    this.#key = opts.checkpointKey;
    this.#acceptLegacy = opts.acceptLegacy === true;
    this.recovered = sink.recovered;
    this.opened = opened;
    this.#takeCheckpoint(checkpoint);
  }

  /** The records held begin after `to` (the declaration aside). */
  #adoptPrune(
    to: { seq: number; hash: string },
    checkpoint: { seq: number; jws: string } | undefined,
  ) {
    this.#pruned = to.seq;
    this.#prunedTo = to;
    this.#takeCheckpoint(checkpoint);
  }

  /** The last checkpoint read is the head's if no record but events follows it. */
  #takeCheckpoint(checkpoint: { seq: number; jws: string } | undefined) {
    const c = this.#chain;
    this.#checkpoint =
      checkpoint &&
      c.declared?.checkpointKey &&
      checkpoint.seq === this.#next() - c.sinceCheckpoint - 1
        ? checkpoint
        : undefined;
  }

  /**
   * Opens (or creates) a log. The stored log is verified first (the chain, the declaration,
   * every checkpoint, with the key's signatures), as it is read, a bounded part at a time
   * (see {@link AuditLog.opened}); if it does not verify, open throws
   * {@link AuditIntegrityError}, and nothing is written or signed. A new log begins with its
   * declaration record (signed with `checkpointKey`).
   */
  static async open(opts: AuditLogOptions): Promise<AuditLog> {
    const s = opts?.sink;
    const sink: Sink =
      s === 'memory'
        ? new MemorySink()
        : s === 'indexeddb'
          ? await IndexedDbSink.open(opts.name ?? 'default')
          : s && typeof s === 'object' && 'file' in s
            ? new FileSink(s.file)
            : customSink(s as CustomSink);
    const key = opts.checkpointKey;
    const every = opts.checkpointEvery ?? 100;
    if (!Number.isInteger(every) || every < 1 || every > 1_000_000)
      throw new AuditError(
        'AUDIT_FAILURE',
        'checkpointEvery',
        'must be an integer from 1 to 1,000,000',
      );
    const states: ShipStateStore | undefined =
      s === 'memory'
        ? opts.ship
          ? memoryStateStore()
          : undefined
        : s === 'indexeddb'
          ? opts.ship
            ? indexedDbStateStore(opts.name ?? 'default')
            : undefined
          : sink instanceof FileSink
            ? fileStateStore(sink.path)
            : (sink.shipState ?? (opts.ship ? memoryStateStore() : undefined));
    const run = async () => {
      // A log pruned after shipping begins, after its declaration, past the prune point kept
      // in the shipping state.
      const shipped = states ? await states.load() : null;
      const prunedTo = shipped?.pruned ?? undefined;
      // The collector's acknowledged head is an anchor: a log cut below it does not open.
      const anchor = shipped?.acked ?? undefined;
      // Read and verified a part at a time; the records are kept (as stored) for the read side.
      const records = new Records();
      const verifying = new Verification({
        publicJwk: key?.publicJwk,
        acceptLegacy: opts.acceptLegacy === true,
        prunedTo,
        anchor,
      });
      let c: core.AuditCore;
      let opened: OpenedLog;
      try {
        const read = await scanVerified(sink, verifying, records);
        const v = verifying.finish();
        if (!v.ok)
          throw new AuditIntegrityError(
            `log[${v.firstBadIndex}]`,
            v.problem!,
            v.firstBadIndex,
            `the stored log does not verify: ${v.problem}`,
          );
        if (v.checkpointKey && !key)
          throw new AuditIntegrityError(
            'checkpointKey',
            'KEY_MISMATCH: the log declares a checkpoint key: open it with that key',
          );
        if (
          v.checkpointEvery != null &&
          opts.checkpointEvery !== undefined &&
          v.checkpointEvery !== opts.checkpointEvery
        ) {
          throw new AuditError(
            'AUDIT_FAILURE',
            'checkpointEvery',
            `the log declares a checkpoint after every ${v.checkpointEvery} records`,
          );
        }
        // Only a log that verified is repaired or written to.
        await sink.settle?.(verifying.tornAt ?? read.bytes, read.bytes);
        await sink.repair?.();
        try {
          c = verifying.resume(await nativeSha256());
        } catch (e) {
          const err = fromCore(e) as { rule?: string; path?: string };
          throw new AuditIntegrityError(
            err.path ?? 'log',
            err.rule ?? 'MALFORMED: unreadable',
            undefined,
            `the stored log does not verify: ${err.rule ?? 'unreadable'}`,
          );
        }
        opened = { records: v.entries, ...read };
      } finally {
        verifying.free();
      }
      const log = new AuditLog(c, records, verifying.lastCheckpoint, sink, opts, opened);
      if (prunedTo && beginsAfter(records, prunedTo))
        log.#adoptPrune(prunedTo, verifying.lastCheckpoint);
      log.#states = states;
      if (!c.declared) {
        const claims = call(() => c.declarationClaims(key?.publicJwk ?? null, key?.alg, every));
        const jws = key
          ? await callAsync(() => core.signAuditClaims(key, claims, 'tillit-declaration+jwt'))
          : undefined;
        await log.#store(() =>
          Batch.ofLines([
            call(() => c.prepareRecord('declaration', jws ? { ...claims, jws } : claims)),
          ]),
        );
      }
      if (sink.recovered) {
        await log.#store(() =>
          Batch.ofLines([
            call(() =>
              c.prepareRecord('recovery', {
                tornBytes: sink.recovered!.tornBytes,
                savedAs: sink.recovered!.savedAs,
                note: 'a torn last line (an unfinished write) was set aside',
              }),
            ),
          ]),
        );
        await log.#due();
      }
      return log;
    };
    const log = await (sink.lock ? sink.lock(run) : run());
    if (opts.ship) {
      try {
        log.#shipper = await Shipper.start(
          opts.ship,
          log.#shipSource(opts, sink),
          states!,
          (st) => {
            const E = (globalThis as { CustomEvent?: typeof CustomEvent }).CustomEvent;
            log.#events.dispatchEvent(
              E
                ? new E('shipping', { detail: st })
                : Object.assign(new Event('shipping'), { detail: st }),
            );
          },
        );
      } catch (e) {
        await sink.close?.();
        throw e;
      }
    }
    return log;
  }

  /** What the shipper reads and prunes. */
  #shipSource(opts: AuditLogOptions, sink: Sink): ShipSource {
    const idb = sink instanceof IndexedDbSink ? sink : undefined;
    const d = this.#chain.declared as { checkpointKey: unknown } | null;
    return {
      name: opts.name ?? 'default',
      checkpointJwk: d?.checkpointKey && this.#key ? this.#key.publicJwk : null,
      next: async () => (idb ? (await idb.range(0, 0)).next : this.#next()),
      lines: async (from, count) => {
        if (idb) return (await idb.range(from, count)).lines;
        if (from <= this.#pruned && from > 0) return [];
        return this.#records.slice(from === 0 ? 0 : from - this.#pruned, count);
      },
      // Custom sinks keep every record (they have no way to drop some).
      prune:
        idb || sink instanceof FileSink || sink instanceof MemorySink
          ? (to) => this.#pruneTo(to)
          : undefined,
      lock: idb ? (f, signal) => idb.shipLock(f, signal) : undefined,
    };
  }

  /**
   * Runs `f` alone among this log's writes and prunes (a prune replaces the stored records),
   * and under the sink's lock (other tabs).
   */
  #locked<T>(f: () => Promise<T>): Promise<T> {
    const run = () => (this.#sink.lock ? this.#sink.lock(f) : f());
    const p = this.#serial.then(run, run);
    this.#serial = p.then(
      () => undefined,
      () => undefined,
    );
    return p;
  }

  /** The next seq: the records held and those pruned. */
  #next(): number {
    return this.#records.length + this.#pruned;
  }

  /** Drops the records after the declaration up to `to` (acknowledged by the collector). */
  async #pruneTo(to: { seq: number; hash: string }) {
    const first = this.#records.slice(0, 1)[0];
    if (
      !first ||
      (JSON.parse(first) as { kind: string }).kind !== 'declaration' ||
      to.seq <= this.#pruned
    )
      return;
    const run = async () => {
      const sink = this.#sink;
      // IndexedDB: the records other tabs stored since are taken in first (the prune point
      // is never the stored head, but it may be past this tab's).
      if (sink instanceof IndexedDbSink) {
        await this.#watch();
        if (to.seq <= this.#pruned || to.seq + 1 >= this.#next()) return;
      }
      const kept = this.#records.slice(to.seq - this.#pruned + 1, Number.MAX_SAFE_INTEGER);
      const next = new Records();
      next.push(Batch.ofLines([first, ...kept]));
      if (sink instanceof FileSink) await sink.replace(next.bytes());
      else if (sink instanceof MemorySink) sink.records = next;
      else if (sink instanceof IndexedDbSink) await sink.prune(to.seq);
      else return;
      this.#records = next;
      this.#pruned = to.seq;
      this.#prunedTo = to;
    };
    await this.#locked(run);
  }

  /**
   * Shipping to the collector (with the `ship` option; null without): the state, how many
   * records wait and how old the oldest is, the collector's acknowledged head (the anchor),
   * the last error. Every change is also a `shipping` event (see {@link addEventListener}).
   */
  get shipping(): ShippingStatus | null {
    return this.#shipper?.status ?? null;
  }

  /**
   * Resolves once the collector acknowledged every record written so far (`ship` option);
   * rejects when shipping stops (fork, refusal), the log closes, or after `timeoutMs`.
   *
   * @example
   * ```ts
   * await log.flush({ timeoutMs: 10_000 }) // before a Node service exits
   * ```
   */
  async flush(opts: { timeoutMs?: number } = {}): Promise<void> {
    if (!this.#shipper)
      throw new ArgumentError(
        'INVALID_ARGUMENT',
        'ship',
        'the log was opened without the ship option',
      );
    await this.#flushing;
    return this.#shipper.flush(opts);
  }

  /**
   * Listens to the log's events: `shipping` (a `CustomEvent` whose `detail` is the
   * {@link ShippingStatus}), sent whenever shipping changes state, the queue grows or shrinks,
   * an attempt fails, or shipping stops (`state: 'stopped'`, `error` an {@link AuditForkError}
   * or `ShippingRefusedError`).
   *
   * @example
   * ```ts
   * log.addEventListener('shipping', (e) => { if (e.detail.oldestUnshippedAgeMs > 600_000) warn() })
   * ```
   */
  addEventListener(type: 'shipping', listener: (e: ShippingEvent) => void): void {
    this.#events.addEventListener(type, listener as unknown as EventListener);
  }

  /** Stops listening (see {@link addEventListener}). */
  removeEventListener(type: 'shipping', listener: (e: ShippingEvent) => void): void {
    this.#events.removeEventListener(type, listener as unknown as EventListener);
  }

  /** Records, by sequence. */
  get length(): number {
    return this.#next();
  }

  /**
   * The head: the last record's `seq` and `hash`, and the last checkpoint. Hand it to a party
   * outside the device (the organisation's collector, a timestamp service); `verify({ anchor })`
   * then detects a log cut short before it.
   *
   * @example
   * ```ts
   * const anchor = log.head() // later: (await log.verify({ anchor })).ok
   * ```
   */
  head(): AuditHead {
    const h = this.#chain.headRecord() as { seq: number; hash: string };
    return this.#checkpoint ? { ...h, checkpoint: { ...this.#checkpoint } } : h;
  }

  /**
   * Appends the look-up's entry with outcome pending and resolves once it is stored; only
   * then may the request be sent. The log mints the id. Rejects with {@link AuditError} if it
   * cannot be stored.
   */
  append(event: AuditEventInput): Promise<{ id: string; seq: number }> {
    if (event && (event as { id?: unknown }).id !== undefined) {
      return Promise.reject(
        new AuditError(
          'AUDIT_FAILURE',
          'event.id',
          'is minted by the log: an entry cannot name its own id',
        ),
      );
    }
    // The context travels as JSON text, one string per context object; the core parses each
    // distinct text once.
    let text: string | undefined;
    try {
      text = contextText(event?.trustContext);
    } catch {
      return Promise.reject(
        new AuditError('AUDIT_FAILURE', 'event.trustContext', 'must be a TrustContext or its JSON'),
      );
    }
    // Our own copy, of the members the core reads (one shape for every entry): the batch
    // writer sets its trustContext to an index; the context's text stays beside it.
    const e = (event ?? {}) as Partial<AuditEventInput>;
    const input: Record<string, unknown> = {
      kind: e.kind,
      trustContext: undefined,
      clientId: e.clientId,
      server: e.server,
      transactionId: e.transactionId,
      query: e.query,
      documentId: e.documentId,
      tokenJti: e.tokenJti,
      accessBasis: e.accessBasis,
      id: uuid(),
      outcome: 'pending',
    };
    return new Promise((resolve, reject) => {
      this.#queue.push({ input, context: text, resolve, reject, opens: true });
      this.#kick();
    });
  }

  /**
   * Completes a pending look-up with its outcome (and minimisation counts): `id` must be a
   * look-up this log appended and has not completed.
   */
  complete(id: string, done: AuditCompletion): Promise<{ id: string; seq: number }> {
    const base = this.#open.get(id);
    if (!base)
      return Promise.reject(
        new AuditError('AUDIT_FAILURE', 'id', 'no pending look-up with this id in this log'),
      );
    // Taken at once: a second completion of the same look-up is refused, even before the first is stored.
    this.#open.delete(id);
    const input = { ...base.input, outcome: done?.outcome, completion: done?.completion };
    return new Promise<{ id: string; seq: number }>((resolve, reject) => {
      this.#queue.push({
        input,
        context: base.context,
        resolve,
        reject: (e) => {
          this.#open.set(id, base);
          reject(e);
        },
        opens: false,
      });
      this.#kick();
    });
  }

  #kick() {
    this.#flushing ??= (async () => {
      const toError = (e: unknown) =>
        e instanceof AuditError
          ? e
          : new AuditError(
              'AUDIT_FAILURE',
              (e as { path?: string }).path ?? 'event',
              (e as { rule?: string }).rule ?? 'the entry could not be written',
            );
      const store = async (items: Pending[]) => {
        const { first, taken } = await this.#write(items);
        // Entries beyond a checkpoint that fell due go back to the front of the queue.
        if (taken < items.length) this.#queue.unshift(...items.slice(taken));
        items.slice(0, taken).forEach((b, i) => {
          const id = b.input.id as string;
          // A pending look-up stays open until its completion is asked for.
          if (b.opens) this.#open.set(id, { input: b.input, context: b.context });
          b.resolve({ id, seq: first + i });
        });
      };
      while (this.#queue.length) {
        const batch = this.#queue.splice(0, BATCH);
        try {
          await store(batch);
        } catch (e) {
          // Nothing of the batch was stored. One bad entry must not fail the others: store
          // them one by one, so each caller hears about its own entry. A lost sink fails all.
          if (batch.length === 1 || this.#lost) for (const b of batch) b.reject(toError(e));
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

  /**
   * Stores what `prepare` makes, under the sink's lock, after checking that the sink still
   * ends where this log does (taking in what other writers stored after it).
   */
  async #store(prepare: () => Batch, watched = false): Promise<number> {
    if (this.#lost) throw this.#lost;
    if (!watched) await this.#watch();
    const first = this.#next();
    const batch = prepare();
    await this.#sink.append(batch).catch((e) => {
      if (e instanceof AuditIntegrityError) this.#lost = e;
      throw e;
    });
    this.#chain.commitPrepared(batch.count);
    this.#records.push(batch);
    this.#shipper?.wake();
    return first;
  }

  /** Looks at the sink's end: another writer's records are taken in; a loss stops the log. */
  async #watch() {
    const sink = this.#sink;
    const n = this.#next();
    const head = this.#chain.headRecord() as { seq: number; hash: string } | null;
    const lost = (what: string): never => {
      this.#lost = new AuditIntegrityError(
        'sink',
        `SINK_DIVERGED: ${what}; the log refuses further entries`,
        n,
      );
      throw this.#lost;
    };
    const ends = (last: string | undefined) => {
      if (!head) return last === undefined;
      try {
        const r = JSON.parse(last ?? 'null') as { seq?: number; hash?: string } | null;
        return r?.seq === head.seq && r.hash === head.hash;
      } catch {
        return false;
      }
    };
    if (sink.readFrom) {
      const { last, fresh, count, firstKept } = await sink.readFrom(n);
      // Another tab pruned what the collector acknowledged: read the stored log again.
      if (firstKept !== undefined && firstKept - 1 > this.#pruned) return this.#resync(lost);
      if (!ends(last) || count !== n - this.#pruned + fresh.length)
        lost(`the sink holds ${count} records and does not end with this log's record ${n - 1}`);
      if (fresh.length) this.#absorb(fresh);
    } else if (sink.tail) {
      const { count, last } = await sink.tail();
      if (count !== n || !ends(last))
        lost(`the sink holds ${count} records where this log stored ${n}`);
    }
  }

  /**
   * After another tab pruned (IndexedDB): the stored log is verified again, as on open, from
   * the prune point the shipping state holds (nothing else may be missing), and this tab's
   * head must be in it or at or below that point; this tab then writes on from the stored head.
   */
  async #resync(lost: (what: string) => never) {
    const st = this.#states ? await this.#states.load() : null;
    const prunedTo = st?.pruned ?? undefined;
    if (!prunedTo || prunedTo.seq <= this.#pruned)
      return lost('records after the declaration are gone, and no prune point explains it');
    const head = this.#chain.headRecord() as { seq: number; hash: string } | null;
    const records = new Records();
    const v = new Verification({
      publicJwk: this.#key?.publicJwk,
      acceptLegacy: this.#acceptLegacy,
      prunedTo,
      anchor: st?.acked ?? undefined,
    });
    try {
      await scanVerified(this.#sink, v, records);
      const r = v.finish();
      if (!r.ok || !beginsAfter(records, prunedTo))
        lost(`the stored log does not verify from its prune point: ${r.problem ?? 'a gap'}`);
      // This tab's head, if not pruned away: the stored record at its seq (or the prune point).
      if (head && head.seq >= prunedTo.seq) {
        const stored =
          head.seq === prunedTo.seq
            ? prunedTo
            : (JSON.parse(records.slice(head.seq - prunedTo.seq, 1)[0] ?? 'null') as {
                hash?: string;
              } | null);
        if (stored?.hash !== head.hash)
          lost(`the stored log no longer holds this log's record ${head.seq}`);
      }
      let c: core.AuditCore;
      try {
        c = v.resume(await nativeSha256());
      } catch {
        return lost('the stored log could not be resumed after a prune');
      }
      this.#chain.free();
      this.#chain = c;
      this.#records = records;
      this.#adoptPrune(prunedTo, v.lastCheckpoint);
      this.#shipper?.wake();
    } finally {
      v.free();
    }
  }

  /** Writes look-up entries (as many as fit before a due checkpoint), then the checkpoint if due. */
  async #write(items: Pending[]): Promise<{ first: number; taken: number }> {
    const run = async () => {
      if (this.#lost) throw this.#lost;
      await this.#watch();
      await this.#due(true);
      const d = this.#chain.declared as { checkpointEvery: number; checkpointKey: unknown } | null;
      const room = d?.checkpointKey
        ? d.checkpointEvery - this.#chain.sinceCheckpoint
        : items.length;
      const taken = Math.min(items.length, room);
      const first = await this.#store(() => prepareBatch(this.#chain, items.slice(0, taken)), true);
      await this.#due(true);
      return { first, taken };
    };
    return this.#locked(run);
  }

  /** Writes the checkpoint the declared interval asks for now, if any (under the lock). */
  async #due(watched = false) {
    const d = this.#chain.declared as { checkpointEvery: number; checkpointKey: unknown } | null;
    if (this.#key && d?.checkpointKey && this.#chain.sinceCheckpoint >= d.checkpointEvery)
      await this.#signHead(watched);
  }

  /** `watched`: the sink was looked at just now, under the same lock. */
  async #signHead(watched = false) {
    const key = this.#key!;
    if (this.#lost) throw this.#lost;
    // Other writers' records first: the checkpoint signs the head as stored.
    if (!watched) await this.#watch();
    if (this.#chain.sinceCheckpoint === 0) return;
    const jws = (await callAsync(() =>
      core.signAuditClaims(key, this.#chain.checkpointClaims(), 'tillit-checkpoint+jwt'),
    )) as string;
    const seq = await this.#store(
      () =>
        Batch.ofLines([call(() => this.#chain.prepareRecord('checkpoint', { jws, kid: key.kid }))]),
      true,
    );
    this.#checkpoint = { seq, jws };
  }

  /**
   * Appends a checkpoint: the chain head signed with the checkpoint key (nothing when no
   * record was written since the last one). {@link AuditLog.close} writes one too.
   */
  async checkpoint(): Promise<void> {
    if (!this.#key)
      throw new AuditError('AUDIT_FAILURE', 'checkpointKey', 'is needed to sign checkpoints');
    await this.#flushing;
    const run = () => this.#signHead();
    await this.#locked(run);
  }

  /**
   * Verifies the stored log: the chain (the first broken, missing, reordered or altered
   * record), the declaration, a checkpoint wherever one is due, and, with the checkpoint
   * key (this log's, or `publicJwk`), every signature; with `anchor`, that the log still
   * holds that head. `signed` says whether signatures were checked.
   */
  async verify(opts?: VerifyOptions | Key['publicJwk']): Promise<VerifyResult> {
    const o = verifyOptions(opts);
    const prunedTo = o.prunedTo ?? this.#shipper?.anchors.pruned ?? this.#prunedTo ?? undefined;
    // Shipped: the collector's acknowledged head is the anchor unless another is given.
    const anchor = o.anchor ?? this.#shipper?.anchors.acked ?? undefined;
    const v = new Verification({
      acceptLegacy: this.#acceptLegacy,
      ...o,
      anchor,
      prunedTo,
      publicJwk: o.publicJwk ?? this.#key?.publicJwk,
    });
    try {
      await scanVerified(this.#sink, v);
      return v.finish();
    } finally {
      v.free();
    }
  }

  /** Look-ups matching `filter`: each look-up once, its completion if stored. */
  query(filter: AuditFilter = {}): Record<string, unknown>[] {
    return this.#read((r) => r.query(filter)) as Record<string, unknown>[];
  }

  /** Follow-up reports: missing decision refs, emergency access, self-granted, unusual volume, unknown outcomes. */
  report(opts: ReportOptions = {}): Record<string, unknown> {
    return this.#read((r) =>
      r.report(opts.volumeThreshold ?? limits().defaultVolumeThreshold),
    ) as Record<string, unknown>;
  }

  /** "Who looked at my record": never the practitioner's national id. */
  citizenReport(patientId: string): CitizenReportEntry[] {
    return this.#read((r) => r.citizenReport(patientId)) as CitizenReportEntry[];
  }

  /** The records as NDJSON (with the chain), or the AuditEvents as a FHIR Bundle. */
  export(format: 'ndjson'): string;
  export(format: 'bundle'): {
    resourceType: 'Bundle';
    type: 'collection';
    entry: Array<{ resource: Record<string, unknown> }>;
  };
  export(format: 'ndjson' | 'bundle'): unknown {
    return format === 'ndjson'
      ? decoder.decode(this.#records.bytes())
      : this.#read((r) => r.exportBundle());
  }

  /** Lines another writer (another tab) stored after ours: they must link to our head. */
  #absorb(fresh: string[]) {
    try {
      this.#chain.absorb(fresh);
    } catch (e) {
      const err = fromCore(e) as { rule?: string; path?: string };
      this.#lost = new AuditIntegrityError(
        err.path ?? 'log',
        `another writer's records do not verify: ${err.rule ?? 'unreadable'}`,
      );
      throw this.#lost;
    }
    this.#records.push(Batch.ofLines(fresh));
    this.#shipper?.wake();
    // The head's checkpoint may be another writer's.
    for (let i = fresh.length - 1; i >= 0; i--) {
      if (!fresh[i]!.includes('"kind":"checkpoint"')) continue;
      const r = JSON.parse(fresh[i]!) as { seq: number; kind: string; body: { jws?: string } };
      if (r.kind === 'checkpoint' && typeof r.body.jws === 'string') {
        this.#checkpoint = { seq: r.seq, jws: r.body.jws };
        break;
      }
    }
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

  /**
   * Waits for pending writes, writes the closing checkpoint (a keyed log), then releases the
   * sink.
   */
  async close(): Promise<void> {
    await this.#flushing;
    await this.#shipper?.close();
    if (this.#key && !this.#lost) {
      const run = () => this.#signHead();
      await this.#locked(run);
    }
    await this.#sink.close?.();
  }
}

function verifyOptions(opts: VerifyOptions | Key['publicJwk'] | undefined): VerifyOptions {
  if (opts === undefined || opts === null) return {};
  if (typeof opts !== 'object')
    throw new AuditError(
      'AUDIT_FAILURE',
      'options',
      'must be a public JWK or { publicJwk?, anchor?, acceptLegacy? }',
    );
  return 'kty' in opts ? { publicJwk: opts as Key['publicJwk'] } : (opts as VerifyOptions);
}

/** A signature the core's verifier hands back for checking. */
interface ToSign {
  index: number;
  typ: string;
  jws: string;
}

/**
 * A log verified as it is read (the core's `AuditVerifier`: the head, the declaration and
 * counters, never the records): lines or NDJSON bytes go in a part at a time, and the
 * signatures found are checked with the key before the next part.
 */
class Verification {
  readonly #v: core.AuditVerifier;
  readonly #publicJwk: Key['publicJwk'] | undefined;
  #checked = 0;
  /** A signature that did not verify: the first failure, before any the core found later. */
  #bad?: { index: number; problem: string };
  /** The last checkpoint read (a keyed log read with its key). */
  lastCheckpoint?: { seq: number; jws: string };

  constructor(o: VerifyOptions) {
    this.#publicJwk = o.publicJwk;
    this.#v = call(
      () =>
        new core.AuditVerifier({
          publicJwk: o.publicJwk ?? null,
          anchor: o.anchor ?? null,
          prunedTo: o.prunedTo ?? null,
          acceptLegacy: o.acceptLegacy ?? false,
        }),
    );
  }
  /** Whether the log already broke a rule (reading on is pointless). */
  get failed(): boolean {
    return !!this.#bad || this.#v.failed;
  }
  /** Whole lines. */
  async lines(lines: string[]): Promise<void> {
    for (let at = 0; at < lines.length && !this.failed; at += VERIFY_CHUNK)
      await this.#check(call(() => this.#v.push(lines.slice(at, at + VERIFY_CHUNK))) as ToSign[]);
  }
  /** NDJSON bytes as stored: the records whose lines end in them, as a batch (undefined: none). */
  async bytes(chunk: Uint8Array): Promise<Batch | undefined> {
    const r = this.#v.pushNdjson(chunk) as { sigs: ToSign[]; count: number; bytes: Uint8Array };
    await this.#check(r.sigs);
    return r.count ? Batch.ofBytes(r.bytes, r.count) : undefined;
  }
  async #check(sigs: ToSign[]) {
    for (const sig of sigs) {
      const ok = (await callAsync(() => core.auditCheckSigned(this.#publicJwk, sig))) as boolean;
      if (!ok) {
        const what =
          sig.typ === 'tillit-declaration+jwt'
            ? 'UNSIGNED: the declaration'
            : 'CHECKPOINT_INVALID: the checkpoint';
        this.#bad = {
          index: sig.index,
          problem: `${what}'s signature does not verify with the key, or does not sign this log's head`,
        };
        return;
      }
      this.#checked++;
      if (sig.typ === 'tillit-checkpoint+jwt')
        this.lastCheckpoint = { seq: sig.index, jws: sig.jws };
    }
  }
  /** Where a torn last line begins in the bytes read (a crash mid-write), or null. */
  get tornAt(): number | null {
    return this.#v.tornAt ?? null;
  }
  /** The most NDJSON bytes the core held at once. */
  get peakBuffered(): number {
    return this.#v.peakBuffered;
  }
  /** The result; `entries` the lines given (else the records read). */
  finish(entries?: number): VerifyResult {
    const r = call(() => this.#v.finish()) as Omit<
      VerifyResult,
      'signed' | 'checkpointsVerified'
    > & { firstBadIndex: number | null; problem: string | null };
    const n = entries ?? r.entries;
    const checked = this.#checked;
    if (this.#bad)
      return {
        ok: false,
        entries: n,
        firstBadIndex: this.#bad.index,
        problem: this.#bad.problem,
        signed: false,
        checkpointsVerified: checked,
      };
    if (!r.ok)
      return {
        ok: false,
        entries: n,
        firstBadIndex: r.firstBadIndex ?? undefined,
        problem: r.problem ?? undefined,
        signed: false,
        checkpointsVerified: checked,
      };
    const signed = !!this.#publicJwk && (r.format === 0 ? checked > 0 : !!r.checkpointKey);
    return {
      ...r,
      entries: n,
      firstBadIndex: undefined,
      problem: undefined,
      signed,
      checkpointsVerified: checked,
    };
  }
  /** The writer's chain state where the log that verified ends. */
  resume(digest: ((bytes: Uint8Array) => string) | undefined): core.AuditCore {
    return new core.AuditCore(this.#v, digest);
  }
  free() {
    this.#v.free();
  }
}

/** Whether the records held go on, after the declaration, at the record after `to`. */
function beginsAfter(records: Records, to: { seq: number }): boolean {
  const second = records.slice(1, 1)[0];
  return second !== undefined && (JSON.parse(second) as { seq: number }).seq === to.seq + 1;
}

/**
 * Reads a sink's stored log through `v`, a bounded part at a time, stopping at the first
 * failure; `keep` collects the records as stored.
 */
async function scanVerified(
  sink: Sink,
  v: Verification,
  keep?: Records,
): Promise<Omit<OpenedLog, 'records'>> {
  let reads = 0;
  let lineChars = 0;
  const bytes = await sink.scan(async (part) => {
    reads++;
    if ('bytes' in part) {
      const b = await v.bytes(part.bytes);
      if (b) keep?.push(b);
    } else {
      lineChars = Math.max(
        lineChars,
        part.lines.reduce((n, l) => n + l.length, 0),
      );
      await v.lines(part.lines);
      keep?.push(Batch.ofLines(part.lines));
    }
    return !v.failed;
  });
  return { bytes, reads, peakBufferedBytes: Math.max(v.peakBuffered, lineChars) };
}

/**
 * Verifies stored lines (for tooling and the collector's checks): the chain, the
 * declaration, where checkpoints stand, and with `publicJwk` every signature; with `anchor`,
 * that the log holds that head. A public JWK alone may be given instead of options.
 *
 * @example
 * ```ts
 * const r = await verifyLines(lines, { publicJwk, anchor })
 * if (!r.ok || !r.signed) alert(`${r.problem} at ${r.firstBadIndex}`)
 * ```
 */
export async function verifyLines(
  lines: string[],
  opts?: VerifyOptions | Key['publicJwk'],
): Promise<VerifyResult> {
  const v = new Verification(verifyOptions(opts));
  try {
    await v.lines(lines);
    return v.finish(lines.length);
  } finally {
    v.free();
  }
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
  return Batch.ofBytes(
    call(() => chain.prepareEvents(JSON.stringify(events), contexts)) as Uint8Array,
    batch.length,
  );
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
    if (
      typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions
        ?.node !== 'string'
    )
      return undefined;
    try {
      const c = platform.crypto as {
        hash?: (alg: string, data: Uint8Array, enc: 'hex') => string;
        createHash(alg: string): { update(b: Uint8Array): { digest(enc: 'hex'): string } };
      };
      // crypto.hash (Node >= 20.12) is the one-shot form: no Hash object per record.
      const hash = c.hash;
      return hash
        ? (bytes: Uint8Array) => hash('sha256', bytes, 'hex')
        : (bytes: Uint8Array) => c.createHash('sha256').update(bytes).digest('hex');
    } catch {
      return undefined;
    }
  })();
  return sha256;
}
