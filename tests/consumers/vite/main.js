import * as tillit from 'tillit';
import { smoke } from './smoke.mjs';

// The page imports the default entry (top-level await); the worker, which Vite bundles as an
// iife, uses tillit/init.
const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
const inWorker = new Promise((resolve, reject) => {
  worker.onmessage = (e) => (e.data.ok ? resolve(e.data.summary) : reject(new Error(e.data.error)));
  worker.onerror = (e) => reject(new Error(e.message ?? 'worker error'));
});
Promise.all([smoke(tillit), inWorker]).then(
  ([page, work]) => (window.smoke = { ok: true, summary: `page: ${page}; worker: ${work}` }),
  (e) => (window.smoke = { ok: false, error: String(e?.stack ?? e) }),
);
