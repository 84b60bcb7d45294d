// Minimisation through the package, with an independent FHIR R4 validator (npm `fhir`)
// checking what comes out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fhirpkg from 'fhir';
import {
  TrustContext,
  minimise,
  minimiseDocument,
  defaultPolicy,
  validatePolicy,
  PolicyError,
  WithheldError,
  ArgumentError,
  ResourceError,
} from 'tillit';
import { attestation, syntheticFnr, documentReference, searchset } from './fixtures.mjs';
import { table, bundleText, problems } from './minimise-adversarial.mjs';

const fhir = new fhirpkg.Fhir();
const patient = syntheticFnr(4);
const ctx = TrustContext.fromJSON(attestation(patient));
const NOW = Date.UTC(2026, 5, 15) / 1000;

function mixed() {
  return searchset([
    documentReference('epi1', patient, 'A03-2', '2019-03-01'),
    documentReference('lab1', patient, 'C01-2', '2026-02-01'),
    documentReference('lab-old', patient, 'C01-2', '2024-02-01'),
    documentReference('ref1', patient, 'I01-2', '2026-04-01'),
    documentReference('rad1', patient, 'E01-2', '2023-04-01'),
    documentReference('note1', patient, 'B02-2', '2026-04-01'),
    documentReference('letter1', patient, 'I02-2', '2026-04-01'),
    documentReference('blocked1', patient, 'A03-2', '2026-01-01', {
      securityLabel: [{ coding: [{ system: 'urn:oid:2.16.578.1.12.4.1.1.9603', code: 'NORS' }] }],
    }),
    documentReference('leak1', syntheticFnr(9), 'A03-2', '2026-01-01'),
    documentReference('inline', patient, 'A13-2', '2026-01-01', {
      text: {
        status: 'generated',
        div: '<div xmlns="http://www.w3.org/1999/xhtml">Hemmelig notat</div>',
      },
    }),
  ]);
}

test('the default policy keeps the four legal kinds in their windows and accounts for the rest', () => {
  const input = JSON.stringify(mixed());
  const out = minimise(input, ctx, undefined, { now: NOW });
  assert.deepEqual(
    out.bundle.entry.map((e) => e.resource.id),
    ['epi1', 'lab1', 'ref1', 'rad1', 'inline'],
  );
  assert.deepEqual(
    out.withheld.map((w) => [w.id, w.reason]),
    [
      ['lab-old', 'OUTSIDE_WINDOW'],
      ['note1', 'TYPE_NOT_ALLOWED'],
      ['letter1', 'TYPE_NOT_ALLOWED'],
      ['blocked1', 'PATIENT_BLOCK'],
      ['leak1', 'OTHER_PATIENT'],
    ],
  );
  assert.equal(out.leaks, 1);
  assert.equal(out.stats.input, 10);
  assert.equal(out.stats.returned + out.withheld.length, out.stats.input);
  assert.deepEqual(
    out.bundle.meta.security.map((t) => t.code),
    ['REDACTED', 'SUBSETTED'],
  );
  const text = JSON.stringify(out.bundle);
  for (const gone of [
    'Dokument note1',
    'Dokument leak1',
    'Dokument blocked1',
    'Hemmelig notat',
    syntheticFnr(9),
  ])
    assert.ok(!text.includes(gone), gone);
});

test('the minimised Bundle validates as FHIR R4 with an independent validator', () => {
  const out = minimise(JSON.stringify(mixed()), ctx, undefined, { now: NOW });
  const r = fhir.validate(out.bundle);
  // Volven 9602 codes are outside FHIR's preferred LOINC value set: that warning is expected;
  // any other message is a failure.
  const expected = (m) =>
    m.severity === 'info' ||
    (m.severity === 'warning' &&
      /\(urn:oid:2\.16\.578\.1\.12\.4\.1\.1\.9602\) not found in value set/.test(m.message));
  assert.deepEqual(
    r.messages.filter((m) => !expected(m)),
    [],
  );
  assert.equal(r.valid, true);
});

test('bytes and text give the same result', () => {
  const text = JSON.stringify(mixed());
  const a = minimise(text, ctx, undefined, { now: NOW });
  const b = minimise(new TextEncoder().encode(text), ctx, undefined, { now: NOW });
  assert.deepEqual(a, b);
});

