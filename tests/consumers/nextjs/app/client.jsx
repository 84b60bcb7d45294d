'use client';
// A client component: tillit/init, loaded in an effect (never during server rendering).
import { useEffect, useState } from 'react';
import * as tillit from 'tillit/init';
import { smoke } from '../smoke.mjs';

export default function Client() {
  const [summary, setSummary] = useState('loading');
  useEffect(() => {
    tillit
      .init()
      .then(() => smoke(tillit))
      .then(
        (s) => {
          setSummary(s);
          const server = document.getElementById('server')?.textContent ?? '';
          window.smoke = server.includes('verified') ? { ok: true, summary: `server: ${server}; client: ${s}` } : { ok: false, error: `no server smoke: ${server}` };
        },
        (e) => (window.smoke = { ok: false, error: String(e?.stack ?? e) }),
      );
  }, []);
  return <p id="client">{summary}</p>;
}
