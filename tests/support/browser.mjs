// Launches Debian's headless Chromium through playwright-core, with the flags this closed
// network needs (no background networking).
import { before, after } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { serveStatic } from './static-server.mjs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

/** A persistent context (its own profile folder), so IndexedDB survives reloads. */
export async function launch() {
  const dir = mkdtempSync(join(tmpdir(), 'tillit-chromium-'));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
  });
  return context;
}

/**
 * Collects `page`'s uncaught errors and console errors, for a test to assert none happened.
 * Chromium's console note on a 400 or 401 answer that carries a DPoP nonce challenge (RFC 9449
 * §8-9: the token endpoint's use_dpop_nonce, the resource's WWW-Authenticate) is not an error:
 * the client answers it by design.
 */
export function collectErrors(page) {
  const errors = [];
  const nonceChallenge = /^Failed to load resource: the server responded with a status of 40[01] /;
  page.on('pageerror', (e) => errors.push(e.message));
  page.on(
    'console',
    (m) => m.type() === 'error' && !nonceChallenge.test(m.text()) && errors.push(m.text()),
  );
  return errors;
}

/** Opens `url` in a new page of `context`, reports page errors, and waits for `window.ready`. */
export async function openPage(context, url) {
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error('page error:', e.message));
  await page.goto(url);
  await page.waitForFunction(() => window.ready === true);
  return page;
}

/**
 * For a test file: before its tests, serves the repository, launches Chromium and, given
 * `path` (from the repository's root), opens a page there and runs `ready(it)`; after them,
 * closes the browser and the server. Returns an object whose `server`, `context` and `page`
 * are set once the `before` hook has run. Everything is one hook because node:test (Node 20)
 * runs a file's top-level `before` hooks at the same time, not one after another.
 */
function browserHooks(path, ready) {
  const it = {};
  before(async () => {
    it.server = await serveStatic(fileURLToPath(new URL('../..', import.meta.url)));
    it.context = await launch();
    if (path) it.page = await openPage(it.context, `${it.server.url}/${path}`);
    await ready?.(it);
  });
  after(async () => {
    await it.context?.close();
    await it.server?.close();
  });
  return it;
}

/** The repository served and Chromium launched for a test file (open pages with `openPage`). */
export function useBrowser() {
  return browserHooks();
}

/** {@link useBrowser} with a page at `path`; `ready(it)` runs once it is open. */
export function usePage(path, ready) {
  return browserHooks(path, ready);
}
