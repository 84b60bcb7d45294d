// Writes pkg/package.json from the crate's version: one package for Node, browsers,
// workers and bundlers. `#core` picks the wasm build per runtime; the public entry is one.
import { readFileSync } from 'node:fs';
const cargo = readFileSync(new URL('../Cargo.toml', import.meta.url), 'utf8');
const version = /^version = "([^"]+)"/m.exec(cargo)[1];
const pkg = {
  name: 'tillit',
  version,
  description: 'The consumer side of Norwegian health-record sharing: trust context, DPoP, data minimisation and a tamper-evident access log (Rust + WebAssembly).',
  license: 'MIT OR Apache-2.0',
  type: 'module',
  sideEffects: ['./web/core.js', './node/core.js'],
  engines: { node: '>=20' },
  exports: {
    '.': {
      types: './dist/types/index.d.ts',
      node: './dist/node/index.js',
      default: './dist/web/index.js',
    },
    // The backend signer (Node only): tillit/server.
    './server': {
      types: './dist/types/server.d.ts',
      node: './dist/node/server.js',
    },
    './package.json': './package.json',
  },
  types: './dist/types/index.d.ts',
  files: ['dist', 'web', 'node', 'README.md'],
};
process.stdout.write(JSON.stringify(pkg, null, 2) + '\n');
