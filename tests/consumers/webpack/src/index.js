import * as tillit from 'tillit';
import { smoke } from '../smoke.mjs';

smoke(tillit).then(
  (summary) => (window.smoke = { ok: true, summary }),
  (e) => (window.smoke = { ok: false, error: String(e?.stack ?? e) }),
);
