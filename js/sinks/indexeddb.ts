/**
 * The IndexedDB sink (`sink: 'indexeddb'`, browsers): several tabs share one chain.
 * @module
 */
import { AuditError } from '../errors.js';
import type { Batch, Part, Sink } from './sink.js';

/** IndexedDB: one record per line keyed by `seq`; Web Locks serialise tabs. */
export class IndexedDbSink implements Sink {
  #db: IDBDatabase;
  #name: string;
  private constructor(db: IDBDatabase, name: string) {
    this.#db = db;
    this.#name = name;
  }
  static async open(name: string): Promise<IndexedDbSink> {
    const f = (globalThis as { indexedDB?: IDBFactory }).indexedDB;
    if (!f)
      throw new AuditError(
        'AUDIT_FAILURE',
        'sink',
        'IndexedDB is not available here: use a file sink (Node) or your own sink',
      );
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const req = f.open(`tillit-audit-${name}`, 1);
      req.onupgradeneeded = () => req.result.createObjectStore('records');
      req.onsuccess = () => resolve(req.result);
      req.onerror = () =>
        reject(new AuditError('AUDIT_FAILURE', 'sink', 'IndexedDB could not be opened'));
    });
    return new IndexedDbSink(db, name);
  }
  #tx<T>(
    mode: IDBTransactionMode,
    f: (s: IDBObjectStore) => IDBRequest<T> | void,
  ): Promise<T | undefined> {
    return new Promise((resolve, reject) => {
      const tx = this.#db.transaction('records', mode, { durability: 'strict' });
      const req = f(tx.objectStore('records'));
      tx.oncomplete = () => resolve(req ? req.result : undefined);
      tx.onerror = tx.onabort = () =>
        reject(new AuditError('AUDIT_FAILURE', 'sink', 'IndexedDB refused the write'));
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
  /** {@link IDB_BATCH} records per read, each read in a transaction of its own (under the tabs' lock while opening). */
  async scan(each: (part: Part) => Promise<boolean>) {
    for (let after: IDBValidKey | undefined; ;) {
      const range = after === undefined ? undefined : IDBKeyRange.lowerBound(after, true);
      const { lines, keys } = await new Promise<{ lines: string[]; keys: IDBValidKey[] }>(
        (resolve, reject) => {
          const tx = this.#db.transaction('records', 'readonly');
          const s = tx.objectStore('records');
          const lines = s.getAll(range, IDB_BATCH);
          const keys = s.getAllKeys(range, IDB_BATCH);
          tx.oncomplete = () => resolve({ lines: lines.result as string[], keys: keys.result });
          tx.onerror = tx.onabort = () =>
            reject(new AuditError('AUDIT_FAILURE', 'sink', 'IndexedDB could not be read'));
        },
      );
      if (!lines.length || !(await each({ lines })) || lines.length < IDB_BATCH) return 0;
      after = keys.at(-1);
    }
  }
  async readFrom(seq: number) {
    return new Promise<{ last?: string; fresh: string[]; count: number; firstKept?: number }>(
      (resolve, reject) => {
        const tx = this.#db.transaction('records', 'readonly');
        const s = tx.objectStore('records');
        const all = s.getAll(IDBKeyRange.lowerBound(Math.max(seq - 1, 0)));
        const count = s.count();
        // The first record after the declaration: past 1 once another tab pruned.
        const first = s.getAllKeys(IDBKeyRange.lowerBound(1), 1);
        tx.oncomplete = () => {
          const got = all.result as string[];
          const last = seq > 0 ? got.shift() : undefined;
          const firstKept = first.result[0] as number | undefined;
          resolve({ last, fresh: got, count: count.result, firstKept });
        };
        tx.onerror = tx.onabort = () =>
          reject(new AuditError('AUDIT_FAILURE', 'sink', 'IndexedDB could not be read'));
      },
    );
  }
  /**
   * Deletes the records after the declaration up to `seq` (the collector acknowledged them;
   * the shipping state holds the prune point), in one transaction: all of them or none.
   */
  async prune(seq: number) {
    await this.#tx('readwrite', (s) => s.delete(IDBKeyRange.bound(1, seq)));
  }
  async lock<T>(f: () => Promise<T>): Promise<T> {
    const locks = (globalThis.navigator as Navigator | undefined)?.locks;
    if (!locks) return f();
    return locks.request(`tillit-audit-${this.#name}`, { mode: 'exclusive' }, f) as Promise<T>;
  }
  /** Shipping: up to `count` lines from `seq`, and the next seq (every tab's records). */
  async range(seq: number, count: number): Promise<{ lines: string[]; next: number }> {
    return new Promise((resolve, reject) => {
      const tx = this.#db.transaction('records', 'readonly');
      const s = tx.objectStore('records');
      const got = count > 0 ? s.getAll(IDBKeyRange.bound(seq, seq + count - 1)) : undefined;
      const last = s.openKeyCursor(null, 'prev');
      tx.oncomplete = () =>
        resolve({
          lines: (got?.result ?? []) as string[],
          next: last.result ? (last.result.key as number) + 1 : 0,
        });
      tx.onerror = tx.onabort = () =>
        reject(new AuditError('AUDIT_FAILURE', 'sink', 'IndexedDB could not be read'));
    });
  }
  /** One shipper among the tabs of this log: `f` runs while this tab holds the lock. */
  shipLock(f: () => Promise<void>, signal: AbortSignal): void {
    const locks = (globalThis.navigator as Navigator | undefined)?.locks;
    if (!locks) {
      void f();
      return;
    }
    locks.request(`tillit-ship-${this.#name}`, { mode: 'exclusive', signal }, f).catch(() => {});
  }
  async close() {
    this.#db.close();
  }
}

/** Records per read when an IndexedDB log is opened or verified. */
const IDB_BATCH = 256;
