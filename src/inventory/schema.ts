/** zod schema for inventory JSON files (`dockward plan --inventory FILE`, golden cases, bug reports). */
import { z } from 'zod';
import type { Inventory } from './types.js';

const stringMap = z.record(z.string(), z.string());

const network = z.strictObject({
  id: z.string(), name: z.string(), bridge: z.string(), isDefault: z.boolean(), internal: z.boolean(),
  subnets: z.array(z.strictObject({ family: z.enum(['ipv4', 'ipv6']), cidr: z.string(), gateway: z.string().optional() })),
  options: stringMap, labels: stringMap,
});

const container = z.strictObject({
  id: z.string(), name: z.string(), image: z.string(), labels: stringMap,
  imageLabels: stringMap.optional(),
  compose: z.strictObject({ project: z.string(), service: z.string() }).optional(),
  networkMode: z.string(),
  endpoints: z.array(z.strictObject({
    networkId: z.string(), networkName: z.string(), ipv4: z.string().optional(), ipv6: z.string().optional(),
  })),
  ports: z.array(z.strictObject({
    protocol: z.enum(['tcp', 'udp', 'sctp']), containerPort: z.number().int(), hostIp: z.string(), hostPort: z.number().int(),
  })),
  links: z.array(z.string()).optional(),
  exposedPorts: z.array(z.string()).optional(),
});

export const inventorySchema: z.ZodType<Inventory> = z.strictObject({ networks: z.array(network), containers: z.array(container) });
