/**
 * Shipping the access log to the organisation's collector (`tillit-collector`): every
 * record, in chain order, at least once. The rules (what to send next, the backoff, whether
 * the collector's head agrees with the local chain, how far to prune) are the core's
 * (`audit::ship`); this module does the HTTP, the timers and the storage of the state.
 *
 * @example
 * ```ts
 * const log = await AuditLog.open({
 *   sink: 'indexeddb', name: 'ehr', checkpointKey,
 *   ship: { url: 'https://audit.example.org', token: () => getCollectorToken(), dpopKey },
 * })
 * log.addEventListener('shipping', (e) => showBacklog(e.detail.queued, e.detail.oldestUnshippedAgeMs))
 * ```
 * @module
 */
import * as core from '#core';
import {
  ArgumentError,
  AuditError,
  call,
  fromCore,
  HttpError,
  NetworkError,
  ShippingError,
  TillitError,
  TimeoutError,
} from './errors.js';
import type { Key } from './keys.js';
import { createDpopProof } from './jwt.js';
import { platform } from './platform.js';

/** The `ship` option of `AuditLog.open`: where and how the log is shipped. */
export interface ShipOptions {
  /** The collector's base URL (`https://audit.example.org`): records go to `POST {url}/logs/{logId}/records`. */
  url: string;
  /**
   * A DPoP-bound access token for the collector with the `tillit:collector/audit.write`
   * scope (HelseID: `client.accessToken({ resource: 'tillit:collector', scope })`), asked for
   * before every request: cache it yourself. A rejection counts as a failed attempt (backoff).
   */
  token: () => Promise<string> | string;
  /** The key the token is bound to (`cnf.jkt`): each request carries a DPoP proof made with it. */
  dpopKey: Key;
  /**
   * The collector's id for this device log (1 to 128 of `A-Z a-z 0-9 . _ : -`). Default: minted
   * once (`{name}-{uuid}`) and kept with the log, so two devices never share an id.
   */
  logId?: string;
  /** Records per request, 1 to 10,000. Default 500. */
  batch?: number;
  /** Milliseconds between shipping rounds (new records wait at most this long). Default 1000. */
  intervalMs?: number;
  /** The longest wait between attempts while the collector fails. Default 60,000. */
  maxBackoffMs?: number;
  /** A request that takes longer fails (and is retried). Default 30,000. */
  timeoutMs?: number;
  /**
   * Records the collector acknowledged may be pruned locally once older than this (ms; 0:
   * as soon as acknowledged). In a log with checkpoints only up to a checkpoint; never the
   * last record. The log then begins, after its declaration, at the record after the prune
   * point (kept in the shipping state), and verifies from that anchor. Memory, file and
   * IndexedDB sinks (the tabs of one IndexedDB log follow the shipping tab's prune); custom
   * sinks keep every record. Default: never pruned.
   */
  retainMs?: number;
  /** `fetch` to use (tests, proxies). Default `globalThis.fetch`. */
  fetch?: typeof fetch;
}

/** The state of shipping: `log.shipping`, and the `detail` of each `shipping` event. */
export interface ShippingStatus {
  /**
   * `starting` (registering with the collector), `idle` (everything acknowledged), `sending`,
   * `retrying` (the last attempt failed: waiting `retryInMs`), `standby` (another tab of
   * this log ships), `stopped` (a fork or a refusal: see `error`), `closed`.
   */
  state: 'starting' | 'idle' | 'sending' | 'retrying' | 'standby' | 'stopped' | 'closed';
  /** The collector's id of this log. */
  logId: string | null;
  /** Records written locally and not yet acknowledged by the collector. */
  queued: number;
  /** When the oldest unacknowledged record was written (RFC 3339), or null. */
  oldestUnshipped: string | null;
  /** Its age in ms when this status was made, or null: alarm on it. */
  oldestUnshippedAgeMs: number | null;
  /** The collector's head, kept as the anchor `verify({ anchor })` checks. */
  acknowledged: { seq: number; hash: string } | null;
  /** The last record pruned locally, if any (`verify` starts after it). */
  prunedTo: { seq: number; hash: string } | null;
  /** Failed attempts since the last success. */
  attempts: number;
  /** When `retrying`: the wait before the next attempt. */
  retryInMs?: number;
  /** The last failure (while retrying) or why shipping stopped. */
  error?: TillitError;
  /** When the collector last acknowledged (RFC 3339). */
  lastAcknowledged: string | null;
}

