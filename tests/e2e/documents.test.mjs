// End to end in headless Chromium (issue 16, item 8): a compromised document source answers
// with an HTML, SVG or XHTML "document" whose script marks the window it runs in. The EHR and
// citizen example pages must never run it: tillit refuses the bytes (UNSAFE_CONTENT), the
// page says why, and a document that is shown sits in a sandboxed frame.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useDemo } from '../support/demo-pages.mjs';

const demo = useDemo();
const open = (path) => demo.open(path);

/** Whether the fault's script ran in the page or in any of its frames. */
async function scriptRan(page) {
  for (const f of page.frames()) {
    const ran = await f.evaluate(() => window.__docScriptRan ?? 0).catch(() => 0);
    if (ran) return true;
  }
  return false;
}

async function listAsClinician(page) {
  await page.selectOption('#patient', demo.pages.cfg.patients[1].id);
  await page.click('#login');
  await page.waitForSelector('[data-testid=documents] tbody tr', { timeout: 15000 });
}

async function listAsCitizen(page) {
  // The login at the Helsenorge-style issuer (once per browser: the backend keeps the
  // session), then one's documents by a login at HelseID.
  if (await page.isVisible('#login')) await page.click('#login');
  await page.click('#documents', { timeout: 15000 });
  await page.waitForSelector('[data-testid=documents] tbody tr', { timeout: 15000 });
}

const ACTIVE = ['doc-html', 'doc-svg', 'doc-html-as-pdf', 'doc-xml'];

for (const [who, path, list] of [
  ['EHR', '/ehr/', listAsClinician],
  ['citizen', '/citizen/', listAsCitizen],
]) {
  for (const fault of ACTIVE) {
    test(`${who}: a source answering ${fault} gets no script run; the page says UNSAFE_CONTENT`, async () => {
      const { page, errors } = await open(`${path}?docfault=${fault}`);
      await list(page);
      const buttons = await page.$$('[data-testid=documents] tbody tr button');
      for (const b of buttons.slice(0, 2)) {
        await b.click();
        await page.waitForSelector('[data-testid=refused]');
        assert.equal(
          await page.getAttribute('[data-testid=refused]', 'data-code'),
          'UNSAFE_CONTENT',
        );
      }
      await page.waitForTimeout(300);
      assert.equal(await scriptRan(page), false, 'no script of the document ran');
      assert.equal(await page.$('[data-testid=pdf]'), null, 'nothing was framed');
      assert.deepEqual(errors, []);
      await page.close();
    });
  }

  test(`${who}: a whole PDF is shown only in a sandboxed frame typed application/pdf`, async () => {
    const { page, errors } = await open(path);
    await list(page);
    await page.click('[data-testid=documents] tbody tr button');
    await page.waitForSelector('[data-testid=pdf]');
    assert.equal(
      await page.getAttribute('[data-testid=pdf]', 'sandbox'),
      '',
      'sandboxed with no allowances',
    );
    const src = await page.getAttribute('[data-testid=pdf]', 'src');
    const type = await page.evaluate(
      async (u) => (await fetch(u)).headers.get('content-type'),
      src,
    );
    assert.equal(type, 'application/pdf');
    assert.deepEqual(errors, []);
    await page.close();
  });
}

test('EHR: a document cut short or about another patient is refused with its code', async () => {
  for (const [fault, code] of [
    ['doc-no-eof', 'INCOMPLETE_DOCUMENT'],
    ['truncated', 'INCOMPLETE_DOCUMENT'],
    ['doc-other-patient', 'DOCUMENT_WITHHELD'],
  ]) {
    const { page, errors } = await open(`/ehr/?docfault=${fault}`);
    await listAsClinician(page);
    await page.click('[data-testid=documents] tbody tr button');
    await page.waitForSelector('[data-testid=refused]');
    assert.equal(await page.getAttribute('[data-testid=refused]', 'data-code'), code, fault);
    assert.equal(await page.$('[data-testid=pdf]'), null);
    assert.deepEqual(errors, [], `${fault}: a refusal is shown, not thrown`);
    await page.close();
  }
});

test("the sandbox itself: HTML in a frame like the examples' runs no script (the wall behind the core's)", async () => {
  const { page, errors } = await open('/ehr/');
  const frame = (sandboxed) =>
    page.evaluate(async (sandboxed) => {
      window.__docScriptRan = 0;
      const url = URL.createObjectURL(
        new Blob(['<script>parent.__docScriptRan = 1; window.__docScriptRan = 1</script>'], {
          type: 'text/html',
        }),
      );
      const f = document.createElement('iframe');
      if (sandboxed) f.setAttribute('sandbox', '');
      f.src = url;
      document.body.append(f);
      await new Promise((r) => f.addEventListener('load', r));
      await new Promise((r) => setTimeout(r, 200));
      const ran = window.__docScriptRan;
      f.remove();
      return ran;
    }, sandboxed);
  assert.equal(
    await frame(false),
    1,
    'the detection works: an unsandboxed same-origin blob runs the script',
  );
  assert.equal(await frame(true), 0, 'the sandboxed frame runs none');
  assert.equal(await scriptRan(page), false);
  // The one console error is Chromium's report of the sandbox blocking that script.
  assert.equal(errors.length, 1, errors.join('\n'));
  assert.match(
    errors[0],
    /^Blocked script execution in 'blob:.*' because the document's frame is sandboxed and the 'allow-scripts' permission is not set\.$/,
  );
  await page.close();
});
