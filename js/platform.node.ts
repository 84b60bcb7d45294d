/**
 * Registers Node's modules for the Node-only parts (see platform.ts); imported by the Node
 * entries only.
 * @module
 */
import * as fs from 'node:fs/promises';
import * as crypto from 'node:crypto';
import { platform } from './platform.js';

platform.fs = fs;
platform.crypto = crypto;