/** The stored shipping state (the core's `audit::ship::Stored`). */
export interface ShipState {
  logId: string | null;
  acked: { seq: number; hash: string } | null;
  pruned: { seq: number; hash: string } | null;
  stopped: { code: string; seq: number | null; detail: string } | null;
}

/** Where the shipping state is kept beside the log (the sink's kind decides). */
export interface ShipStateStore {
  load(): Promise<ShipState | null>;
  save(s: ShipState): Promise<void>;
}

/** What the log gives the shipper: its records and how to prune them. */
export interface ShipSource {
  /** The log's name (for the minted log id and the tab lock). */
  name: string;
  /** The next seq of the log as stored (all writers). */
  next(): Promise<number>;
  /** Up to `count` stored lines from `from`, in order. */
  lines(from: number, count: number): Promise<string[]>;
  /** Whether the log declares a checkpoint key (then it is registered with the collector). */
  checkpointJwk: Key['publicJwk'] | null;
  /** Deletes the records after the declaration up to `to.seq` (when the sink can). */
  prune?(to: { seq: number; hash: string }): Promise<void>;
  /**
   * Runs `f` while holding the one-shipper lock of this log (several tabs), if any: the lock
   * is held until `f` settles; `signal` gives up a request still waiting.
   */
  lock?(f: () => Promise<void>, signal: AbortSignal): void;
}

const now = () => Date.now();
const iso = (ms: number) => new Date(ms).toISOString();

/** Ships one log; made by `AuditLog.open` when the `ship` option is given. */
export class Shipper {
  #o: ShipOptions;
  #src: ShipSource;
  #store: ShipStateStore;
  #core?: core.AuditShipper;
  #state: ShippingStatus;
  #timer?: ReturnType<typeof setTimeout>;
  #round?: Promise<void>;
  #closed = false;
  #active = false;
  #abort = new AbortController();
  #closedP: Promise<void>;
  #onClosed!: () => void;
  #waiters: Array<{ upTo: number; resolve: () => void; reject: (e: unknown) => void }> = [];
  #emit: (s: ShippingStatus) => void;
  #lastSig = '';
  #pruneLook = { acked: -1, at: 0 };
  #wakePublish?: ReturnType<typeof setTimeout>;
  #standbyTimer?: ReturnType<typeof setTimeout>;
  #fetch: typeof fetch;

