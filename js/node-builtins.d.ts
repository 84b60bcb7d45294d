// The few Node built-ins tillit's Node-only modules use, typed as far as they use them (the
// build has no @types/node; these declarations are not published).
declare module 'node:fs' {
  export function readFileSync(path: string): Uint8Array;
}
declare module 'node:fs/promises' {
  export function readFile(path: string | URL): Promise<Uint8Array>;
}
declare module 'node:url' {
  export function fileURLToPath(url: string | URL): string;
}
declare module 'node:crypto';
