// webpack < 5.83 refuses top-level await unless experiments.topLevelAwait is set: tillit/init,
// whose default source webpack emits (new URL(…, import.meta.url)).
import * as tillit from 'tillit/init';
import { smoke } from '../smoke.mjs';

tillit
  .init()
  .then(() => smoke(tillit))
  .then(
    (summary) => (window.smoke = { ok: true, summary: `webpack 5.82: ${summary}` }),
    (e) => (window.smoke = { ok: false, error: String(e?.stack ?? e) }),
  );
