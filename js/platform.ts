/**
 * Node's modules for the Node-only parts of tillit (the audit log's file sink, native
 * SHA-256): set by the Node entries (platform.node.ts), absent in browser builds, so no
 * bundler meets a `node:` import or a dynamic import it cannot resolve.
 * @module
 */
export const platform: { fs?: unknown; crypto?: unknown } = {};
