// The IndexedDB sink in headless Chromium: two tabs appending at once make one valid chain,
// and the log survives a reload.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBrowser, openPage } from '../support/browser.mjs';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { attestation, syntheticFnr } from '../js/fixtures.mjs';

const chromium = useBrowser();

const tab = () => openPage(chromium.context, `${chromium.server.url}/tests/browser/keys.html`);

const appendMany = async (page, who, n, att) =>
  page.evaluate(
    async ({ who, n, att }) => {
      const { tillit } = window;
      const log = await tillit.AuditLog.open({ sink: 'indexeddb', name: 'shared' });
      const trustContext = tillit.TrustContext.fromJSON(att);
      const done = [];
      for (let i = 0; i < n; i++) {
        done.push(
          log.append({
            kind: 'search',
            trustContext,
            clientId: who,
            server: 'https://api.example',
            transactionId: `${who}-${i}`,
          }),
        );
        if (i % 5 === 0) await new Promise((r) => setTimeout(r, 0));
      }
      await Promise.all(done);
      await log.close();
      return n;
    },
    { who, n, att },
  );

test('two tabs appending concurrently yield one valid chain that survives a reload', async () => {
  const [a, b] = [await tab(), await tab()];
  await Promise.all([
    appendMany(a, 'tab-a', 40, attestation()),
    appendMany(b, 'tab-b', 40, attestation()),
  ]);
  await a.reload();
  await a.waitForFunction(() => window.ready === true);
  const r = await a.evaluate(async () => {
    const log = await window.tillit.AuditLog.open({ sink: 'indexeddb', name: 'shared' });
    const v = await log.verify();
    const clients = log.query().map((e) => e.agent[0].who.display);
    return {
      v,
      a: clients.filter((c) => c === 'tab-a').length,
      b: clients.filter((c) => c === 'tab-b').length,
    };
  });
  assert.equal(r.v.ok, true, JSON.stringify(r.v));
  assert.equal(r.v.entries, 81, 'the declaration and 80 look-ups');
  assert.deepEqual([r.a, r.b], [40, 40]);
});

test("records chained in Chromium (the core's own SHA-256, from shared beginnings) verify with Node's crypto", async () => {
  const page = await tab();
  // 1 to 9 appends at once: batches of one record and of several. Two
  // clients and two patients: batches whose records begin alike (the hashing starts after the
  // shared blocks), batches that change the context, and batches that mix two contexts.
  const lines = await page.evaluate(
    async ([attA, attB]) => {
      const { tillit } = window;
      const log = await tillit.AuditLog.open({ sink: 'memory' });
      const a = tillit.TrustContext.fromJSON(attA);
      const b = tillit.TrustContext.fromJSON(attB);
      for (let n = 1; n <= 9; n++) {
        await Promise.all(
          Array.from({ length: n }, (_, i) => {
            const trustContext = n % 3 === 0 ? b : n > 6 && i % 2 ? b : a;
            const kind =
              i % 4 === 3 ? { kind: 'read', documentId: `urn:oid:1.2.3.${i}` } : { kind: 'search' };
            return log.append({
              ...kind,
              trustContext,
              clientId: `c${n % 2}`,
              server: 'https://api.example',
              transactionId: `t-${n}-${'x'.repeat(i * 7)}`,
            });
          }),
        );
      }
      return log.export('ndjson').trim().split('\n');
    },
    [attestation(), attestation(syntheticFnr(7))],
  );
  assert.equal(lines.length, 46, 'the declaration and 45 look-ups');
  let prev = null;
  for (const line of lines) {
    const { hash, ...rest } = JSON.parse(line);
    // The record's canonical form without `hash`: the line with that one member taken out.
    const hashed = line.replace(`,"hash":"${hash}"`, '');
    assert.deepEqual(JSON.parse(hashed), rest);
    assert.equal(createHash('sha256').update(hashed).digest('hex'), hash);
    if (prev !== null) assert.equal(rest.prev, prev);
    prev = hash;
  }
});

