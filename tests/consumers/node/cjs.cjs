// CommonJS: require() of the ES module entry (Node ≥ 20.19), which loads the core without
// top-level await.
const tillit = require('tillit');

import('./smoke.mjs')
  .then(({ smoke }) => smoke(tillit))
  .then((summary) => console.log(`✓ Node CommonJS: ${summary}`));
