/**
 * The adapter for a sink of the caller's own ({@link CustomSink}: `append(lines)` and `read()`).
 * @module
 */
import { AuditError } from '../errors.js';
import type { CustomSink } from '../audit.js';
import { VERIFY_CHUNK, type Sink } from './sink.js';

export function customSink(s: CustomSink): Sink {
  if (typeof s?.append !== 'function' || typeof s?.read !== 'function') {
    throw new AuditError(
      'AUDIT_FAILURE',
      'sink',
      "must be 'memory', 'indexeddb', { file } or an object with append(lines) and read()",
    );
  }
  const read = async () => {
    const lines = await s.read();
    if (!Array.isArray(lines) || lines.some((l) => typeof l !== 'string'))
      throw new AuditError('AUDIT_FAILURE', 'sink.read', 'must resolve to an array of strings');
    return lines;
  };
  return {
    append: async (batch) => {
      try {
        await s.append(batch.lines);
      } catch {
        throw new AuditError('AUDIT_FAILURE', 'sink.append', 'the sink refused the write');
      }
    },
    read,
    // The caller's read() gives every line at once; they are verified a part at a time.
    scan: async (each) => {
      const lines = await read();
      for (let at = 0; at < lines.length; at += VERIFY_CHUNK)
        if (!(await each({ lines: lines.slice(at, at + VERIFY_CHUNK) }))) break;
      return 0;
    },
    tail: async () => {
      if (typeof s.tail === 'function') return s.tail();
      const lines = await s.read();
      return { count: lines.length, last: lines.at(-1) };
    },
    shipState: s.shipState,
  };
}
