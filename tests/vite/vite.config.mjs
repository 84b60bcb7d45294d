export default {
  logLevel: 'warn',
  build: { target: 'es2022', outDir: '../../target/vite-check', emptyOutDir: true },
};
