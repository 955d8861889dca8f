/** The packet tracer: (ruleset, packet, host) → verdict and the rules matched on the way. Pure. */
export { trace } from './trace.js';
export { checkJumps, type BadJump } from './jumps.js';
export { ifaceMatches } from './match.js';
export { inCidr, isLocal, familyOfAddress } from './addresses.js';
export { FROM_HOST, TraceError, type HostView, type Packet, type Step, type Trace, type Verdict } from './types.js';
