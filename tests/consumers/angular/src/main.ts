// Angular with zone.js (the default): no top-level await anywhere, so tillit/init, loaded
// before the app starts; the .wasm is an asset (angular.json).
import { Component, provideAppInitializer } from '@angular/core';
import { bootstrapApplication } from '@angular/platform-browser';
import * as tillit from 'tillit/init';
import { smoke } from '../smoke.mjs';

@Component({ selector: 'app-root', template: '<p>tillit {{ version }}</p>' })
class App {
  version = tillit.coreVersion;
}

const report = window as unknown as { smoke: { ok: boolean; summary?: string; error?: string } };
bootstrapApplication(App, {
  providers: [provideAppInitializer(() => tillit.init({ wasm: '/tillit_core_bg.wasm' }))],
})
  .then(() => smoke(tillit))
  .then(
    (summary) =>
      (report.smoke = {
        ok: true,
        summary: `Angular with zone.js (${typeof (window as unknown as { Zone?: unknown }).Zone}): ${summary}`,
      }),
    (e: unknown) => (report.smoke = { ok: false, error: String((e as Error)?.stack ?? e) }),
  );
