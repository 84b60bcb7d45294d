/**
 * `#platform` outside Node: no file system, no native hash (see platform.node.ts).
 * @module
 */
export const fs: unknown = undefined;
export const crypto: unknown = undefined;
