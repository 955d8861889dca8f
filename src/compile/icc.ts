/**
 * ICC per network: Docker's enable_icc option, unless the policy's `networks:` overrides
 * it (an exact name first, then the first glob in the file that matches).
 */
import { globMatch } from '../policy/selector.js';
import type { Policy } from '../policy/types.js';
import type { Bridge, Model } from './model.js';

function iccOf(bridge: Bridge, policy: Policy): boolean {
  const override = policy.networks?.find((o) => globMatch(o.pattern, bridge.name));
  return override === undefined ? bridge.icc : override.icc === 'allow';
}

export function withPolicyIcc(model: Model, policy: Policy): Model {
  if (!policy.networks?.length) return model;
  const changed = new Map(model.bridges.map((b) => [b.id, { ...b, icc: iccOf(b, policy) }]));
  const rebound = <T extends { bridge: Bridge }>(x: T): T => ({ ...x, bridge: changed.get(x.bridge.id) ?? x.bridge });
  return { ...model, bridges: [...changed.values()], publications: model.publications.map(rebound), attachments: model.attachments.map(rebound) };
}
