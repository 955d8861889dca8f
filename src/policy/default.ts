/**
 * The policy in force when no file exists at the default path: Docker's own behaviour,
 * every published port open to every source.
 */
import type { Policy } from './types.js';

export const BUILTIN_DEFAULT: Policy = Object.freeze({
  version: 1,
  defaults: Object.freeze({ published: 'allow' }),
  rules: Object.freeze([]),
  origin: 'built-in default',
});