// Issue 17 in Chromium with the IndexedDB sink: the attacker edits the database directly and
// re-chains with the page's own SHA-256 (JSON.stringify of records in member order is their
// RFC 8785 form: the records hold only strings, integers and objects).
const attacker = `
  window.idb = (name) => new Promise((res, rej) => { const r = indexedDB.open('tillit-audit-' + name, 1); r.onsuccess = () => res(r.result); r.onerror = rej; });
  window.idbAll = async (name) => { const db = await window.idb(name); return new Promise((res) => { const t = db.transaction('records'); const q = t.objectStore('records').getAll(); t.oncomplete = () => { db.close(); res(q.result); }; }); };
  window.idbPut = async (name, lines) => { const db = await window.idb(name); await new Promise((res) => { const t = db.transaction('records', 'readwrite'); const s = t.objectStore('records'); s.clear(); lines.forEach((l, i) => s.put(l, i)); t.oncomplete = res; }); db.close(); };
  window.idbDropFrom = async (name, seq) => { const db = await window.idb(name); await new Promise((res) => { const t = db.transaction('records', 'readwrite'); t.objectStore('records').delete(IDBKeyRange.lowerBound(seq)); t.oncomplete = res; }); db.close(); };
  window.rechain = async (lines) => {
    let prev = '0'.repeat(64);
    const out = [];
    for (let seq = 0; seq < lines.length; seq++) {
      const r = JSON.parse(lines[seq]);
      const rest = { body: r.body, kind: r.kind, prev, seq };
      const d = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(JSON.stringify(rest))));
      const hash = [...d].map((b) => b.toString(16).padStart(2, '0')).join('');
      out.push(JSON.stringify({ body: r.body, hash, kind: r.kind, prev, seq }));
      prev = hash;
    }
    return out;
  };`;

test('IndexedDB: stripped checkpoints fail verify and open (nothing written); a truncated tail shows against an anchor; a lost tail stops the log', async () => {
  const page = await tab();
  await page.evaluate(attacker);
  const r = await page.evaluate(async (att) => {
    const { tillit } = window;
    const trustContext = tillit.TrustContext.fromJSON(att);
    const checkpointKey = await tillit.generateKey({ alg: 'ES256' });
    const e = { kind: 'search', trustContext, clientId: 'c', server: 'https://api.example' };
    const log = await tillit.AuditLog.open({
      sink: 'indexeddb',
      name: 'attack',
      checkpointKey,
      checkpointEvery: 3,
    });
    for (let i = 0; i < 8; i++) await log.append({ ...e, transactionId: `t${i}` });
    // head() is issue 17's: optional, so that the attacks also run on a build without it.
    const anchor = log.head?.();
    await log.close();
    const out = { anchorSeq: anchor?.seq, hasCheckpoint: !!anchor?.checkpoint };
    const good = await window.idbAll('attack');
    out.kinds = good.map((l) => JSON.parse(l).kind).join(',');
    out.good = await tillit.verifyLines(good, checkpointKey.publicJwk);
    // Attack 1: strip every checkpoint and re-chain.
    const stripped = await window.rechain(good.filter((l) => JSON.parse(l).kind !== 'checkpoint'));
    await window.idbPut('attack', stripped);
    out.stripped = await tillit.verifyLines(await window.idbAll('attack'), checkpointKey.publicJwk);
    // Attack 2: reopening it with the key refuses and writes nothing.
    out.reopen = await tillit.AuditLog.open({
      sink: 'indexeddb',
      name: 'attack',
      checkpointKey,
    }).then(
      () => 'opened',
      (x) => [x.constructor.name, x.problem, x.index],
    );
    out.untouched = JSON.stringify(await window.idbAll('attack')) === JSON.stringify(stripped);
    // Strip the last checkpoint only / one checkpoint in the middle.
    await window.idbPut('attack', good);
    out.noLast = await tillit.verifyLines(good.slice(0, -1), checkpointKey.publicJwk);
    out.noMiddle = await tillit.verifyLines(
      await window.rechain(good.filter((_, i) => i !== 4)),
      checkpointKey.publicJwk,
    );
    // Truncated after an anchor was taken.
    // Two records before the anchored one (record 10, as asserted below).
    await window.idbDropFrom('attack', (anchor?.seq ?? 10) - 2);
    const again = await tillit.AuditLog.open({ sink: 'indexeddb', name: 'attack', checkpointKey });
    out.truncated = await again.verify({ anchor });
    // Attack 3: the store loses the live log's last records: the next look-up is refused.
    for (let i = 0; i < 4; i++) await again.append({ ...e, transactionId: `u${i}` });
    await window.idbDropFrom('attack', again.length - 3);
    out.lost = await again.append({ ...e, transactionId: 'lost' }).then(
      () => 'stored',
      (x) => [x.constructor.name, x.problem.split(':')[0]],
    );
    out.after = await again.append({ ...e, transactionId: 'after' }).then(
      () => 'stored',
      (x) => x.constructor.name,
    );
    // Attack 4: an entry may not bring its own id.
    out.ownId = await again.append({ ...e, transactionId: 'id', id: 'x' }).then(
      () => 'stored',
      (x) => x.path,
    );
    return out;
  }, attestation());
  assert.deepEqual(
    [r.stripped.ok, r.stripped.firstBadIndex, r.stripped.problem?.split(':')[0]],
    [false, 4, 'CHECKPOINT_MISSING'],
  );
  assert.equal(r.reopen[0], 'AuditIntegrityError');
  assert.match(r.reopen[1], /CHECKPOINT_MISSING/);
  assert.equal(r.reopen[2], 4);
  assert.ok(r.untouched, 'the refused log is untouched');
  assert.deepEqual([r.noLast.ok, r.noLast.unsignedTail], [true, 2]);
  assert.deepEqual(
    [r.noMiddle.ok, r.noMiddle.firstBadIndex, r.noMiddle.problem.split(':')[0]],
    [false, 4, 'CHECKPOINT_MISSING'],
  );
  assert.deepEqual(
    [r.truncated.ok, r.truncated.firstBadIndex, r.truncated.problem.split(':')[0]],
    [false, 8, 'TRUNCATED'],
  );
  assert.deepEqual(r.lost, ['AuditIntegrityError', 'SINK_DIVERGED']);
  assert.equal(r.after, 'AuditIntegrityError');
  assert.equal(r.ownId, 'event.id');
  assert.equal(
    r.kinds,
    'declaration,event,event,event,checkpoint,event,event,event,checkpoint,event,event,checkpoint',
  );
  assert.equal(r.anchorSeq, 10);
  assert.ok(r.hasCheckpoint);
  assert.deepEqual([r.good.ok, r.good.signed, r.good.unsignedTail], [true, true, 0]);
});

