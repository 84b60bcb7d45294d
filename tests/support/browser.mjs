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
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];

/** A persistent context (its own profile folder), so IndexedDB survives reloads. */
export async function launch() {
  const dir = mkdtempSync(join(tmpdir(), 'tillit-chromium-'));
  const context = await chromium.launchPersistentContext(dir, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  return context;
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
 * For a test file: before its tests, serves the repository and opens `path` (from the
 * repository's root) in headless Chromium; after them, closes both. Returns an object whose
 * `page`, `context` and `server` are set once the `before` hook has run.
 */
export function usePage(path) {
  const it = {};
  before(async () => {
    it.server = await serveStatic(fileURLToPath(new URL('../..', import.meta.url)));
    it.context = await launch();
    it.page = await openPage(it.context, `${it.server.url}/${path}`);
  });
  after(async () => {
    await it.context?.close();
    await it.server?.close();
  });
  return it;
}
