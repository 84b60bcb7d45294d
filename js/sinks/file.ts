/**
 * The file sink (`sink: { file }`, Node): an append-only NDJSON file, fsync per batch, torn
 * tails set aside. Node's `fs` comes from platform.ts (set by the Node entries only), so this
 * module has no `node:` import and the browser build carries it without one.
 * @module
 */
import * as core from '#core';
import { AuditError, AuditIntegrityError, call } from '../errors.js';
import { platform } from '../platform.js';
import type { Recovery } from '../audit.js';
import type { Batch, Part, Sink } from './sink.js';

/** The part of Node's `fs/promises` the file sink uses (typed here: no @types/node needed). */
interface FileHandle {
  write(data: Uint8Array, offset: number, length: number): Promise<{ bytesWritten: number }>;
  read(
    buffer: Uint8Array,
    offset: number,
    length: number,
    position: number,
  ): Promise<{ bytesRead: number }>;
  stat(): Promise<{ size: number }>;
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
export class FileSink implements Sink {
  #path: string;
  #fh: FileHandle | undefined;
  #fs: FsPromises | undefined;
  /** The file's length in whole, acknowledged lines. */
  #size = 0;
  /** Set when a failed write left bytes that could not be taken back. */
  #broken = false;
  /** The file's last bytes as this sink read or wrote them (up to {@link TAIL} bytes). */
  #tail: Uint8Array = new Uint8Array(0);
  /** A torn last line (bytes `at` to `end`) found when opening: set aside by `repair`. */
  #torn?: { at: number; end: number };
  recovered?: Recovery;
  constructor(path: string) {
    this.#path = path;
  }
  async #mod() {
    if (!this.#fs) {
      const { fs } = platform;
      if (!fs)
        throw new AuditError(
          'AUDIT_FAILURE',
          'sink.file',
          'a file sink needs Node: in browsers use indexeddb',
        );
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
    const end = r.tornAt ?? bytes.length;
    this.#torn =
      r.tornAt !== null && r.tornAt !== undefined ? { at: r.tornAt, end: bytes.length } : undefined;
    this.#tail = bytes.slice(Math.max(0, end - TAIL), end);
    return r.lines;
  }
  /** The file {@link FILE_CHUNK} bytes per read, from the start. */
  async scan(each: (part: Part) => Promise<boolean>) {
    const fs = await this.#mod();
    let fh: FileHandle;
    try {
      fh = await fs.open(this.#path, 'r');
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT') return 0;
      throw new AuditError('AUDIT_FAILURE', 'sink.file', 'the log file could not be read');
    }
    try {
      for (let at = 0; ;) {
        const buf = new Uint8Array(FILE_CHUNK);
        const { bytesRead } = await fh.read(buf, 0, buf.length, at).catch(() => {
          throw new AuditError('AUDIT_FAILURE', 'sink.file', 'the log file could not be read');
        });
        if (bytesRead === 0) return at;
        at += bytesRead;
        if (!(await each({ bytes: buf.subarray(0, bytesRead) }))) return at;
      }
    } finally {
      await fh.close();
    }
  }
  async settle(end: number, scanned: number) {
    this.#size = end;
    this.#torn = end < scanned ? { at: end, end: scanned } : undefined;
    this.#tail = await this.#range(Math.max(0, end - TAIL), end);
  }
  /** Bytes `from` to `to` of the file (at most {@link FILE_CHUNK} at a time are asked for). */
  async #range(from: number, to: number): Promise<Uint8Array> {
    const out = new Uint8Array(to - from);
    if (!out.length) return out;
    const fs = await this.#mod();
    const fh = await fs.open(this.#path, 'r');
    try {
      for (let at = 0; at < out.length;) {
        const { bytesRead } = await fh.read(
          out.subarray(at),
          0,
          Math.min(FILE_CHUNK, out.length - at),
          from + at,
        );
        if (bytesRead === 0)
          throw new AuditError(
            'AUDIT_FAILURE',
            'sink.file',
            'the log file changed while it was opened',
          );
        at += bytesRead;
      }
    } finally {
      await fh.close();
    }
    return out;
  }
  /** Sets a torn last line aside in a file of its own (copied a read at a time), and cuts it from the log. */
  async repair() {
    const t = this.#torn;
    if (!t) return;
    const fs = await this.#mod();
    const savedAs = `${this.#path}.torn-${Date.now()}`;
    const out = await fs.open(savedAs, 'wx');
    try {
      for (let at = t.at; at < t.end; at += FILE_CHUNK) {
        const part = await this.#range(at, Math.min(t.end, at + FILE_CHUNK));
        for (let w = 0; w < part.length;)
          w += (await out.write(part, w, part.length - w)).bytesWritten;
      }
      await out.datasync();
    } finally {
      await out.close();
    }
    await fs.truncate(this.#path, t.at);
    this.recovered = { tornBytes: t.end - t.at, savedAs };
    this.#size = t.at;
    this.#torn = undefined;
  }
  /**
   * Whether the file still ends where this sink left it: its length, and its last bytes
   * (the last record's hash, kind, prev and seq). Another writer, or a loss, shows here.
   */
  async #check(fh: FileHandle) {
    const { size } = await fh.stat();
    let same = size === this.#size;
    if (same && this.#tail.length) {
      const buf = new Uint8Array(this.#tail.length);
      const { bytesRead } = await fh.read(buf, 0, buf.length, size - buf.length);
      same = bytesRead === buf.length && buf.every((b, i) => b === this.#tail[i]);
    }
    if (!same) {
      throw new AuditIntegrityError(
        'sink.file',
        `SINK_DIVERGED: the log file no longer ends where this log left it (${size} bytes, expected ${this.#size}): records were lost or another writer appended`,
      );
    }
  }
  async append(batch: Batch) {
    if (this.#broken) {
      throw new AuditError(
        'AUDIT_FAILURE',
        'sink.file',
        'an earlier write failed part-way and could not be taken back: open the log again, which sets the partial line aside',
      );
    }
    const fs = await this.#mod();
    let fh: FileHandle | undefined;
    try {
      fh = this.#fh ??= await fs.open(this.#path, 'a+');
      await this.#check(fh);
      // A write may take less than it was given (a full disk, a signal): the rest follows,
      // and nothing is acknowledged before all of it is written and synced.
      const bytes = batch.bytes;
      for (let at = 0; at < bytes.length;) {
        const { bytesWritten } = await fh.write(bytes, at, bytes.length - at);
        if (!(bytesWritten > 0)) throw new Error('no progress');
        at += bytesWritten;
      }
      await fh.datasync();
      this.#size += bytes.length;
      const t = bytes.length >= TAIL ? bytes.slice(bytes.length - TAIL) : concat(this.#tail, bytes);
      this.#tail = t.slice(Math.max(0, t.length - TAIL));
    } catch (e) {
      if (e instanceof AuditIntegrityError) throw e;
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
      throw new AuditError(
        'AUDIT_FAILURE',
        'sink.file',
        'the log file could not be written and synced',
      );
    }
  }
  async close() {
    await this.#fh?.close();
    this.#fh = undefined;
  }
  /**
   * Pruning: the file becomes `bytes` (the declaration and the records kept), written to a
   * temporary file, synced and renamed over the log, so a crash leaves the old file or the new.
   */
  async replace(bytes: Uint8Array) {
    const fs = (await this.#mod()) as FsPromises & { rename(a: string, b: string): Promise<void> };
    const tmp = `${this.#path}.prune`;
    await fs.writeFile(tmp, bytes);
    const fh = await fs.open(tmp, 'r+');
    try {
      await fh.datasync();
    } finally {
      await fh.close();
    }
    await this.#fh?.close();
    this.#fh = undefined;
    await fs.rename(tmp, this.#path);
    this.#size = bytes.length;
    this.#tail = bytes.slice(Math.max(0, bytes.length - TAIL));
  }
  get path() {
    return this.#path;
  }
}

/** The bytes of a file's end the file sink compares before each write: a record's last
 * ~200 bytes hold its hash, prev and seq. */
const TAIL = 256;

/**
 * Bytes per read when a file log is opened or verified: the file is verified as it is read,
 * so opening holds one read (and a line not yet ended), whatever the log's length.
 */
const FILE_CHUNK = 64 * 1024;

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
