// Writes pkg/package.json from the crate's version: one package for Node, browsers, workers and
// bundlers. Each public entry is a row of `entries`: its declarations, its Node build (reads the
// core from disk) and its build for everything else (fetches it); add an entry with one line.
import { readFileSync } from 'node:fs';
const cargo = readFileSync(new URL('../Cargo.toml', import.meta.url), 'utf8');
const version = /^version = "([^"]+)"/m.exec(cargo)[1];

// Placeholders until the maintainers name the public repository: the fields exist so that
// registries and tools link somewhere the maintainers control.
const repository = 'https://github.com/tillit-no/tillit';

/** `name` → the conditions of `./dist/<file>`: Node gets `<file>.node.js` where it exists. */
const entry = (file, { node = true } = {}) => ({
  types: `./dist/${file}.d.ts`,
  ...(node ? { node: `./dist/${file}.node.js` } : {}),
  default: `./dist/${file}.js`,
});
const entries = {
  '.': entry('index'),
  './init': entry('init'),
};

const pkg = {
  name: 'tillit',
  version,
  description: 'The consumer side of Norwegian health-record sharing: trust context, DPoP, data minimisation and a tamper-evident access log (Rust + WebAssembly).',
  keywords: ['helseid', 'dpop', 'fhir', 'ihe-mhd', 'audit-log', 'webassembly'],
  license: 'MIT OR Apache-2.0',
  repository: { type: 'git', url: `git+${repository}.git` },
  homepage: `${repository}#readme`,
  bugs: { url: `${repository}/issues` },
  type: 'module',
  // The default entries load the core when imported, and the Node entries register Node's
  // modules (dist/platform.node.js); everything else is free of side effects.
  sideEffects: ['./dist/index.js', './dist/index.node.js', './dist/platform.node.js', './dist/server.js'],
  engines: { node: '>=20' },
  exports: {
    ...entries,
    // The core itself, for builds that copy it or import its URL (`tillit/wasm?url` in Vite).
    './wasm': { types: './dist/wasm.d.ts', default: './core/tillit_core_bg.wasm' },
    // The backend signer (Node only): tillit/server. Importing it loads the core (Node build).
    './server': { types: './dist/server.d.ts', node: './dist/server.js' },
    './package.json': './package.json',
  },
  types: './dist/index.d.ts',
  files: ['dist', 'core', 'README.md', 'LICENSE-MIT', 'LICENSE-APACHE'],
};
process.stdout.write(JSON.stringify(pkg, null, 2) + '\n');