test('IndexedDB: a golden format-0 log is refused unless accepted, then read and continued with its key', async () => {
  const page = await tab();
  await page.evaluate(attacker);
  const golden = readFileSync(
    new URL('../fixtures/golden-v0-signed.ndjson', import.meta.url),
    'utf8',
  )
    .trim()
    .split('\n');
  const priv = JSON.parse(
    readFileSync(new URL('../fixtures/golden-v0-key.private.jwk.json', import.meta.url), 'utf8'),
  );
  const pub = JSON.parse(
    readFileSync(new URL('../fixtures/golden-v0-key.public.jwk.json', import.meta.url), 'utf8'),
  );
  const r = await page.evaluate(
    async ({ golden, priv, pub, att }) => {
      const { tillit } = window;
      const checkpointKey = await tillit.importPrivateKey(priv, { alg: 'ES256' });
      // Create the store through the log, then put the old records in place.
      await (await tillit.AuditLog.open({ sink: 'indexeddb', name: 'golden' })).close();
      await window.idbPut('golden', golden);
      const out = {};
      out.refused = await tillit.AuditLog.open({
        sink: 'indexeddb',
        name: 'golden',
        checkpointKey,
      }).then(
        () => 'opened',
        (x) => x.problem,
      );
      const log = await tillit.AuditLog.open({
        sink: 'indexeddb',
        name: 'golden',
        checkpointKey,
        checkpointEvery: 4,
        acceptLegacy: true,
      });
      out.oldLookUps = log.query().length;
      const trustContext = tillit.TrustContext.fromJSON(att);
      for (let i = 0; i < 5; i++)
        await log.append({
          kind: 'search',
          trustContext,
          clientId: 'c',
          server: 'https://api.example',
          transactionId: `n${i}`,
        });
      await log.close();
      const lines = await window.idbAll('golden');
      out.keptOld = JSON.stringify(lines.slice(0, golden.length)) === JSON.stringify(golden);
      out.v = await tillit.verifyLines(lines, { publicJwk: pub, acceptLegacy: true });
      return out;
    },
    { golden, priv, pub, att: attestation() },
  );
  assert.match(r.refused, /FORMAT/);
  assert.equal(r.oldLookUps, 10);
  assert.ok(r.keptOld);
  assert.deepEqual(
    [r.v.ok, r.v.format, r.v.signed, r.v.unsignedTail, r.v.entries],
    [true, 1, true, 0, 23 + 1 + 5 + 2],
  );
});

