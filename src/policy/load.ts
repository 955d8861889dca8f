/**
 * Policy file → normalised Policy: YAML (JSON is YAML too) → schema → zones expanded.
 * parsePolicy is pure and reports every problem at once; loadPolicy adds the file system.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { LineCounter, parseDocument, type YAMLError } from 'yaml';
import { BUILTIN_DEFAULT } from './default.js';
import { describeValue, fromZodIssues, zodMessage } from './issues.js';
import { type ConnectionFile, type EgressFile, type HostFile, type PolicyFile, type RuleFile, type SourceEntry, type ZoneFile, policyFileSchema } from './schema.js';
import { splitSources } from './sets.js';
import type { AccessRule, Action, ConnectionRule, EgressRule, HostPolicy, HostRule, InputRule, LabelPolicy, OwnSet, NetworkOverride, Policy, PolicyIssue, SourceMatch } from './types.js';

export const DEFAULT_POLICY_PATH = '/etc/dockward/policy.yaml';

/** `hash` identifies the file's text (see policyHash), for `status` and logs. */
export type ParseResult = { ok: true; policy: Policy; hash: string } | { ok: false; issues: PolicyIssue[] };

/** `hash` is absent for the built-in default, which has no file. */
export type LoadResult =
  | { ok: true; policy: Policy; hash?: string }
  | { ok: false; file: string; issues: PolicyIssue[] };

/** sha256 (hex) of the policy file's text. */
export function policyHash(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** `file` is the policy's origin, named in messages by the caller (formatIssues). */
export function parsePolicy(text: string, file: string): ParseResult {
  const doc = parseYaml(text);
  if (!doc.ok) return doc;
  const shapeProblem = documentShapeProblem(doc.value);
  if (shapeProblem !== undefined) return { ok: false, issues: [{ path: '', message: shapeProblem }] };
  const schema = policyFileSchema(declaredZoneNames(doc.value));
  const parsed = schema.safeParse(doc.value, { error: zodMessage, reportInput: true });
  if (!parsed.success) return { ok: false, issues: fromZodIssues(parsed.error.issues) };
  return { ok: true, policy: normalise(parsed.data, file), hash: policyHash(text) };
}

/**
 * No path: the default path if a file is there, else the built-in default. A path that was
 * named must exist: silently running the permissive default instead would open every port.
 */
export async function loadPolicy(
  path: string | undefined,
  defaultPath: string = DEFAULT_POLICY_PATH,
): Promise<LoadResult> {
  const file = path ?? defaultPath;
  const text = await readText(file);
  if (!text.ok) {
    if (path === undefined && text.missing) return { ok: true, policy: BUILTIN_DEFAULT };
    return { ok: false, file, issues: [{ path: '', message: text.error }] };
  }
  const parsed = parsePolicy(text.value, file);
  return parsed.ok ? parsed : { ok: false, file, issues: parsed.issues };
}

type ReadResult = { ok: true; value: string } | { ok: false; missing: boolean; error: string };

async function readText(file: string): Promise<ReadResult> {
  try {
    return { ok: true, value: await readFile(file, 'utf8') };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'unknown error';
    const missing = code === 'ENOENT' || code === 'ENOTDIR';
    const error = READ_ERRORS[code] ?? (missing ? 'file not found' : `cannot read the file (${code})`);
    return { ok: false, missing, error };
  }
}

const READ_ERRORS: Record<string, string> = {
  ENOENT: 'file not found',
  EACCES: 'cannot read the file: permission denied',
  EPERM: 'cannot read the file: permission denied',
  EISDIR: 'is a directory, not a policy file',
};

type YamlResult = { ok: true; value: unknown } | { ok: false; issues: PolicyIssue[] };

function parseYaml(text: string): YamlResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: false, lineCounter });
  if (doc.errors.length > 0) return { ok: false, issues: doc.errors.map((e) => yamlIssue(e, lineCounter)) };
  try {
    return { ok: true, value: doc.toJS({ maxAliasCount: 100 }) };
  } catch (e) {
    // toJS throws on alias bombs and unresolvable aliases; the message is all the operator needs
    const message = `cannot read the YAML: ${oneLine(String((e as Error).message))}`;
    return { ok: false, issues: [{ path: '', message }] };
  }
}