test('text with characters beyond ASCII reaches the core intact, wherever they are', () => {
  // The wrapper's text goes into the core's memory by TextEncoder.encodeInto, one byte per
  // UTF-16 unit first and the rest after growing: put two- to four-byte characters and a
  // lone surrogate (encoded as U+FFFD) before, across and after that first cut.
  for (const title of ['æøå ÆØÅ', '€ 😀 ℞', 'x'.repeat(3000) + 'ø', 'LONE alene']) {
    const bundle = mixed();
    for (const e of bundle.entry) e.resource.description = title;
    bundle.entry[0].resource.content[0].attachment.title = `${title} – epikrise`;
    // JSON.stringify escapes a lone surrogate; put a raw one into the text instead.
    const text = ((title.startsWith('€') ? '' : ' ') + JSON.stringify(bundle)).replaceAll(
      'LONE',
      '\ud800',
    );
    const a = minimise(text, ctx, undefined, { now: NOW });
    const b = minimise(new TextEncoder().encode(text), ctx, undefined, { now: NOW });
    assert.deepEqual(a, b);
    const expected = title.replace('LONE', '\ufffd');
    assert.equal(a.bundle.entry[0].resource.description, expected);
    assert.equal(a.bundle.entry[0].resource.content[0].attachment.title, `${expected} – epikrise`);
  }
});

test('a custom policy: purpose rules, confidentiality, count limit', () => {
  const policy = {
    ...defaultPolicy(),
    maxEntries: 2,
    rules: [{ types: ['E00-1'], allow: { purposes: ['ETREAT'] } }],
  };
  validatePolicy(policy);
  const out = minimise(JSON.stringify(mixed()), ctx, policy, { now: NOW });
  assert.deepEqual(
    out.bundle.entry.map((e) => e.resource.id),
    ['epi1', 'lab1'],
  );
  assert.equal(out.withheld.find((w) => w.id === 'rad1').reason, 'PURPOSE_RULE');
  assert.equal(out.withheld.find((w) => w.id === 'ref1').reason, 'COUNT_LIMIT');
  assert.throws(
    () =>
      minimise('{}', ctx, { ...defaultPolicy(), documentKinds: [{ code: 'X', windowYears: 1 }] }),
    (e) => e instanceof PolicyError && e.path === '$.documentKinds[0].code',
  );
});

test('the citizen sees their own blocked documents', () => {
  const citizen = TrustContext.fromJSON({
    type: 'tillit:citizen',
    citizen: { identifier: { id: patient, system: 'urn:oid:2.16.578.1.12.4.1.4.1' } },
  });
  const out = minimise(JSON.stringify(mixed()), citizen, undefined, { now: NOW });
  assert.ok(out.bundle.entry.some((e) => e.resource.id === 'blocked1'));
  assert.ok(out.withheld.some((w) => w.id === 'leak1' && w.reason === 'OTHER_PATIENT'));
});

test('retrieval refuses what the list withholds', () => {
  const bytes = new Uint8Array([37, 80, 68, 70]);
  assert.equal(
    minimiseDocument(documentReference('epi1', patient, 'A03-2', '2019-03-01'), bytes, ctx),
    bytes,
  );
  assert.throws(
    () => minimiseDocument(documentReference('note1', patient, 'B02-2', '2026-04-01'), bytes, ctx),
    (e) => e instanceof WithheldError && e.rule.startsWith('TYPE_NOT_ALLOWED'),
  );
  assert.throws(
    () =>
      minimiseDocument(documentReference('x', syntheticFnr(9), 'A03-2', '2026-04-01'), bytes, ctx),
    (e) => e.code === 'DOCUMENT_WITHHELD' && !e.message.includes(syntheticFnr(9)),
  );
});

test('malformed input is a typed error', () => {
  assert.throws(
    () => minimise('{"resourceType":', ctx),
    (e) => e instanceof ArgumentError && e.code === 'MALFORMED_JSON',
  );
  assert.throws(() => minimise('{"resourceType":"Patient"}', ctx), ResourceError);
  assert.throws(
    () => minimise(42, ctx),
    (e) => e instanceof ArgumentError && e.path === 'input',
  );
  assert.throws(
    () => minimise('['.repeat(1000), ctx),
    (e) => e.code === 'INPUT_TOO_LARGE',
  );
});

