// Workers do not see the page's import map: the entry by its path.
import * as tillit from './node_modules/tillit/dist/index.js';
import { smoke } from './smoke.mjs';

smoke(tillit).then(
  (summary) => postMessage({ ok: true, summary }),
  (e) => postMessage({ ok: false, error: String(e?.stack ?? e) }),
);
