// tillit/init in Node: with no argument it reads the package's own copy of the core.
import * as tillit from 'tillit/init';
import { smoke } from './smoke.mjs';

await tillit.init();
console.log(`✓ Node tillit/init: ${await smoke(tillit)}`);
