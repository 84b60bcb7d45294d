// The Node integration-service example, run as a user would run it, against the emulator.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { EMULATOR_BIN } from '../support/emulator.mjs';
import { spawn } from 'node:child_process';
import { verifyLines } from 'tillit';
import { startCollector } from '../../examples/organisation.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

test("examples/node-service fetches a referral patient's documents and one document, with its NDJSON log shipped to the collector", async () => {
  // The emulator with its default config (the demo client).
  const child = spawn(EMULATOR_BIN, ['--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise((resolve) =>
    child.stdout.on('data', (d) => {
      const m = /(http:\/\/\S+)/.exec(String(d));
      if (m) resolve(m[1]);
    }),
  );
  let collector;
  try {
    collector = await startCollector(url);
    const patients = await (await fetch(`${url}/_emulator/patients`)).json();
    const patient = patients[2];
    const log = join(mkdtempSync(join(tmpdir(), 'svc-')), 'access.ndjson');
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        join(ROOT, 'examples/node-service/service.mjs'),
        '--issuer',
        url,
        '--patient',
        patient,
        '--log',
        log,
        '--collector',
        collector.url,
      ],
      { cwd: join(ROOT, 'examples') },
    );
    const s = JSON.parse(stdout);
    assert.ok(s.documentsFound > 0);
    assert.equal(s.firstDocument.type, 'application/pdf');
    assert.equal(s.chainVerified, true);
    const lines = readFileSync(log, 'utf8').trim().split('\n');
    assert.equal(lines.length, s.logEntries);
    assert.equal((await verifyLines(lines)).ok, true);
    assert.ok(!readFileSync(log, 'utf8').includes('eyJ'), 'no token in the log');
    // The collector verified and holds every record: its head is the log's last record.
    const last = JSON.parse(lines.at(-1));
    assert.deepEqual(s.shippedTo.acknowledged, { seq: last.seq, hash: last.hash });
  } finally {
    await collector?.stop();
    child.kill('SIGTERM');
  }
});