test('IndexedDB: two tabs writing one keyed log keep its checkpoints where the declaration says', async () => {
  const priv = JSON.parse(
    readFileSync(new URL('../fixtures/golden-v0-key.private.jwk.json', import.meta.url), 'utf8'),
  );
  const pub = JSON.parse(
    readFileSync(new URL('../fixtures/golden-v0-key.public.jwk.json', import.meta.url), 'utf8'),
  );
  const [a, b] = [await tab(), await tab()];
  const write = (page, who) =>
    page.evaluate(
      async ({ who, priv, att }) => {
        const { tillit } = window;
        const checkpointKey = await tillit.importPrivateKey(priv, { alg: 'ES256' });
        const log = await tillit.AuditLog.open({
          sink: 'indexeddb',
          name: 'keyed-shared',
          checkpointKey,
          checkpointEvery: 5,
        });
        const trustContext = tillit.TrustContext.fromJSON(att);
        const done = [];
        for (let i = 0; i < 30; i++) {
          done.push(
            log.append({
              kind: 'search',
              trustContext,
              clientId: who,
              server: 'https://api.example',
              transactionId: `${who}-${i}`,
            }),
          );
          if (i % 4 === 0) await new Promise((r) => setTimeout(r, 0));
        }
        await Promise.all(done);
        await log.close();
      },
      { who, priv, att: attestation() },
    );
  await Promise.all([write(a, 'tab-a'), write(b, 'tab-b')]);
  // Verified in the page with the public key alone, as a reviewer would.
  const v = await a.evaluate(async (pub) => {
    const db = await new Promise((res) => {
      const r = indexedDB.open('tillit-audit-keyed-shared', 1);
      r.onsuccess = () => res(r.result);
    });
    const lines = await new Promise((res) => {
      const t = db.transaction('records');
      const q = t.objectStore('records').getAll();
      t.oncomplete = () => res(q.result);
    });
    db.close();
    return window.tillit.verifyLines(lines, pub);
  }, pub);
  assert.deepEqual(
    [v.ok, v.signed, v.unsignedTail, v.entries - v.checkpoints],
    [true, true, 0, 61],
    JSON.stringify(v),
  );
  assert.ok(v.checkpoints >= 12, `${v.checkpoints} checkpoints`);
  assert.equal(v.checkpointKey.alg, 'ES256');
});