// Issue 16: the adversarial table through the public API (the same cases run natively and in
// Chromium). Each is withheld with its reason code, or kept with what must not pass removed.
test('the adversarial table: every case withheld with its reason, or stripped', () => {
  const A = table.patients.A;
  const adversarial = table.cases.filter((c) => c.item > 0);
  assert.ok(adversarial.length >= 80, `${adversarial.length} cases`);
  const failed = [];
  for (const c of table.cases) {
    const ctx = TrustContext.fromJSON(table.contexts[c.context]);
    const out = minimise(bundleText(c), ctx, undefined, {
      now: table.now,
      patient: A,
      earlierIds: c.earlierIds,
    });
    const p = problems(c, out);
    // Retrieval refuses what the list withholds, with the same reason first in its rule.
    if (!['KEPT', 'REDACTED', 'STRIPPED'].includes(c.expect) && !c.raw && !c.earlierIds) {
      const entry = JSON.parse(bundleText(c)).entry[0];
      try {
        minimiseDocument(entry, null, ctx, undefined, { now: table.now, patient: A });
        p.push('retrieval allowed');
      } catch (e) {
        if (!(e instanceof WithheldError) || !e.rule.startsWith(c.expect))
          p.push(`retrieval: ${e.code} ${e.rule}`);
      }
    }
    if (p.length) failed.push(`${c.name}: ${p.join('; ')}`);
  }
  assert.deepEqual(failed, []);
});

test('one patient per search: the patient option, and the old call on a two-patient context', () => {
  const two = TrustContext.fromJSON(table.contexts.treat);
  const text = bundleText({ ops: [] });
  assert.throws(
    () => minimise(text, two, undefined, { now: table.now }),
    (e) => e instanceof ArgumentError && e.code === 'INVALID_ARGUMENT' && e.path === 'patient',
  );
  assert.throws(
    () => minimise(text, two, undefined, { patient: table.patients.C }),
    (e) => e.path === 'patient' && !e.message.includes(table.patients.C),
  );
  assert.throws(
    () => minimise(text, two, undefined, { patient: 42 }),
    (e) => e instanceof ArgumentError && e.path === 'patient',
  );
  const forB = minimise(text, two, undefined, { now: table.now, patient: table.patients.B });
  assert.deepEqual([forB.leaks, forB.withheld[0].reason], [1, 'OTHER_PATIENT']);
  // The old call still works on a one-patient context.
  assert.equal(
    minimise(text, TrustContext.fromJSON(table.contexts.citizen), undefined, { now: table.now })
      .stats.returned,
    1,
  );
});

test('paging: an id an earlier page had is withheld and reported for retraction', () => {
  const two = TrustContext.fromJSON(table.contexts.treat);
  const text = bundleText({ ops: [] });
  const first = minimise(text, two, undefined, { now: table.now, patient: table.patients.A });
  assert.deepEqual([first.stats.returned, first.retract], [1, []]);
  const earlierIds = [
    ...first.bundle.entry.map((e) => e.resource.id),
    ...first.withheld.map((w) => w.id),
  ];
  const again = minimise(text, two, undefined, {
    now: table.now,
    patient: table.patients.A,
    earlierIds,
  });
  assert.deepEqual(
    [again.stats.returned, again.withheld[0].reason, again.retract],
    [0, 'DUPLICATE_ID', ['d1']],
  );
  assert.throws(
    () => minimise(text, two, undefined, { patient: table.patients.A, earlierIds: 'd1' }),
    (e) => e instanceof ArgumentError && e.path === 'earlierIds',
  );
});

test('a trust context that is not one is a typed error, not a TypeError', () => {
  for (const bad of [null, undefined, {}, 'x']) {
    assert.throws(
      () => minimise('{}', bad),
      (e) => e instanceof ArgumentError && e.path === 'trustContext',
    );
    assert.throws(
      () => minimiseDocument({}, null, bad),
      (e) => e instanceof ArgumentError && e.path === 'trustContext',
    );
  }
});
