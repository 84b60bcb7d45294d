// Compiled with `tsc --noEmit` against the built package: the published declarations must
// type a realistic integration without `any` leaking into the caller's code.
import {
  TrustContext,
  generateKey,
  createClientAssertion,
  createDpopProof,
  jwkThumbprint,
  importPrivateKey,
  TillitError,
  TrustContextError,
  type Key,
  type Signer,
  type AttestationJSON,
  type ErrorCode,
  Systems,
  UnsafeContentError,
  IncompleteDocumentError,
  type Client,
  type SearchPage,
  type SearchResult,
  type SearchStop,
  type RetrievedDocument,
} from 'tillit';

const att: AttestationJSON = {
  type: 'nhn:tillitsrammeverk:parameters',
  practitioner: {
    identifier: { id: '00000000000', system: Systems.fnr },
    legal_entity: { id: '974760673', system: Systems.orgnr },
    point_of_care: { id: '974760673', system: Systems.orgnr },
  },
  care_relationship: {
    purpose_of_use: { code: 'TREAT', system: Systems.purposeOfUse },
    decision_ref: { id: 'd', user_selected: false },
  },
  patients: [],
};

export async function integrate(): Promise<string> {
  const key: Key = await generateKey({ alg: 'ES256' });
  const kid: string = await jwkThumbprint(key);
  const ctx = TrustContext.fromJSON(att);
  const signer: Signer = { alg: 'PS256', kid, sign: async (d) => d };
  const a: string = await createClientAssertion({
    clientId: 'c',
    issuer: 'https://i',
    signer,
    trustContext: ctx,
  });
  const p: string = await createDpopProof({ key, method: 'GET', url: 'https://x' });
  await importPrivateKey('-----BEGIN PRIVATE KEY-----', { alg: 'RS256' });
  try {
    ctx.assertFresh();
  } catch (e) {
    if (e instanceof TrustContextError) {
      const code: ErrorCode = e.code;
      return code + e.path;
    }
    if (e instanceof TillitError) return e.rule;
  }
  return a + p;
}

/** Paging with a memory and retrieval refusals, as a UI would handle them. */
export async function browse(view: Client, patient: string): Promise<number> {
  const shown = new Map<string, SearchPage['entries'][number]>();
  let stop: SearchStop | null = null;
  for await (const page of view.searchDocumentPages({ patient, pageSize: 50, maxPages: 10 })) {
    for (const e of page.entries) shown.set(e.id, e);
    for (const r of page.retracted) shown.delete(r.id);
    stop = page.stop;
  }
  const all: SearchResult = await view.searchDocuments({ patient, maxPages: 5 });
  const first = [...shown.values()][0];
  try {
    const d: RetrievedDocument = await view.getDocument(first);
    return d.bytes.length + all.entries.length + (stop ? 1 : 0);
  } catch (e) {
    if (e instanceof UnsafeContentError || e instanceof IncompleteDocumentError) {
      const code: ErrorCode = e.code;
      return code.length;
    }
    throw e;
  }
}

// Every option bag has a named interface; discover() and limits() return named types.
import {
  limits,
  type Limits,
  type Discovery,
  type AccessTokenOptions,
  type ExchangeTokenOptions,
  type LoginOptions,
  type RequestOptions,
  type ReportOptions,
  type ImportKeyOptions,
} from 'tillit';

export async function named(
  client: Client,
  log: AuditLog,
  entry: Record<string, unknown>,
): Promise<number> {
  const l: Limits = limits();
  const d: Discovery = await client.discover();
  const at: AccessTokenOptions = { resource: 'nhn:kjernejournal', scope: 'nhn:kjernejournal/api' };
  const ex: ExchangeTokenOptions = { scope: 'nhn:phr/mhd/read-document' };
  const login: LoginOptions = { redirectUri: 'https://ehr.example/' };
  const req: RequestOptions = {};
  const rep: ReportOptions = { volumeThreshold: l.maxRetries };
  const imp: ImportKeyOptions = { alg: 'ES256' };
  await client.accessToken(at);
  await client.exchangeToken(ex);
  await client.login(login);
  await client.getDocument(entry, req);
  log.report(rep);
  return d.token_endpoint.length + imp.alg.length + l.defaultTimeoutMs;
}

// The access log shipped to the organisation's collector: options, status, event and errors.
import {
  AuditLog,
  AuditForkError,
  ShippingError,
  type ShipOptions,
  type ShippingStatus,
  type ShippingEvent,
} from 'tillit';
export async function shipped(view: Client, dpopKey: Key): Promise<number> {
  const ship: ShipOptions = {
    url: 'https://audit.example.org',
    token: async () =>
      (
        await view.accessToken({
          resource: 'tillit:collector',
          scope: 'tillit:collector/audit.write',
        })
      ).accessToken,
    dpopKey,
    batch: 500,
    intervalMs: 1000,
  };
  const log = await AuditLog.open({ sink: 'indexeddb', name: 'ehr', ship });
  log.addEventListener('shipping', (e: ShippingEvent) => {
    const s: ShippingStatus = e.detail;
    if (s.state === 'stopped' && s.error instanceof AuditForkError) void s.error.seq;
  });
  try {
    await log.flush({ timeoutMs: 5000 });
  } catch (e) {
    if (e instanceof ShippingError) return e.reason.length;
  }
  const anchor = log.shipping?.acknowledged;
  const v = await log.verify(
    anchor ? { anchor, prunedTo: log.shipping?.prunedTo ?? undefined } : {},
  );
  return (log.shipping?.queued ?? 0) + (log.shipping?.oldestUnshippedAgeMs ?? 0) + v.entries;
}
