// Child process for the full-disk test: run under a file-size limit (ulimit -f, SIGXFSZ
// ignored), it appends batches of five entries to an NDJSON log until the limit refuses them,
// printing `ok <id>` for each acknowledged entry and `refused <code>` for each refused one.
import { AuditLog, TrustContext } from 'tillit';
import { attestation } from './fixtures.mjs';

const log = await AuditLog.open({ sink: { file: process.argv[2] } });
const trustContext = TrustContext.fromJSON(attestation());
for (let i = 0; i < 8; i++) {
  const batch = Array.from({ length: 5 }, (_, j) =>
    log.append({
      kind: 'search',
      trustContext,
      clientId: 'full-disk',
      server: 'https://api.example',
      transactionId: `tx-${i}-${j}`,
    }),
  );
  for (const r of await Promise.allSettled(batch)) {
    process.stdout.write(
      r.status === 'fulfilled' ? `ok ${r.value.id}\n` : `refused ${r.reason.code}\n`,
    );
  }
}
await log.close();