test('IndexedDB: a checkpoint or a whole log re-signed with another key, and an extra checkpoint, are caught', async () => {
  const page = await tab();
  await page.evaluate(attacker);
  const r = await page.evaluate(async (att) => {
    const { tillit, jose } = window;
    const trustContext = tillit.TrustContext.fromJSON(att);
    const e = { kind: 'search', trustContext, clientId: 'c', server: 'https://api.example' };
    const checkpointKey = await tillit.generateKey({ alg: 'ES256' });
    const log = await tillit.AuditLog.open({
      sink: 'indexeddb',
      name: 'resign',
      checkpointKey,
      checkpointEvery: 3,
    });
    for (let i = 0; i < 8; i++) await log.append({ ...e, transactionId: `t${i}` });
    await log.close();
    const good = await window.idbAll('resign');
    const out = { cps: good.flatMap((l, i) => (JSON.parse(l).kind === 'checkpoint' ? [i] : [])) };
    // The second checkpoint's claims signed again with the attacker's key (jose, WebCrypto).
    const { privateKey } = await jose.generateKeyPair('ES256');
    const resigned = good.map((l) => JSON.parse(l));
    const cp = resigned[out.cps[1]];
    const claims = JSON.parse(
      new TextDecoder().decode(jose.base64url.decode(cp.body.jws.split('.')[1])),
    );
    cp.body.jws = await new jose.CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
      .setProtectedHeader({ alg: 'ES256', typ: 'tillit-checkpoint+jwt' })
      .sign(privateKey);
    await window.idbPut('resign', await window.rechain(resigned.map((r) => JSON.stringify(r))));
    out.resigned = await tillit.verifyLines(await window.idbAll('resign'), checkpointKey.publicJwk);
    const before = JSON.stringify(await window.idbAll('resign'));
    out.reopen = await tillit.AuditLog.open({
      sink: 'indexeddb',
      name: 'resign',
      checkpointKey,
    }).then(
      () => 'opened',
      (x) => [x.constructor.name, x.problem.split(':')[0], x.index],
    );
    out.untouched = JSON.stringify(await window.idbAll('resign')) === before;
    // An extra checkpoint: a copy of the first, re-chained.
    await window.idbPut(
      'resign',
      await window.rechain([
        ...good.slice(0, out.cps[0] + 1),
        good[out.cps[0]],
        ...good.slice(out.cps[0] + 1),
      ]),
    );
    out.extra = await tillit.verifyLines(await window.idbAll('resign'), checkpointKey.publicJwk);
    // A whole log written by the attacker with its own key, in place of the real one.
    const forger = await tillit.generateKey({ alg: 'ES256' });
    const f = await tillit.AuditLog.open({
      sink: 'indexeddb',
      name: 'forged',
      checkpointKey: forger,
      checkpointEvery: 3,
    });
    for (let i = 0; i < 4; i++) await f.append({ ...e, transactionId: `f${i}` });
    await f.close();
    out.forged = await tillit.verifyLines(await window.idbAll('forged'), checkpointKey.publicJwk);
    out.forgedOpen = await tillit.AuditLog.open({
      sink: 'indexeddb',
      name: 'forged',
      checkpointKey,
    }).then(
      () => 'opened',
      (x) => [x.constructor.name, x.problem.split(':')[0]],
    );
    return out;
  }, attestation());
  const at = (v) => [v.ok, v.firstBadIndex, v.problem?.split(':')[0]];
  assert.deepEqual(at(r.resigned), [false, r.cps[1], 'CHECKPOINT_INVALID']);
  assert.deepEqual(r.reopen, ['AuditIntegrityError', 'CHECKPOINT_INVALID', r.cps[1]]);
  assert.ok(r.untouched, 'nothing written, nothing signed');
  assert.deepEqual(at(r.extra), [false, r.cps[0] + 1, 'CHECKPOINT_EXTRA']);
  assert.deepEqual(at(r.forged), [false, 0, 'KEY_MISMATCH']);
  assert.deepEqual(r.forgedOpen, ['AuditIntegrityError', 'KEY_MISMATCH']);
});

test('IndexedDB: ids belong to the log; a rewritten log reusing an earlier id hides no look-up', async () => {
  const page = await tab();
  await page.evaluate(attacker);
  const r = await page.evaluate(
    async ([attA, attB, patient, victim]) => {
      const { tillit } = window;
      const e = { clientId: 'c', server: 'https://api.example' };
      const mine = tillit.TrustContext.fromJSON(attA);
      const other = tillit.TrustContext.fromJSON(attB);
      const log = await tillit.AuditLog.open({ sink: 'indexeddb', name: 'ids' });
      const first = await log.append({
        ...e,
        trustContext: mine,
        kind: 'read',
        transactionId: 'x1',
        documentId: 'd1',
      });
      const out = {};
      out.reuse = await log
        .append({
          ...e,
          trustContext: other,
          id: first.id,
          kind: 'read',
          transactionId: 'x2',
          documentId: 'd2',
        })
        .then(
          () => 'stored',
          (x) => [x.constructor.name, x.path],
        );
      await log.complete(first.id, { outcome: 'success' });
      out.twice = await log.complete(first.id, { outcome: 'failure' }).then(
        () => 'stored',
        (x) => x.path,
      );
      const second = await log.append({
        ...e,
        trustContext: mine,
        kind: 'search',
        transactionId: 'x3',
      });
      const victimLook = await log.append({
        ...e,
        trustContext: other,
        kind: 'read',
        transactionId: 'y',
        documentId: 'd2',
      });
      await log.close();
      // The attacker (no key on this log) rewrites the store: a pending record reusing the
      // first look-up's id for the other patient, and a completion of the second naming them.
      const stored = (await window.idbAll('ids')).map((l) => JSON.parse(l));
      const foreign = stored.find((r) => r.body.id === victimLook.id);
      const pendingReuse = { ...foreign, body: { ...foreign.body, id: first.id } };
      // Members in RFC 8785 order (UTF-16 code units), as rechain's JSON.stringify needs them.
      const sorted = (v) =>
        Array.isArray(v)
          ? v.map(sorted)
          : v && typeof v === 'object'
            ? Object.fromEntries(
                Object.keys(v)
                  .sort()
                  .map((k) => [k, sorted(v[k])]),
              )
            : v;
      const completionReuse = {
        ...foreign,
        body: sorted({ ...foreign.body, id: second.id, outcome: '0', outcomeDesc: 'success' }),
      };
      await window.idbPut(
        'ids',
        await window.rechain(
          [...stored, pendingReuse, completionReuse].map((x) => JSON.stringify(x)),
        ),
      );
      out.chain = (await tillit.verifyLines(await window.idbAll('ids'))).ok;
      const forged = await tillit.AuditLog.open({ sink: 'indexeddb', name: 'ids' });
      out.citizen = forged.citizenReport(patient).length;
      out.mine = forged.query({ patient }).length;
      out.theirs = forged.query({ patient: victim }).length;
      out.all = forged.query().length;
      await forged.close();
      return out;
    },
    [attestation(syntheticFnr(4)), attestation(syntheticFnr(7)), syntheticFnr(4), syntheticFnr(7)],
  );
  assert.deepEqual(r.reuse, ['AuditError', 'event.id']);
  assert.equal(r.twice, 'id');
  assert.equal(r.chain, true, 'an unsigned log can be rewritten: the readers must not be fooled');
  assert.deepEqual([r.citizen, r.mine, r.theirs, r.all], [2, 2, 3, 5]);
});

