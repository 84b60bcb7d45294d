// Child process for the crash test: appends entries to an NDJSON log as fast as it can and
// prints each acknowledged sequence number; the parent kills it with SIGKILL mid-write.
import { AuditLog, TrustContext } from 'tillit';
import { attestation } from './fixtures.mjs';

const log = await AuditLog.open({ sink: { file: process.argv[2] } });
const trustContext = TrustContext.fromJSON(attestation());
for (let i = 0; ; i++) {
  const batch = Array.from({ length: 8 }, (_, j) =>
    log.append({
      kind: 'search',
      trustContext,
      clientId: 'crash-test',
      server: 'https://api.example',
      transactionId: `tx-${i}-${j}`,
    }),
  );
  for (const r of await Promise.all(batch)) process.stdout.write(`${r.id}\n`);
}