function yamlIssue(e: YAMLError, lines: LineCounter): PolicyIssue {
  const { line, col } = lines.linePos(e.pos[0]);
  return { path: '', message: `YAML syntax error at line ${line}, column ${col}: ${yamlMessage(e)}` };
}

/** The parser's words where they speak of its own API or its own limits rather than of the file. */
function yamlMessage(e: YAMLError): string {
  if (e.code === 'MULTIPLE_DOCS') return 'a second YAML document ("---"); a policy file holds one document';
  if (/call stack/i.test(e.message)) return 'nested too deeply';
  return oneLine(e.message);
}

const oneLine = (text: string) => text.replace(/\s*\n\s*/g, ' ').trim();

function documentShapeProblem(value: unknown): string | undefined {
  if (value === null || value === undefined) return 'the file is empty; a policy needs at least "version: 1"';
  if (isPlainMap(value)) return undefined;
  return `the document must be a map of version, zones, defaults and rules (got ${describeValue(value)})`;
}

function declaredZoneNames(doc: unknown): string[] {
  const zones = isPlainMap(doc) ? doc.zones : undefined;
  return isPlainMap(zones) ? Object.keys(zones) : [];
}

function isPlainMap(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function normalise(file: PolicyFile, origin: string): Policy {
  return withoutUndefined({
    version: 1,
    defaults: defaultsOf(file.defaults),
    rules: file.rules.map((rule, index) => toAccessRule(rule, index, file.zones)),
    egress: file.egress?.map((rule, index) => toEgressRule(rule, index, file.zones)),
    host: file.host && toHostPolicy(file.host, file.zones),
    labels: file.labels?.enabled ? toLabelPolicy(file.labels, file.zones) : undefined,
    ownSets: nonEmpty(ownSetsOf(file.zones)),
    networks: file.networks && networkOverrides(file.networks),
    connections: file.connections?.map(toConnection),
    origin,
  });
}

type DefaultFile = PolicyFile['defaults']['published'];

const actionOf = (d: DefaultFile): Action => (typeof d === 'string' ? d : d.action);
const logs = (d: DefaultFile | undefined): true | undefined => (typeof d === 'object' && d.log ? true : undefined);

function defaultsOf(d: PolicyFile['defaults']): Policy['defaults'] {
  const log = withoutUndefined({ published: logs(d.published), outbound: logs(d.outbound) });
  return withoutUndefined({
    published: actionOf(d.published),
    outbound: d.outbound === undefined ? undefined : actionOf(d.outbound),
    log: Object.keys(log).length > 0 ? log : undefined,
  });
}

/** `log: false` is the same as no log key: it stays out of the normalised rule. */
const logFlag = (log: boolean | undefined): true | undefined => (log ? true : undefined);

/** An exact name beats every glob; among globs, the first in the file wins. */
function networkOverrides(networks: NonNullable<PolicyFile['networks']>): NetworkOverride[] {
  const all = Object.entries(networks).map(([pattern, o]) => ({ pattern, icc: o.icc }));
  const isGlob = (o: NetworkOverride) => /[*?]/.test(o.pattern);
  return [...all.filter((o) => !isGlob(o)), ...all.filter(isGlob)];
}

function toEgressRule(rule: EgressFile, index: number, zones: PolicyFile['zones']): EgressRule {
  const to = rule.to === undefined ? [ANY] : rule.to.flatMap((entry) => sourceMatches(entry, zones));
  const { name, containers, ports, action } = rule;
  return withoutUndefined({ index, name, containers, to, ports, action, log: logFlag(rule.log) });
}

function toHostPolicy(host: HostFile, zones: PolicyFile['zones']): HostPolicy {
  const toContainers = host.toContainers?.map((rule, index): HostRule => {
    const { name, containers, ports, containerPorts, action } = rule;
    return withoutUndefined({ index, name, containers, ports, containerPorts, action, log: logFlag(rule.log) });
  });
  const input = (host.input ?? []).map((rule, index): InputRule => {
    const from = rule.from === undefined ? [ANY] : rule.from.flatMap((entry) => sourceMatches(entry, zones));
    return withoutUndefined({ index, name: rule.name, ports: rule.ports, from, action: rule.action, log: logFlag(rule.log) });
  });
  const manage = host.manage ? withoutUndefined({ input, default: actionOf(host.default ?? 'allow'), log: logs(host.default) }) : undefined;
  return withoutUndefined({ toContainers, manage });
}

function toLabelPolicy(labels: NonNullable<PolicyFile['labels']>, zones: PolicyFile['zones']): LabelPolicy {
  const expanded = Object.fromEntries(Object.entries(zones).map(([name, zone]) => [name, zoneMatches(name, zone)]));
  return { position: labels.position, trustImageLabels: labels.trustImageLabels, zones: expanded };
}

function toConnection(rule: ConnectionFile, index: number): ConnectionRule {
  const { name, from, to, ports, action } = rule;
  return withoutUndefined({ index, name, from, to, ports, action, log: logFlag(rule.log) });
}

function toAccessRule(rule: RuleFile, index: number, zones: PolicyFile['zones']): AccessRule {
  const from = rule.from === undefined ? [ANY] : rule.from.flatMap((entry) => sourceMatches(entry, zones));
  const { name, containers, ports, containerPorts, action } = rule;
  return withoutUndefined({ index, name, containers, ports, containerPorts, from, action, log: logFlag(rule.log) });
}

const ANY: SourceMatch = { label: 'any' };

/** Several entries mean any of them; a zone is the cross product of its interfaces and sources. */
function sourceMatches(entry: SourceEntry, zones: PolicyFile['zones']): SourceMatch[] {
  if (entry.kind === 'any') return [ANY];
  if (entry.kind === 'cidr') return [{ cidr: entry.cidr, label: entry.label }];
  if (entry.kind === 'network') return [{ network: entry.name, label: `network:${entry.name}` }];
  const zone = Object.hasOwn(zones, entry.name) ? zones[entry.name] : undefined;
  // The schema checked every reference; failing loudly beats a deny rule that matches nothing.
  if (zone === undefined) throw new Error(`internal error: zone ${entry.name} vanished after validation`);
  return zoneMatches(entry.name, zone);
}

type Addresses = { cidr?: string; set?: string; setFamily?: 'ipv4' | 'ipv6' };

/** A zone's addresses: its CIDRs (many of one family as an own set), its ipset, or none (any address). */
function zoneAddresses(name: string, zone: ZoneFile): Addresses[] {
  if (zone.ipset !== undefined) return [{ set: zone.ipset }];
  if (zone.sources === undefined) return [{}];
  const { sets, rest } = splitSources(name, zone.sources);
  return [...rest.map((cidr) => ({ cidr })), ...sets.map((s) => ({ set: s.name, setFamily: s.family }))];
}

function zoneMatches(name: string, zone: ZoneFile): SourceMatch[] {
  const label = `zone:${name}`;
  const ifaces = zone.interfaces ?? [undefined];
  const addresses = zoneAddresses(name, zone);
  return ifaces.flatMap((iface) => addresses.map((a) => withoutUndefined({ iface, ...a, label })));
}

function ownSetsOf(zones: PolicyFile['zones']): OwnSet[] {
  return Object.entries(zones).flatMap(([name, zone]) => (zone.sources ? splitSources(name, zone.sources).sets : []));
}

const nonEmpty = <T>(list: T[]): T[] | undefined => (list.length > 0 ? list : undefined);

/** Keys the file left out stay out, so a normalised rule compares and prints cleanly. */
function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
