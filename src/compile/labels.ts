/**
 * A container's `dockward.rules` label as access rules for that container alone: the
 * clauses become rules whose selector is the container itself, so a label can never
 * widen access for another container. A label inherited unchanged from the image is the
 * image author's word, not the operator's, and counts only with `trustImageLabels`. A
 * label that does not parse is ignored for its container, with a note; it never fails
 * the compile for the others.
 */
import type { Container, Inventory } from '../inventory/types.js';
import { quote } from '../policy/issues.js';
import { parseRulesLabel, RULES_LABEL } from '../policy/labels.js';
import type { AccessRule, Policy } from '../policy/types.js';

export interface LabelRules {
  readonly rules: readonly AccessRule[];
  /** Why the label was ignored, for the log. */
  readonly problem?: string;
}

const NONE: LabelRules = { rules: [] };

function who(c: Container): string {
  return `container ${c.id.slice(0, 12)} (${quote(c.name)})`;
}

export function labelRules(policy: Policy, c: Container): LabelRules {
  const labels = policy.labels;
  const text = labels && Object.hasOwn(c.labels, RULES_LABEL) ? c.labels[RULES_LABEL] : undefined;
  if (!labels || text === undefined) return NONE;
  if (!labels.trustImageLabels && c.imageLabels?.[RULES_LABEL] === text) {
    return { rules: [], problem: `${who(c)}: ${RULES_LABEL} label inherited from its image; ignored (policy labels.trustImageLabels is false)` };
  }
  const parsed = parseRulesLabel(text, labels.zones);
  if (!parsed.ok) return { rules: [], problem: `${who(c)}: ${RULES_LABEL} label ignored: ${parsed.error}` };
  const rules = parsed.value.map((clause, index): AccessRule => ({
    index, place: `label[${index}]`, ports: clause.ports, from: clause.from, action: clause.action,
  }));
  return { rules };
}

/** Every container's label problem, once each. */
export function labelNotes(policy: Policy, inventory: Inventory): string[] {
  if (!policy.labels) return [];
  return inventory.containers.flatMap((c) => labelRules(policy, c).problem ?? []);
}
