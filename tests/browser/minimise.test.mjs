// Minimisation in headless Chromium: text goes into the core by the page's
// TextEncoder.encodeInto (straight into wasm memory), bytes by one copy; both give the result
// Node gives, whatever characters the text holds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { usePage } from '../support/browser.mjs';
import { TrustContext, minimise } from 'tillit';
import { attestation, syntheticFnr, documentReference, searchset } from '../js/fixtures.mjs';

const NOW = Date.UTC(2026, 5, 15) / 1000;

const chromium = usePage('tests/browser/keys.html');

test('text and bytes minimise alike in Chromium and as in Node, with characters beyond ASCII', async () => {
  const patient = syntheticFnr(4);
  const docs = [];
  for (let i = 0; i < 300; i++)
    docs.push(
      documentReference(
        `d${i}`,
        i % 7 === 3 ? syntheticFnr(9) : patient,
        ['A03-2', 'B02-2', 'E01-2'][i % 3],
        `202${i % 7}-0${1 + (i % 9)}-10`,
        { description: ['Epikrise – Ålesund', 'plain', '😀 notat', 'x'.repeat(i)][i % 4] },
      ),
    );
  // A raw lone surrogate in the text: the encoder writes U+FFFD, in both places.
  const text = JSON.stringify(searchset(docs)).replaceAll('"plain"', '"\ud800 plain"');
  const att = attestation(patient);
  const inChromium = await chromium.page.evaluate(
    ({ text, att, now }) => {
      const { tillit } = window;
      const ctx = tillit.TrustContext.fromJSON(att);
      const a = tillit.minimise(text, ctx, undefined, { now });
      const b = tillit.minimise(new TextEncoder().encode(text), ctx, undefined, { now });
      return { a, b };
    },
    { text, att, now: NOW },
  );
  const inNode = minimise(text, TrustContext.fromJSON(att), undefined, { now: NOW });
  assert.deepEqual(inChromium.a, inChromium.b);
  assert.deepEqual(inChromium.a, inNode);
  assert.ok(inNode.bundle.entry.length > 50 && inNode.withheld.length > 50);
  assert.ok(inNode.bundle.entry.some((e) => e.resource.description === '\ufffd plain'));
});

// Issue 16: the adversarial table in Chromium, through the page's own copy of the package:
// every case as in Node (and natively), withheld with its reason code or stripped.
test('the adversarial table in Chromium: every case withheld with its reason, or stripped', async () => {
  const { table, bundleText, problems } = await import('../js/minimise-adversarial.mjs');
  const cases = table.cases.map((c) => ({ ...c, text: bundleText(c) }));
  assert.ok(cases.filter((c) => c.item > 0).length >= 80);
  const results = await chromium.page.evaluate(
    ({ cases, contexts, now, patient }) => {
      const { tillit } = window;
      return cases.map((c) => {
        const ctx = tillit.TrustContext.fromJSON(contexts[c.context]);
        const out = tillit.minimise(c.text, ctx, undefined, {
          now,
          patient,
          earlierIds: c.earlierIds,
        });
        return {
          bundle: out.bundle,
          withheld: out.withheld,
          leaks: out.leaks,
          retract: out.retract,
          stats: out.stats,
        };
      });
    },
    { cases, contexts: table.contexts, now: table.now, patient: table.patients.A },
  );
  const failed = cases.flatMap((c, i) => problems(c, results[i]).map((p) => `${c.name}: ${p}`));
  assert.deepEqual(failed, []);
  // And the same results as Node gives.
  const A = table.patients.A;
  for (const [i, c] of cases.entries()) {
    assert.deepEqual(
      results[i],
      minimise(c.text, TrustContext.fromJSON(table.contexts[c.context]), undefined, {
        now: table.now,
        patient: A,
        earlierIds: c.earlierIds,
      }),
      c.name,
    );
  }
});