test('IndexedDB: opening a log of many reads verifies it 256 records at a time; the core does not grow with the log', async () => {
  const page = await chromium.context.newPage();
  page.on('pageerror', (e) => console.error('page error:', e.message));
  // The module's memory (which never shrinks), caught as it is instantiated.
  await page.addInitScript(() => {
    window.memories = [];
    const catchMemory = (r) => (window.memories.push((r.instance ?? r).exports.memory), r);
    for (const f of ['instantiate', 'instantiateStreaming']) {
      const orig = WebAssembly[f];
      WebAssembly[f] = (...a) => orig.apply(WebAssembly, a).then(catchMemory);
    }
  });
  await page.goto(`${chromium.server.url}/tests/browser/keys.html`);
  await page.waitForFunction(() => window.ready === true);
  await page.evaluate(attacker);
  const r = await page.evaluate(async (att) => {
    const { tillit } = window;
    const trustContext = tillit.TrustContext.fromJSON(att);
    const checkpointKey = await tillit.generateKey({ alg: 'ES256' });
    const log = await tillit.AuditLog.open({
      sink: 'indexeddb',
      name: 'big',
      checkpointKey,
      checkpointEvery: 100,
    });
    for (let round = 0; round < 12; round++) {
      await Promise.all(
        Array.from({ length: 256 }, (_, i) =>
          log.append({
            kind: 'search',
            trustContext,
            clientId: 'c',
            server: 'https://api.example',
            transactionId: `t${round}-${i}`,
          }),
        ),
      );
    }
    await log.close();
    const memory = window.memories[0];
    const out = { modules: window.memories.length, before: memory.buffer.byteLength };
    const again = await tillit.AuditLog.open({ sink: 'indexeddb', name: 'big', checkpointKey });
    out.grown = memory.buffer.byteLength - out.before;
    out.opened = { ...again.opened };
    const lines = await window.idbAll('big');
    out.records = lines.length;
    out.chars = lines.reduce((n, l) => n + l.length, 0);
    out.longest = Math.max(...lines.map((l) => l.length));
    out.head = again.head?.();
    out.v = await again.verify({ anchor: out.head });
    await again.close();
    return out;
  }, attestation());
  assert.equal(r.modules, 1);
  assert.ok(
    r.before < r.chars,
    `the module (${r.before} bytes) is smaller than the log (${r.chars} characters)`,
  );
  assert.ok(
    r.grown <= 2 * 1024 * 1024,
    `the core's memory grew by ${r.grown} bytes opening a log of ${r.chars} characters`,
  );
  assert.deepEqual(
    [r.opened.records, r.opened.bytes, r.opened.reads],
    [r.records, 0, Math.ceil(r.records / 256)],
  );
  assert.ok(r.opened.peakBufferedBytes <= 256 * r.longest, String(r.opened.peakBufferedBytes));
  assert.equal(r.head.seq, r.records - 1);
  assert.equal(r.head.checkpoint.seq, r.records - 1, 'the closing checkpoint');
  assert.deepEqual([r.v.ok, r.v.signed], [true, true]);
});
