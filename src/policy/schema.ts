/**
 * The policy file, version 1, as a zod schema. Every map is strict (an unknown key is an error,
 * so a typo never silently widens access), and every leaf is checked and normalised by the
 * parsers in ports.ts, addresses.ts and selector.ts, whose messages become the issues.
 */
import { z } from 'zod';
import { parseCidr, parseInterfaceName } from './addresses.js';
import { type Checked, fail, ok, quote, unknownKeysMessage } from './issues.js';
import { parsePortSpec } from './ports.js';
import { parseComposeSelector, parseImageGlob, parseLabelSelector, parseNameGlob } from './selector.js';
import type { Selector } from './types.js';

export const ACTIONS = ['allow', 'deny', 'reject'] as const;

/** Rule and zone names end up in iptables comments, so they are restricted to a safe token. */
export const NAME_TOKEN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** One entry of a rule's `from`, before zones are expanded. */
export type SourceEntry =
  | { readonly kind: 'any' }
  | { readonly kind: 'zone'; readonly name: string }
  | { readonly kind: 'cidr'; readonly cidr: string; readonly label: string }
  | { readonly kind: 'network'; readonly name: string };

/**
 * Built per document: `zone:NAME` references are checked against the zone names the document
 * declares, so a single pass reports unknown zones together with every other problem.
 */
export function policyFileSchema(zoneNames: readonly string[]) {
  return strictMap({
    version: z.literal(1, { error: (iss) => (iss.input === undefined ? 'is required and must be 1' : undefined) }),
    zones: zones.default({}),
    defaults: strictMap({ published: defaultAction.default('allow'), outbound: defaultAction.optional() }).default({ published: 'allow' }),
    rules: z.array(rule(zoneNames)).default([]),
    networks: networks.optional(),
    connections: z.array(connection).optional(),
    egress: z.array(egressRule(zoneNames)).optional(),
    host: hostSection(zoneNames).optional(),
    labels: labelsSection.optional(),
  });
}

export type PolicyFile = z.output<ReturnType<typeof policyFileSchema>>;
export type ZoneFile = PolicyFile['zones'][string];
export type RuleFile = PolicyFile['rules'][number];
export type HostFile = NonNullable<PolicyFile['host']>;
export type EgressFile = NonNullable<PolicyFile['egress']>[number];
export type ConnectionFile = NonNullable<PolicyFile['connections']>[number];

/** A default: an action, or `{ action, log: true }` to log the packets it decides. */
const defaultAction = z.union([z.enum(ACTIONS), strictMap({ action: z.enum(ACTIONS), log: z.boolean().optional() })]);

/** A leaf whose check and normalisation is one of the policy parsers. */
function checked<I, T>(base: z.ZodType<I>, parse: (value: I) => Checked<T>) {
  return base.transform((value, ctx): T => {
    const result = parse(value);
    if (result.ok) return result.value;
    ctx.issues.push({ code: 'custom', message: result.error, input: value });
    return z.NEVER;
  });
}

/** A strict map whose unknown-key message names the key and what was probably meant. */
function strictMap<S extends z.core.$ZodLooseShape>(shape: S) {
  const known = Object.keys(shape);
  return z.strictObject(shape, {
    error: (iss) => (iss.code === 'unrecognized_keys' ? unknownKeysMessage(iss.keys, known) : undefined),
  });
}

/** Whole-map checks wait for a clean map: after an unknown key they would only repeat the problem. */
const noIssuesYet = (payload: z.core.ParsePayload) => payload.issues.length === 0;

const list = <T extends z.ZodType>(item: T) => z.array(item).min(1);

const NAME_RULE =
  'must be 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit (it is written into iptables comments)';

const safeName = (what: string) => (text: string) =>
  NAME_TOKEN.test(text) ? ok(text) : fail<string>(`${what} ${quote(text)} ${NAME_RULE}`);

/** ipset's own limit is 31 characters; DOCKWARD- names are dockward's own sets. */
const IPSET_NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,30}$/;

function parseIpsetName(text: string): Checked<string> {
  if (text.startsWith('DOCKWARD-')) return fail(`ipset ${quote(text)}: names starting with DOCKWARD- are dockward's own sets`);
  return IPSET_NAME.test(text) ? ok(text) : fail(`${quote(text)} is not an ipset name (1-31 letters, digits, ".", "_", ":" or "-")`);
}

