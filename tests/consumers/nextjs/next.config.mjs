// The server leaves tillit to Node (it reads its core from node_modules) instead of bundling it.
export default { serverExternalPackages: ['tillit'] };