  private constructor(
    o: ShipOptions,
    src: ShipSource,
    store: ShipStateStore,
    emit: (s: ShippingStatus) => void,
  ) {
    this.#o = o;
    this.#src = src;
    this.#store = store;
    this.#emit = emit;
    this.#fetch = o.fetch ?? globalThis.fetch.bind(globalThis);
    this.#closedP = new Promise<void>((r) => (this.#onClosed = r));
    this.#state = {
      state: 'standby',
      logId: null,
      queued: 0,
      oldestUnshipped: null,
      oldestUnshippedAgeMs: null,
      acknowledged: null,
      prunedTo: null,
      attempts: 0,
      lastAcknowledged: null,
    };
  }

  /** Checks the options, reads the stored state and starts shipping (or waits for the lock). */
  static async start(
    o: ShipOptions,
    src: ShipSource,
    store: ShipStateStore,
    emit: (s: ShippingStatus) => void,
  ): Promise<Shipper> {
    if (!o || typeof o !== 'object')
      throw new ArgumentError('INVALID_ARGUMENT', 'ship', 'must be { url, token, dpopKey, … }');
    let base: URL;
    try {
      base = new URL(o.url);
    } catch {
      throw new ArgumentError('INVALID_ARGUMENT', 'ship.url', 'must be an absolute http(s) URL');
    }
    if (base.protocol !== 'https:' && base.protocol !== 'http:')
      throw new ArgumentError('INVALID_ARGUMENT', 'ship.url', 'must be an absolute http(s) URL');
    if (typeof o.token !== 'function')
      throw new ArgumentError(
        'INVALID_ARGUMENT',
        'ship.token',
        'must be a function returning the access token',
      );
    if (!o.dpopKey?.privateKey || !o.dpopKey.publicJwk)
      throw new ArgumentError(
        'INVALID_ARGUMENT',
        'ship.dpopKey',
        'must be a key from generateKey or importPrivateKey',
      );
    if (o.logId !== undefined && !core.AuditShipper.validLogId(String(o.logId)))
      throw new ArgumentError(
        'INVALID_ARGUMENT',
        'ship.logId',
        'must be 1 to 128 of A-Z a-z 0-9 . _ : -',
      );
    // The options are checked by the core now, so a bad option fails open(), not a later round.
    call(() => new core.AuditShipper(plainOptions(o), null)).free();
    const s = new Shipper(o, src, store, emit);
    if (src.lock) {
      // One shipper per log among the tabs: this one waits for the lock, then ships until
      // it closes (a closed or crashed tab releases it to the next).
      src.lock(async () => {
        try {
          await s.#activate();
        } catch (e) {
          await s.#publish('stopped', fromCore(e) as TillitError).catch(() => {});
          return;
        }
        await s.#closedP;
      }, s.#abort.signal);
      await s.#refreshStandby();
    } else {
      await s.#activate();
    }
    return s;
  }

  /** Becomes the log's shipper: reads the state as stored now (another tab may have moved it). */
  async #activate(): Promise<void> {
    if (this.#closed) return;
    const stored = await this.#store.load();
    this.#core?.free();
    this.#core = call(() => new core.AuditShipper(plainOptions(this.#o), stored));
    let st = this.#core.state as ShipState;
    if (!st.logId) {
      call(() => this.#core!.setLogId(this.#o.logId ?? mintLogId(this.#src.name)));
      st = this.#core.state as ShipState;
      await this.#store.save(st);
    } else if (this.#o.logId !== undefined && this.#o.logId !== st.logId) {
      throw new ArgumentError(
        'INVALID_ARGUMENT',
        'ship.logId',
        'this log is shipped under another log id already',
      );
    }
    this.#active = true;
    clearTimeout(this.#standbyTimer);
    await this.#publish(
      this.#core.next(await this.#src.next()).do === 'stopped' ? 'stopped' : 'starting',
    );
    this.#schedule(0);
  }

  /** The status now. */
  get status(): ShippingStatus {
    const s = { ...this.#state };
    if (s.oldestUnshipped)
      s.oldestUnshippedAgeMs = Math.max(0, now() - Date.parse(s.oldestUnshipped));
    return s;
  }

  /** The anchor the collector acknowledged and the prune point (for `verify`). */
  get anchors(): {
    acked: { seq: number; hash: string } | null;
    pruned: { seq: number; hash: string } | null;
  } {
    return { acked: this.#state.acknowledged, pruned: this.#state.prunedTo };
  }

  /** New records were written: ship them within `intervalMs`. */
  wake(): void {
    if (this.#closed) return;
    if (!this.#active) {
      void this.#refreshStandby();
      return;
    }
    if (this.#state.state === 'idle' && !this.#timer && !this.#round)
      this.#schedule(this.#policy().intervalMs);
    // The queue shown follows the writes (at most every 100 ms: writing stays cheap), also
    // while waiting to retry.
    this.#wakePublish ??= setTimeout(
      () => {
        this.#wakePublish = undefined;
        if (!this.#round && !this.#closed && this.#core)
          void this.#publish(this.#state.state, this.#state.error, this.#state.retryInMs).catch(
            () => {},
          );
      },
      Math.min(100, this.#policy().intervalMs),
    );
    (this.#wakePublish as { unref?: () => void }).unref?.();
  }

  /**
   * Resolves once every record written so far is acknowledged; rejects when shipping
   * stops, or after `timeoutMs` (default: none).
   */
  flush(opts: { timeoutMs?: number } = {}): Promise<void> {
    return (async () => {
      const upTo = await this.#src.next();
      if (this.#ackedNext() >= upTo) return;
      if (this.#state.state === 'stopped') throw this.#state.error;
      const p = new Promise<void>((resolve, reject) =>
        this.#waiters.push({ upTo, resolve, reject }),
      );
      if (this.#active && this.#state.state !== 'retrying') this.#schedule(0);
      if (opts.timeoutMs === undefined) return p;
      let t: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        t = setTimeout(
          () =>
            reject(
              new TimeoutError(
                'TIMEOUT',
                'ship',
                `the collector did not acknowledge the log within ${opts.timeoutMs} ms`,
              ),
            ),
          opts.timeoutMs,
        );
      });
      try {
        return await Promise.race([p, timeout]);
      } finally {
        clearTimeout(t);
      }
    })();
  }

  /** Stops shipping (what is unacknowledged stays queued in the sink for the next start). */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    clearTimeout(this.#standbyTimer);
    this.#timer = undefined;
    this.#abort.abort();
    await this.#round?.catch(() => {});
    this.#onClosed();
    this.#core?.free();
    this.#core = undefined;
    this.#state.state = 'closed';
    for (const w of this.#waiters.splice(0))
      w.reject(
        new AuditError(
          'AUDIT_FAILURE',
          'ship',
          'the log was closed before the collector acknowledged it',
        ),
      );
    this.#emit(this.status);
  }

  #policy(): { intervalMs: number; timeoutMs: number; retainMs: number | null; batch: number } {
    return this.#core!.policy as {
      intervalMs: number;
      timeoutMs: number;
      retainMs: number | null;
      batch: number;
    };
  }

  #ackedNext(): number {
    const a = this.#state.acknowledged;
    return a ? a.seq + 1 : 0;
  }

  #schedule(ms: number) {
    if (this.#closed) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#round ??= this.#run().finally(() => {
        this.#round = undefined;
      });
    }, ms);
    // A Node service's shipper never keeps the process alive by itself.
    (this.#timer as { unref?: () => void }).unref?.();
  }

  /** Rounds until idle, a failure (then a timer) or a stop. */
  async #run(): Promise<void> {
    const c = this.#core;
    if (!c || this.#closed) return;
    try {
      for (;;) {
        if (this.#closed) return;
        const localNext = await this.#src.next();
        const step = c.next(localNext) as {
          do: 'register' | 'send' | 'idle' | 'stopped';
          from?: number;
          count?: number;
        };
        if (step.do === 'stopped') return;
        if (step.do === 'idle') {
          await this.#prune(localNext);
          await this.#publish('idle');
          this.#schedule(this.#policy().intervalMs);
          return;
        }
        await this.#publish(step.do === 'register' ? 'starting' : 'sending');
        const answer =
          step.do === 'register'
            ? await this.#register()
            : await this.#send(step.from!, step.count!);
        if ('failed' in answer) {
          const wait = c.failed(Math.random());
          await this.#publish('retrying', answer.failed, wait);
          this.#schedule(wait);
          return;
        }
        if ('refused' in answer) {
          const r = answer.refused;
          call(() =>
            c.refused(
              r.error,
              typeof r.seq === 'number' ? r.seq : undefined,
              typeof r.detail === 'string' ? r.detail : '',
            ),
          );
          continue;
        }
        const head = answer.head;
        const localHash = head ? await this.#hashAt(head.seq, answer.sent) : undefined;
        // Records written meanwhile count as local too (the head is checked against them).
        const nowNext = await this.#src.next();
        call(() => c.acknowledge(head, nowNext, localHash));
        const st = c.state as ShipState;
        await this.#store.save(st);
        this.#state.acknowledged = st.acked;
        this.#state.lastAcknowledged = iso(now());
        this.#settle();
      }
    } catch (e) {
      const err = fromCore(e);
      if (err instanceof ShippingError) {
        await this.#store.save(c.state as ShipState).catch(() => {});
        await this.#publish('stopped', err);
        for (const w of this.#waiters.splice(0)) w.reject(err);
        return;
      }
      // Storage failed (the state could not be kept): try again later, nothing is lost.
      const wait = c.failed(Math.random());
      await this.#publish(
        'retrying',
        err instanceof TillitError
          ? err
          : new AuditError('AUDIT_FAILURE', 'ship', 'the shipping state could not be stored'),
        wait,
      ).catch(() => {});
      this.#schedule(wait);
    }
  }

  /** Resolves the flushes the acknowledged head now covers. */
  #settle() {
    const n = this.#ackedNext();
    this.#waiters = this.#waiters.filter((w) => {
      if (w.upTo > n) return true;
      w.resolve();
      return false;
    });
  }

  async #hashAt(seq: number, sent: string[] | undefined): Promise<string | undefined> {
    const from = sent?.length ? (JSON.parse(sent[0]!) as { seq: number }).seq : -1;
    const line =
      sent && seq >= from && seq < from + sent.length
        ? sent[seq - from]
        : (await this.#src.lines(seq, 1))[0];
    if (!line) return undefined;
    const r = JSON.parse(line) as { seq?: number; hash?: string };
    return r.seq === seq ? r.hash : undefined;
  }

  /** The collector's answer: its head, a refusal, or a failure to retry. */
  async #request(
    method: 'PUT' | 'POST',
    path: string,
    body: Uint8Array | string,
    type: string,
  ): Promise<
    | { head: { seq: number; hash: string } | null; sent?: string[] }
    | { refused: { error: string; seq?: number; detail?: string } }
    | { failed: TillitError }
  > {
    const url = `${this.#o.url.replace(/\/+$/, '')}${path}`;
    const ctl = new AbortController();
    const onAbort = () => ctl.abort();
    this.#abort.signal.addEventListener('abort', onAbort);
    const t = setTimeout(() => ctl.abort(), this.#policy().timeoutMs);
    try {
      let token: string;
      try {
        token = await this.#o.token();
        if (typeof token !== 'string' || !token) throw new Error();
      } catch {
        return {
          failed: new AuditError(
            'AUDIT_FAILURE',
            'ship.token',
            'no access token for the collector',
          ),
        };
      }
      const proof = await createDpopProof({
        key: this.#o.dpopKey,
        method,
        url,
        accessToken: token,
      });
      let res: Response;
      try {
        res = await this.#fetch(url, {
          method,
          headers: { authorization: `DPoP ${token}`, dpop: proof, 'content-type': type },
          body: body as BodyInit,
          signal: ctl.signal,
        });
      } catch {
        return {
          failed: ctl.signal.aborted
            ? new TimeoutError('TIMEOUT', 'ship.url', 'the collector did not answer in time')
            : new NetworkError('NETWORK_ERROR', 'ship.url', 'the collector could not be reached'),
        };
      }
      const text = await res.text().catch(() => '');
      let json: Record<string, unknown> | null = null;
      try {
        json = JSON.parse(text) as Record<string, unknown>;
      } catch {
        json = null;
      }
      if (res.ok && json) {
        const h =
          method === 'PUT'
            ? (json.head as { seq: number; hash: string } | null)
            : (json as { seq: number; hash: string });
        return { head: h ?? null };
      }
      // A refusal the protocol defines: a stable code (collector/src/http.rs). 401 (the
      // token), 429 and 5xx are failures to retry.
      const code = json && typeof json.error === 'string' ? json.error : undefined;
      if (
        code &&
        [400, 403, 409, 413, 422].includes(res.status) &&
        !['invalid_token', 'invalid_dpop_proof', 'use_dpop_nonce'].includes(code)
      ) {
        return {
          refused: {
            error: code,
            seq: json!.seq as number | undefined,
            detail: String(json!.detail ?? json!.error_description ?? ''),
          },
        };
      }
      return { failed: new HttpError(res.status, 'ship.url') };
    } finally {
      clearTimeout(t);
      this.#abort.signal.removeEventListener('abort', onAbort);
    }
  }

  async #register() {
    const st = this.#core!.state as ShipState;
    const body = this.#src.checkpointJwk ? { checkpointKey: this.#src.checkpointJwk } : {};
    return this.#request(
      'PUT',
      `/logs/${encodeURIComponent(st.logId!)}`,
      JSON.stringify(body),
      'application/json',
    );
  }

  async #send(from: number, count: number) {
    const st = this.#core!.state as ShipState;
    const lines = await this.#src.lines(from, count);
    if (!lines.length)
      return {
        failed: new AuditError('AUDIT_FAILURE', 'ship', 'the records to ship could not be read'),
      };
    const r = await this.#request(
      'POST',
      `/logs/${encodeURIComponent(st.logId!)}/records`,
      lines.map((l) => `${l}\n`).join(''),
      'application/x-ndjson',
    );
    return 'head' in r ? { ...r, sent: lines } : r;
  }

  /** Prunes what the core says may go (acknowledged, past the retention, on a checkpoint). */
  async #prune(localNext: number) {
    const c = this.#core!;
    const p = this.#policy();
    if (p.retainMs === null || !this.#src.prune) return;
    const st = c.state as ShipState;
    const from = (st.pruned?.seq ?? 0) + 1;
    const acked = st.acked?.seq ?? -1;
    if (acked < from) return;
    // Looked at again when the collector acknowledged more, or a minute later (records age
    // into the retention): not on every idle round.
    const t = now();
    if (this.#pruneLook.acked === acked && t - this.#pruneLook.at < 60_000) return;
    this.#pruneLook = { acked, at: t };
    const lines = await this.#src.lines(from, Math.min(acked - from + 1, 10_000));
    const to = call(() => c.prunePoint(lines, !!this.#src.checkpointJwk, localNext, now())) as {
      seq: number;
      hash: string;
    } | null;
    if (!to) return;
    // The prune point is stored first: a crash before the records go leaves a log that
    // still holds them, which verifies as well.
    call(() => c.notePruned(to));
    await this.#store.save(c.state as ShipState);
    await this.#src.prune(to);
  }

  /**
   * A tab that does not ship reads the state the shipping tab stores (every `intervalMs`),
   * so its status and its `flush()` follow the collector too.
   */
  async #refreshStandby() {
    if (this.#active || this.#closed) return;
    try {
      const st = await this.#store.load();
      this.#state.logId = st?.logId ?? null;
      this.#state.acknowledged = st?.acked ?? null;
      this.#state.prunedTo = st?.pruned ?? null;
      if (!this.#active) {
        await this.#publish('standby');
        this.#settle();
      }
    } catch {
      /* the status stays as it was */
    }
    clearTimeout(this.#standbyTimer);
    if (this.#active || this.#closed) return;
    this.#standbyTimer = setTimeout(
      () => void this.#refreshStandby(),
      plainOptions(this.#o).intervalMs ?? 1000,
    );
    (this.#standbyTimer as { unref?: () => void }).unref?.();
  }

  async #publish(state: ShippingStatus['state'], error?: TillitError, retryInMs?: number) {
    const c = this.#core;
    const st = (c?.state as ShipState | undefined) ?? null;
    if (st) {
      this.#state.logId = st.logId;
      this.#state.acknowledged = st.acked;
      this.#state.prunedTo = st.pruned;
    }
    const localNext = await this.#src.next();
    const ackedNext = this.#ackedNext();
    this.#state.queued = Math.max(0, localNext - ackedNext);
    this.#state.oldestUnshipped = null;
    if (this.#state.queued > 0) {
      for (const l of await this.#src.lines(ackedNext, 8)) {
        const t = core.AuditShipper.recordTimeMs(l);
        if (t !== undefined && t !== null) {
          this.#state.oldestUnshipped = iso(t);
          break;
        }
      }
    }
    this.#state.attempts = c?.attempts ?? 0;
    this.#state.state = state;
    if (state === 'stopped')
      this.#state.error = error ?? (c ? (fromCore(c.stopError()) as TillitError) : undefined);
    else this.#state.error = error;
    this.#state.retryInMs = retryInMs;
    // An event when something a UI or an alarm shows changed (not on every idle round).
    const st2 = this.#state;
    const sig = JSON.stringify([
      st2.state,
      st2.queued,
      st2.acknowledged,
      st2.prunedTo,
      st2.attempts,
      st2.error?.message,
      st2.oldestUnshipped,
    ]);
    if (sig === this.#lastSig) return;
    this.#lastSig = sig;
    this.#emit(this.status);
  }
}

/** The numeric options the core checks. */
function plainOptions(o: ShipOptions) {
  return {
    batch: o.batch,
    intervalMs: o.intervalMs,
    maxBackoffMs: o.maxBackoffMs,
    retainMs: o.retainMs,
    timeoutMs: o.timeoutMs,
  };
}

function mintLogId(name: string): string {
  const safe = name.replace(/[^A-Za-z0-9._:-]/g, '_').slice(0, 64) || 'log';
  return `${safe}-${core.uuids(1)}`;
}

// ---- where the state is kept --------------------------------------------------------------

/** Memory (and custom sinks without their own): the state lives as long as the log object. */
export function memoryStateStore(): ShipStateStore {
  let s: ShipState | null = null;
  return { load: async () => s, save: async (v) => void (s = structuredClone(v)) };
}

/** IndexedDB: a database of its own beside the log's (`tillit-audit-ship-{name}`). */
export function indexedDbStateStore(name: string): ShipStateStore {
  let db: Promise<IDBDatabase> | undefined;
  const open = () =>
    (db ??= new Promise<IDBDatabase>((resolve, reject) => {
      const f = (globalThis as { indexedDB?: IDBFactory }).indexedDB!;
      const req = f.open(`tillit-audit-ship-${name}`, 1);
      req.onupgradeneeded = () => req.result.createObjectStore('state');
      req.onsuccess = () => resolve(req.result);
      req.onerror = () =>
        reject(new AuditError('AUDIT_FAILURE', 'ship.state', 'IndexedDB could not be opened'));
    }));
  const tx = async <T>(
    mode: IDBTransactionMode,
    f: (s: IDBObjectStore) => IDBRequest<T> | void,
  ): Promise<T | undefined> => {
    const d = await open();
    return new Promise((resolve, reject) => {
      const t = d.transaction('state', mode, { durability: 'strict' });
      const req = f(t.objectStore('state'));
      t.oncomplete = () => resolve(req ? req.result : undefined);
      t.onerror = t.onabort = () =>
        reject(
          new AuditError('AUDIT_FAILURE', 'ship.state', 'IndexedDB refused the shipping state'),
        );
    });
  };
  return {
    load: async () =>
      ((await tx('readonly', (s) => s.get('state'))) as ShipState | undefined) ?? null,
    save: async (v) => void (await tx('readwrite', (s) => s.put(v, 'state'))),
  };
}

interface ShipFs {
  readFile(path: string, enc: 'utf8'): Promise<string>;
  writeFile(path: string, data: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  open(path: string, flags: string): Promise<{ datasync(): Promise<void>; close(): Promise<void> }>;
}

/**
 * Node file sink: `{file}.ship.json`, replaced atomically (written to a temporary file,
 * synced, renamed over the old one), so a crash leaves the old state or the new, never half.
 */
export function fileStateStore(file: string): ShipStateStore {
  const fs = platform.fs as ShipFs;
  const path = `${file}.ship.json`;
  return {
    load: async () => {
      try {
        return JSON.parse(await fs.readFile(path, 'utf8')) as ShipState;
      } catch (e) {
        if ((e as { code?: string }).code === 'ENOENT') return null;
        throw new AuditError('AUDIT_FAILURE', 'ship.state', `${path} could not be read`);
      }
    },
    save: async (v) => {
      const tmp = `${path}.tmp`;
      await fs.writeFile(tmp, JSON.stringify(v));
      const fh = await fs.open(tmp, 'r+');
      try {
        await fh.datasync();
      } finally {
        await fh.close();
      }
      await fs.rename(tmp, path);
    },
  };
}
