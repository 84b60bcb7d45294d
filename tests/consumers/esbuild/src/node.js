// A Node bundle (--platform=node): the core's bytes inlined (--loader:.wasm=binary).
import * as tillit from 'tillit/init';
import wasm from 'tillit/wasm';
import { smoke } from '../smoke.mjs';

await tillit.init({ wasm });
console.log(`✓ esbuild --platform=node: ${await smoke(tillit)}`);
