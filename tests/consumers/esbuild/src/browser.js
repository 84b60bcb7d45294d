// esbuild does not emit files named by new URL(…, import.meta.url): import the core's URL
// (--loader:.wasm=file copies it next to the bundle) and hand it to init.
import * as tillit from 'tillit/init';
import wasm from 'tillit/wasm';
import { smoke } from '../smoke.mjs';

tillit
  .init({ wasm })
  .then(() => smoke(tillit))
  .then(
    (summary) => (window.smoke = { ok: true, summary }),
    (e) => (window.smoke = { ok: false, error: String(e?.stack ?? e) }),
  );
