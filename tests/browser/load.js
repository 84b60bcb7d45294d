// Loads the core through tillit/init from the source named in ?wasm= (default: the package's
// own copy) and reports what happened in window.result.
const tillit = await import('/pkg/dist/init.js');
const wasm = new URLSearchParams(location.search).get('wasm');
try {
  await tillit.init(wasm ? { wasm } : {});
  window.result = { ok: true, coreVersion: tillit.coreVersion };
} catch (e) {
  window.result = {
    ok: false,
    name: e.name,
    code: e.code,
    path: e.path,
    rule: e.rule,
    typed: e instanceof tillit.WasmLoadError && e instanceof tillit.TillitError,
  };
}
