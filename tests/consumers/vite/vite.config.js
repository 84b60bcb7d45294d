// The dev server pre-bundles dependencies into node_modules/.vite, away from the .wasm next to
// tillit's entry: tillit is served as it is instead. Builds need nothing.
export default { optimizeDeps: { exclude: ['tillit'] } };