const zone = strictMap({
  interfaces: list(checked(z.string(), parseInterfaceName)).optional(),
  sources: list(checked(z.string(), parseCidr)).optional(),
  /** A set kept by another tool (fail2ban, CrowdSec): its members are the zone's addresses. */
  ipset: checked(z.string(), parseIpsetName).optional(),
}).superRefine(
  (value, ctx) => {
    if (value.interfaces === undefined && value.sources === undefined && value.ipset === undefined) {
      ctx.issues.push({ code: 'custom', message: 'a zone needs interfaces, sources or both (or an ipset)', input: value });
    }
    if (value.sources !== undefined && value.ipset !== undefined) {
      ctx.issues.push({ code: 'custom', message: 'a zone takes its addresses from sources or from an ipset, not both', input: value });
    }
  },
  { when: noIssuesYet },
);

/** Zone names are checked beside the zones, not as record keys, so a bad name does not hide its zone's problems. */
const zones = z.record(z.string(), zone).superRefine(
  (value, ctx) => {
    for (const name of Object.keys(value)) {
      const checkedName = safeName('zone name')(name);
      if (!checkedName.ok) ctx.issues.push({ code: 'custom', message: checkedName.error, input: name, path: [name] });
    }
  },
  { when: (payload) => typeof payload.value === 'object' && payload.value !== null },
);

const selectorString = checked(z.string(), (text) =>
  mapChecked(parseNameGlob(text), (name): Selector => ({ name })),
);

const selectorMap = strictMap({
  name: checked(z.string(), parseNameGlob).optional(),
  label: checked(z.string(), parseLabelSelector).optional(),
  compose: checked(z.string(), parseComposeSelector).optional(),
  image: checked(z.string(), parseImageGlob).optional(),
}).superRefine(
  (selector, ctx) => {
    if (Object.keys(selector).length > 0) return;
    const message = 'a selector needs at least one of name, label, compose, image';
    ctx.issues.push({ code: 'custom', message, input: selector });
  },
  { when: noIssuesYet },
);

/** One selector, or a list of them (any may match). */
const containers = z.union([
  selectorString.transform((s) => [s]),
  selectorMap.transform((s) => [s]),
  list(z.union([selectorString, selectorMap])),
]);

const port = checked(z.unknown(), parsePortSpec);

function rule(zoneNames: readonly string[]) {
  return strictMap({
    name: checked(z.string(), safeName('rule name')).optional(),
    containers: containers.optional(),
    ports: list(port).optional(),
    containerPorts: list(port).optional(),
    from: list(checked(z.string(), (text) => parseSourceEntry(text, zoneNames))).optional(),
    action: z.enum(ACTIONS).default('allow'),
    log: z.boolean().optional(),
  });
}

/** Direct container-to-container paths: `from` and `to` are required, so no rule opens every path by omission. */
const connection = strictMap({
  name: checked(z.string(), safeName('rule name')).optional(),
  from: containers,
  to: containers,
  ports: list(port).optional(),
  action: z.enum(ACTIONS).default('allow'),
  log: z.boolean().optional(),
});

/** A network name, or a glob over names (`*`, `?`). */
const NETWORK_GLOB = /^[A-Za-z0-9*?][A-Za-z0-9_.*?-]{0,127}$/;

const networkOverride = strictMap({ icc: z.enum(['allow', 'deny']) });

/** Keys are checked beside the values, as zone names are, so a bad name does not hide other problems. */
const networks = z.record(z.string(), networkOverride).superRefine(
  (value, ctx) => {
    for (const name of Object.keys(value)) {
      if (NETWORK_GLOB.test(name)) continue;
      const message = `${quote(name)} is not a Docker network name or a glob over names ("*", "?")`;
      ctx.issues.push({ code: 'custom', message, input: name, path: [name] });
    }
  },
  { when: (payload) => typeof payload.value === 'object' && payload.value !== null },
);

