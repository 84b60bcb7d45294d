// A fetch for the client tests that records every request (path, status, and the headers the
// tests check) and adds the emulator's per-request fault header where `fault.when(path)` says.

/** Returns `{ f, calls }`: the fetch to give the client, and the requests it saw. */
export function spyFetch(fault) {
  const calls = [];
  const f = async (url, init = {}) => {
    const headers = new Headers(init.headers);
    const path = new URL(url).pathname;
    if (fault && fault.when(path)) headers.set('x-emulator-fault', fault.mode);
    const res = await fetch(url, { ...init, headers });
    calls.push({
      path,
      status: res.status,
      auth: headers.get('authorization'),
      eventId: headers.get('nhn-event-id'),
      nin: headers.get('nhn-patient-nin'),
    });
    return res;
  };
  return { f, calls };
}
