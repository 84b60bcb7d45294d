/**
 * What the audit log asks of a sink (the {@link Sink} interface) and the shapes records travel
 * in between the log and its sinks: a {@link Batch} as stored together, {@link Records} in order,
 * a {@link Part} of a read. Internal: the public sink option is `AuditLogOptions.sink`.
 * @module
 */
import type { Recovery } from '../audit.js';
import type { ShipStateStore } from '../ship.js';

/**
 * Lines stored together: NDJSON bytes as the core wrote them (each line ended by `\n`), or
 * text lines (read from a sink, or a single record), never both at rest. Text is made from
 * the bytes only when something asks for it, so a batch that goes from the core to a file or
 * to memory is never decoded on the way; text lines become bytes the first time the read
 * side needs them, and the text is let go.
 */
export class Batch {
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
export class Records {
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
  /** Up to `count` lines from index `from`. */
  slice(from: number, count: number): string[] {
    const out: string[] = [];
    let at = 0;
    for (const b of this.#batches) {
      if (out.length >= count) break;
      if (at + b.count > from) {
        const ls = b.lines;
        out.push(...ls.slice(Math.max(0, from - at), Math.max(0, from - at) + count - out.length));
      }
      at += b.count;
    }
    return out;
  }
  /** Each batch's NDJSON bytes, in order. */
  *parts(): Generator<Uint8Array> {
    for (const b of this.#batches) yield b.bytes;
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

/** A part of the stored log, in order: NDJSON bytes as stored (a line may go on in the next part), or whole lines. */
export type Part = { bytes: Uint8Array } | { lines: string[] };

export interface Sink {
  append(batch: Batch): Promise<void>;
  read(): Promise<string[]>;
  /**
   * Reads the stored log in order, in bounded parts, handing each to `each` (which takes its
   * bytes before it awaits) and stopping when it resolves to false. Resolves to the bytes
   * read (a file; 0 for the others).
   */
  scan(each: (part: Part) => Promise<boolean>): Promise<number>;
  /** After a scan that verified: the whole lines end at byte `end`; what follows, up to `scanned`, is a torn last line. */
  settle?(end: number, scanned: number): Promise<void>;
  /**
   * Sinks shared by several writers: the line at `seq - 1`, the lines from `seq`, the count,
   * and the seq of the first record after the declaration (past 1 once pruned).
   */
  readFrom?(
    seq: number,
  ): Promise<{ last?: string; fresh: string[]; count: number; firstKept?: number }>;
  /** Sinks the log cannot watch while writing: the stored count and last line. */
  tail?(): Promise<{ count: number; last?: string }>;
  /** Sets a torn last line aside (after the log verified). */
  repair?(): Promise<void>;
  lock?<T>(f: () => Promise<T>): Promise<T>;
  recovered?: Recovery;
  close?(): Promise<void>;
  /** The custom sink's own store of the shipping state. */
  shipState?: ShipStateStore;
}

/** Lines verified per crossing into the core: the verifier keeps no record, only its state. */
export const VERIFY_CHUNK = 1024;
