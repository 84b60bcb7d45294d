// Types of smoke.mjs, for the consumers written in TypeScript (Angular).
export function smoke(t: unknown): Promise<string>;
