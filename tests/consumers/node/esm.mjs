import * as tillit from 'tillit';
import { smoke } from './smoke.mjs';

console.log(`✓ Node ESM: ${await smoke(tillit)}`);
