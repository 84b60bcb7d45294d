/**
 * Node's modules for the Node-only parts (the file sink, native SHA-256), reached through the
 * package's `#platform` import: browsers and browser bundles get `platform.ts` instead, so no
 * bundler meets a `node:` import or an expression it cannot resolve.
 * @module
 */
import * as fs from 'node:fs/promises';
import * as crypto from 'node:crypto';

export { fs, crypto };
