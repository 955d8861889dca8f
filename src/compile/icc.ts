/**
 * ICC per network: Docker's enable_icc option, unless the policy's `networks:` overrides
 * it (an exact name first, then the first glob in the file that matches).
 */
import { globMatch } from '../policy/selector.js';
import type { Policy } from '../policy/types.js';
import type { Bridge } from './model.js';

export function iccOf(bridge: Bridge, policy: Policy): boolean {
  const override = policy.networks?.find((o) => globMatch(o.pattern, bridge.name));
  return override === undefined ? bridge.icc : override.icc === 'allow';
}
