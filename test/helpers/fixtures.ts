/** Builders for inventories and policies in unit tests: only what a test cares about is spelled out. */
import type { Container, Inventory, Network, PortBinding } from '../../src/inventory/types.js';
import { formatIssues } from '../../src/policy/issues.js';
import { parsePolicy } from '../../src/policy/load.js';
import type { Policy } from '../../src/policy/types.js';

export function network(n: number, overrides: Partial<Network> = {}): Network {
  const id = `${n}`.repeat(64).slice(0, 64);
  return {
    id, name: n === 1 ? 'bridge' : `net${n}`, bridge: n === 1 ? 'docker0' : `br-${id.slice(0, 12)}`,
    isDefault: n === 1, internal: false,
    subnets: [{ family: 'ipv4', cidr: `172.${16 + n}.0.0/16`, gateway: `172.${16 + n}.0.1` }],
    options: {}, labels: {}, ...overrides,
  };
}

export function tcp(hostPort: number, containerPort = hostPort, hostIp = '0.0.0.0'): PortBinding {
  return { protocol: 'tcp', hostPort, containerPort, hostIp };
}

export function udp(hostPort: number, containerPort = hostPort, hostIp = '0.0.0.0'): PortBinding {
  return { protocol: 'udp', hostPort, containerPort, hostIp };
}

export function container(n: number, net: Network, ports: PortBinding[], overrides: Partial<Container> = {}): Container {
  const subnet = net.subnets[0]?.cidr ?? '172.17.0.0/16';
  const ip = subnet.replace(/0\.0\/16$/, `0.${n + 1}`);
  return {
    id: `c${n}`.padEnd(64, '0'), name: `c${n}`, image: 'busybox', labels: {}, networkMode: net.name,
    endpoints: [{ networkId: net.id, networkName: net.name, ipv4: ip }], ports, ...overrides,
  };
}

export function inventory(networks: Network[], containers: Container[]): Inventory {
  return { networks, containers };
}

export function policy(yaml: string): Policy {
  const result = parsePolicy(yaml, 'test.yaml');
  if (!result.ok) throw new Error(result.issues.map((i) => `${i.path}: ${i.message}`).join('\n'));
  return result.policy;
}

/** The lines `dockward check` would print for a policy that must be refused (file policy.yaml). */
export function problems(text: string): string[] {
  const result = parsePolicy(text, 'policy.yaml');
  if (result.ok) throw new Error('expected the policy to be refused');
  return formatIssues('policy.yaml', result.issues).split('\n');
}
