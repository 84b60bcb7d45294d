// Makes the published declarations stand alone (no DOM library needed): every declaration
// file in the folder given that names a platform type tillit's API uses gets an import of
// tillit's stand-in for it (dist/dom-types.d.ts), which is the platform's own type where the
// consumer has one. Usage: node scripts/standalone-types.mjs pkg/dist
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2];
const shim = readFileSync(join(dir, 'dom-types.d.ts'), 'utf8');
const names = [...shim.matchAll(/^export (?:type|interface|declare const) (\w+)/gm)].map((m) => m[1]);
for (const file of readdirSync(dir)) {
  if (!file.endsWith('.d.ts') || file === 'dom-types.d.ts') continue;
  const path = join(dir, file);
  const text = readFileSync(path, 'utf8');
  // Code only: doc comments may name the types freely.
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
  const used = names.filter((n) => new RegExp(`(?<![\\w.'"])${n}\\b(?!\\s*[?]?:)`).test(code));
  if (used.length) writeFileSync(path, `import type { ${used.join(', ')} } from './dom-types.js';\n${text}`);
}