/** Outbound rules: which containers, to which destinations (`to` omitted = anywhere), which ports. */
function egressRule(zoneNames: readonly string[]) {
  return strictMap({
    name: checked(z.string(), safeName('rule name')).optional(),
    containers: containers.optional(),
    to: list(checked(z.string(), (text) => parseDestinationEntry(text, zoneNames))).optional(),
    ports: list(port).optional(),
    action: z.enum(ACTIONS).default('allow'),
    log: z.boolean().optional(),
  });
}

/** "any", "zone:NAME", an address or a CIDR: a source entry without network:NAME, which names senders, not places. */
export function parseDestinationEntry(text: string, zoneNames: readonly string[]): Checked<SourceEntry> {
  if (text.startsWith('network:')) return fail(`${quote(text)}: a destination is "any", zone:NAME, an address or a CIDR`);
  return parseSourceEntry(text, zoneNames);
}

/** Traffic from the host itself to containers; allowed when no rule decides, as with Docker. */
const hostRule = strictMap({
  name: checked(z.string(), safeName('rule name')).optional(),
  containers: containers.optional(),
  ports: list(port).optional(),
  containerPorts: list(port).optional(),
  action: z.enum(ACTIONS).default('allow'),
  log: z.boolean().optional(),
});

/** Exclusive mode's rules for traffic to the host itself. */
function inputRule(zoneNames: readonly string[]) {
  return strictMap({
    name: checked(z.string(), safeName('rule name')).optional(),
    ports: list(port).optional(),
    from: list(checked(z.string(), (text) => parseSourceEntry(text, zoneNames))).optional(),
    action: z.enum(ACTIONS).default('allow'),
    log: z.boolean().optional(),
  });
}

function hostSection(zoneNames: readonly string[]) {
  return strictMap({
    toContainers: z.array(hostRule).optional(),
    manage: z.boolean().default(false),
    input: z.array(inputRule(zoneNames)).optional(),
    default: defaultAction.optional(),
  }).superRefine(
    (value, ctx) => {
      if (value.manage) return;
      // Without exclusive mode dockward does not touch INPUT: these keys would do nothing.
      if (value.input !== undefined) {
        ctx.issues.push({ code: 'custom', message: 'input rules need exclusive mode: add "manage: true"', input: value.input, path: ['input'] });
      }
      if (value.default !== undefined) {
        ctx.issues.push({ code: 'custom', message: 'the host\'s default applies in exclusive mode only: add "manage: true"', input: value.default, path: ['default'] });
      }
    },
    { when: noIssuesYet },
  );
}

/** Container labels as rules: off unless `enabled: true`. */
const labelsSection = strictMap({
  enabled: z.boolean().default(false),
  position: z.enum(['after', 'before']).default('after'),
  trustImageLabels: z.boolean().default(false),
});

/** Docker's own rule for network names. */
const NETWORK_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** "any", "zone:NAME", "network:NAME" (containers of that Docker network), an address or a CIDR. */
export function parseSourceEntry(text: string, zoneNames: readonly string[]): Checked<SourceEntry> {
  if (text === 'any') return ok({ kind: 'any' });
  if (text.startsWith('zone:')) return zoneReference(text.slice('zone:'.length), zoneNames);
  if (text.startsWith('network:')) {
    const name = text.slice('network:'.length);
    return NETWORK_NAME.test(name) ? ok({ kind: 'network', name }) : fail(`${quote(name)} is not a Docker network name`);
  }
  if (!/^[0-9A-Fa-f:./%]+$/.test(text)) {
    const hint = zoneNames.includes(text) ? `; did you mean "zone:${text}"?` : '';
    return fail(`${quote(text)} is not "any", zone:NAME, network:NAME, an address or a CIDR${hint}`);
  }
  return mapChecked(parseCidr(text), (cidr): SourceEntry => ({ kind: 'cidr', cidr, label: text }));
}

function zoneReference(name: string, zoneNames: readonly string[]): Checked<SourceEntry> {
  if (name === '') return fail('"zone:" needs a zone name after the colon');
  if (zoneNames.includes(name)) return ok({ kind: 'zone', name });
  const known = zoneNames.length === 0 ? 'no zones are defined' : `known zones: ${zoneNames.join(', ')}`;
  return fail(`unknown zone ${quote(name)} (${known})`);
}

function mapChecked<A, B>(c: Checked<A>, f: (a: A) => B): Checked<B> {
  return c.ok ? ok(f(c.value)) : c;
}
