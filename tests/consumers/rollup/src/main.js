// Rollup does not copy assets: the build copies 'tillit/wasm' next to the bundle (package.json).
import * as tillit from 'tillit/init';
import { smoke } from '../smoke.mjs';

tillit
  .init({ wasm: new URL('./tillit.wasm', import.meta.url) })
  .then(() => smoke(tillit))
  .then(
    (summary) => (window.smoke = { ok: true, summary }),
    (e) => (window.smoke = { ok: false, error: String(e?.stack ?? e) }),
  );
