/**
 * Synthetic inventories for the benchmark: N containers on a few bridge networks, two
 * published ports each (one TCP, one UDP); every tenth container carries a label that the
 * benchmark policy's source rules select.
 */
import type { Container, Inventory, Network } from '../inventory/types.js';

const NETWORKS = 4;

function network(i: number): Network {
  const id = `${i + 1}`.repeat(64).slice(0, 64);
  return {
    id, name: i === 0 ? 'bridge' : `net${i}`, bridge: i === 0 ? 'docker0' : `br-${id.slice(0, 12)}`, isDefault: i === 0,
    internal: false, subnets: [{ family: 'ipv4', cidr: `10.${i}.0.0/16` }], options: {}, labels: {},
  };
}

export function container(i: number): Container {
  const net = network(i % NETWORKS);
  const host = Math.floor(i / NETWORKS) + 2;
  return {
    id: (i + 1).toString(16).padStart(64, '0'), name: `svc-${i}`, image: 'example/app:1',
    labels: i % 10 === 0 ? { tier: 'restricted' } : {}, networkMode: net.name,
    endpoints: [{ networkId: net.id, networkName: net.name, ipv4: `10.${i % NETWORKS}.${host >> 8}.${host & 255}` }],
    ports: [
      { protocol: 'tcp', containerPort: 80, hostIp: '0.0.0.0', hostPort: 10000 + 2 * i },
      { protocol: 'udp', containerPort: 53, hostIp: '0.0.0.0', hostPort: 10001 + 2 * i },
    ],
  };
}

export function syntheticInventory(count: number, first = 0): Inventory {
  return {
    networks: Array.from({ length: NETWORKS }, (_, i) => network(i)),
    containers: Array.from({ length: count }, (_, i) => container(first + i)),
  };
}

export const BENCH_POLICY_YAML = `version: 1
zones:
  office: { sources: [198.51.100.0/24] }
defaults: { published: allow }
rules:
  - { containers: { label: tier=restricted }, from: [zone:office, 192.0.2.7] }
  - { containers: { label: tier=restricted }, action: reject }
`;
