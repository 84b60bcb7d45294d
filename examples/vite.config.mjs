// Builds the example pages (EHR, citizen, log control); `tillit` is imported as a package (examples/node_modules/tillit → pkg/).
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
export default {
  root: here,
  logLevel: 'warn',
  build: {
    target: 'es2022',
    outDir: resolve(here, 'dist'),
    emptyOutDir: true,
    rollupOptions: { input: { ehr: resolve(here, 'ehr/index.html'), citizen: resolve(here, 'citizen/index.html'), logcontrol: resolve(here, 'logcontrol/index.html') } },
  },
};
