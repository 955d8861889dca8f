/**
 * Synthetic inventories for the benchmark: N containers on a few bridge networks, each with
 * an IPv4 and an IPv6 address and two published ports (one TCP, one UDP); every tenth
 * container carries a label that the benchmark policy's source and connection rules
 * select. The policy uses every kind of rule a real one would, for those containers:
 * source rules in both families with an ipset zone among the sources, an egress rule, a
 * connections rule.
 */
import type { Container, Inventory, Network } from '../inventory/types.js';

const NETWORKS = 4;

function network(i: number): Network {
  const id = `${i + 1}`.repeat(64).slice(0, 64);
  return {
    id, name: i === 0 ? 'bridge' : `net${i}`, bridge: i === 0 ? 'docker0' : `br-${id.slice(0, 12)}`, isDefault: i === 0,
    internal: false, subnets: [{ family: 'ipv4', cidr: `10.${i}.0.0/16` }, { family: 'ipv6', cidr: `fd00:${i}::/64` }], options: {}, labels: {},
  };
}

export function container(i: number, ipv6 = true): Container {
  const net = network(i % NETWORKS);
  const host = Math.floor(i / NETWORKS) + 2;
  return {
    id: (i + 1).toString(16).padStart(64, '0'), name: `svc-${i}`, image: 'example/app:1',
    labels: i % 10 === 0 ? { tier: 'restricted' } : {}, networkMode: net.name,
    endpoints: [{ networkId: net.id, networkName: net.name, ipv4: `10.${i % NETWORKS}.${host >> 8}.${host & 255}`, ...(ipv6 ? { ipv6: `fd00:${i % NETWORKS}::${host.toString(16)}` } : {}) }],
    ports: [
      { protocol: 'tcp', containerPort: 80, hostIp: '0.0.0.0', hostPort: 10000 + 2 * i },
      { protocol: 'udp', containerPort: 53, hostIp: '0.0.0.0', hostPort: 10001 + 2 * i },
      ...(ipv6 ? [
        { protocol: 'tcp', containerPort: 80, hostIp: '::', hostPort: 10000 + 2 * i },
        { protocol: 'udp', containerPort: 53, hostIp: '::', hostPort: 10001 + 2 * i },
      ] as const : []),
    ],
  };
}

/** `ipv6` false: IPv4 only, the shape the first benchmark used (with BASIC_POLICY_YAML). */
export function syntheticInventory(count: number, ipv6 = true): Inventory {
  return {
    networks: Array.from({ length: NETWORKS }, (_, i) => network(i)),
    containers: Array.from({ length: count }, (_, i) => container(i, ipv6)),
  };
}

/** The ipset a zone names: the benchmark creates it (empty) in its namespace. */
export const BENCH_SET = 'dw-bench-partners';
export const BENCH_IPSETS: ReadonlyMap<string, 'ipv4' | 'ipv6'> = new Map([[BENCH_SET, 'ipv4']]);

export const BENCH_POLICY_YAML = `version: 1
zones:
  office: { sources: [198.51.100.0/24, "2001:db8:1::/48"] }
  partners: { ipset: ${BENCH_SET} }
defaults: { published: allow }
rules:
  - { containers: { label: tier=restricted }, from: [zone:office, zone:partners, 192.0.2.7] }
  - { containers: { label: tier=restricted }, action: reject }
egress:
  - { name: no-mail, containers: { label: tier=restricted }, ports: [25/tcp], action: reject }
connections:
  - { name: db, from: { label: tier=restricted }, to: "svc-1?", ports: [5432/tcp] }
`;

/** Source rules only: the policy the first benchmark used, for comparison. */
export const BASIC_POLICY_YAML = `version: 1
zones:
  office: { sources: [198.51.100.0/24] }
defaults: { published: allow }
rules:
  - { containers: { label: tier=restricted }, from: [zone:office, 192.0.2.7] }
  - { containers: { label: tier=restricted }, action: reject }
`;
