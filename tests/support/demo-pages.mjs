// The end-to-end tests' set-up: the emulator, the built example pages (examples/demo.mjs) and
// headless Chromium, started before a file's tests and stopped after; `open(path)` opens a
// page once its script is ready and collects its errors (uncaught and console).
import { before, after } from 'node:test';
import { launch, collectErrors } from './browser.mjs';
import { startEmulator, startPages } from '../../examples/demo.mjs';

/** Hooks for a test file; the returned object gets `emu`, `pages` and `context` once started. */
export function useDemo() {
  const it = {
    async open(path) {
      const page = await it.context.newPage();
      await page.setViewportSize({ width: 1366, height: 900 });
      const errors = collectErrors(page);
      await page.goto(`${it.pages.url}${path}`);
      await page.waitForFunction(() => window.demoReady === true);
      return { page, errors };
    },
  };
  before(async () => {
    it.emu = await startEmulator();
    it.pages = await startPages(it.emu.url);
    it.context = await launch();
  });
  after(async () => {
    await it.context?.close();
    await it.pages?.close();
    await it.emu?.stop();
  });
  return it;
}
