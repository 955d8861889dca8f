/**
 * Docker API → inventory, on inspect JSON in the shape dockerd 20.10 (API 1.41) returns,
 * through a fake dockerode-like client: what lands in the snapshot, what the compiler then
 * makes of it, and how many inspect calls an event or a full resync costs.
 */
import { describe, expect, it } from 'vitest';
import type Docker from 'dockerode';
import { compile } from '../../../src/compile/index.js';
import { containerChain } from '../../../src/compile/names.js';
import { dockerEndpoint, InventoryReader, readInventory, requestedBindings, toBindings, toContainer, toNetwork } from '../../../src/inventory/docker.js';
import { parsePolicy } from '../../../src/policy/load.js';
import { BUILTIN_DEFAULT } from '../../../src/policy/default.js';
import { renderRuleset } from '../../../src/ruleset/plan.js';

const DEFAULT_ID = 'a1'.repeat(32);
const USER_ID = 'b2c3d4e5f6a7'.padEnd(64, '9');
const NAMED_ID = 'c3'.repeat(32);

/** `docker network inspect bridge` of a 20.10 dockerd started with --iptables=false, as the lab's prints it (no Gateway). */
const defaultBridge = {
  Name: 'bridge', Id: DEFAULT_ID, Created: '2026-12-04T03:00:00.000000000Z', Scope: 'local', Driver: 'bridge',
  EnableIPv6: false, IPAM: { Driver: 'default', Options: null, Config: [{ Subnet: '172.17.0.0/16' }] },
  Internal: false, Attachable: false, Ingress: false, ConfigFrom: { Network: '' }, ConfigOnly: false, Containers: {},
  Options: {
    'com.docker.network.bridge.default_bridge': 'true',
    'com.docker.network.bridge.enable_icc': 'true',
    // Docker reports masquerade off on the default bridge whenever its own rules are off.
    'com.docker.network.bridge.enable_ip_masquerade': 'false',
    'com.docker.network.bridge.host_binding_ipv4': '0.0.0.0',
    'com.docker.network.bridge.name': 'docker0',
    'com.docker.network.driver.mtu': '1500',
  },
  Labels: {},
};

/** `docker network create --internal -o ...enable_icc=false -o ...enable_ip_masquerade=false appnet`. */
const userNet = {
  ...defaultBridge, Name: 'appnet', Id: USER_ID, Internal: true,
  IPAM: { Driver: 'default', Options: {}, Config: [{ Subnet: '172.18.0.0/16', Gateway: '172.18.0.1' }, { Subnet: 'fd00:18::/64', Gateway: 'fd00:18::1' }] },
  Options: {
    'com.docker.network.bridge.enable_icc': 'false',
    'com.docker.network.bridge.enable_ip_masquerade': 'false',
    'com.docker.network.bridge.host_binding_ipv4': '198.51.100.1',
  },
  Labels: { 'com.docker.compose.network': 'appnet' },
};

/** A network with `-o com.docker.network.bridge.name=lan0`. */
const namedNet = {
  ...defaultBridge, Name: 'lan', Id: NAMED_ID,
  IPAM: { Driver: 'default', Options: {}, Config: [{ Subnet: '172.19.0.0/16', Gateway: '172.19.0.1' }] },
  Options: { 'com.docker.network.bridge.name': 'lan0' }, Labels: {},
};

function endpoint(networkId: string, ip: string, gateway: string) {
  return {
    IPAMConfig: null, Links: null, Aliases: null, NetworkID: networkId, EndpointID: 'e'.repeat(64), Gateway: gateway,
    IPAddress: ip, IPPrefixLen: 16, IPv6Gateway: '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0,
    MacAddress: '02:42:ac:11:00:02', DriverOpts: null,
  };
}

interface InspectOptions {
  id: string; name: string; image?: string; labels?: Record<string, string>; mode?: string;
  networks?: Record<string, unknown>; ports?: Record<string, { HostIp: string; HostPort: string }[] | null>;
}

/** `docker inspect CONTAINER` as 20.10 returns it (the parts dockward reads, and their neighbours). */
function inspectJson(o: InspectOptions) {
  return {
    Id: o.id, Created: '2026-12-04T03:00:01.000000000Z', Path: 'sh', Args: ['-c', 'httpd'],
    State: { Status: 'running', Running: true, Paused: false, Restarting: false, OOMKilled: false, Dead: false, Pid: 4242, ExitCode: 0 },
    Image: 'sha256:' + 'f'.repeat(64), Name: `/${o.name}`, RestartCount: 0, Driver: 'overlay2',
    HostConfig: { NetworkMode: o.mode ?? 'default', PortBindings: {}, Links: null, RestartPolicy: { Name: 'no', MaximumRetryCount: 0 } },
    Config: {
      Hostname: o.id.slice(0, 12), ExposedPorts: { '80/tcp': {} }, Env: ['PATH=/bin'], Cmd: ['sh'],
      Image: o.image ?? 'dwlab:busybox', Labels: o.labels ?? {},
    },
    NetworkSettings: {
      Bridge: '', SandboxID: 's'.repeat(64), HairpinMode: false, SandboxKey: '/var/run/docker/netns/x',
      Ports: o.ports ?? {}, Networks: o.networks ?? { bridge: endpoint(DEFAULT_ID, '172.17.0.2', '172.17.0.1') },
    },
  };
}

const WEB = 'd4'.repeat(32);
const web = inspectJson({
  id: WEB, name: 'web', image: 'nginx:1.25',
  labels: { 'com.docker.compose.project': 'shop', 'com.docker.compose.service': 'front', tier: 'edge' },
  ports: {
    '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8080' }, { HostIp: '::', HostPort: '8080' }],
    '53/udp': [{ HostIp: '198.51.100.1', HostPort: '5353' }],
    '443/tcp': [{ HostIp: '', HostPort: '443' }],
    '9000/tcp': null,
  },
});

/** A fake of the dockerode calls the reader makes, counting container inspects. */
function fakeDocker(networks: unknown[], containers: ReturnType<typeof inspectJson>[]) {
  const state = { containers: [...containers], inspected: [] as string[], failing: false };
  const docker = {
    listNetworks: async () => {
      if (state.failing) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
      return networks;
    },
    listContainers: async () => state.containers.map((c) => ({ Id: c.Id, Names: [c.Name], State: 'running' })),
    getContainer: (id: string) => ({
      inspect: async () => {
        state.inspected.push(id);
        const found = state.containers.find((c) => c.Id === id);
        if (!found) throw Object.assign(new Error('no such container'), { statusCode: 404 });
        return found;
      },
    }),
    getImage: () => ({ inspect: async () => ({ Config: { Labels: {} } }) }),
  };
  return { docker: docker as unknown as Docker, state };
}

describe('networks from docker network inspect', () => {
  it('names the Linux bridge: docker0 for the default, br-<first 12 of id> for a user network, or the bridge.name option', () => {
    const noNameOption = { ...defaultBridge, Options: { ...defaultBridge.Options } } as Record<string, unknown>;
    delete (noNameOption['Options'] as Record<string, string>)['com.docker.network.bridge.name'];
    expect(toNetwork(noNameOption as never).bridge).toBe('docker0');
    expect(toNetwork(defaultBridge as never).bridge).toBe('docker0');
    expect(toNetwork(userNet as never).bridge).toBe('br-b2c3d4e5f6a7');
    expect(toNetwork(namedNet as never).bridge).toBe('lan0');
  });

  it('keeps subnets with their gateways per family, internal, default and the options as Docker reports them', () => {
    expect(toNetwork(defaultBridge as never)).toMatchObject({
      id: DEFAULT_ID, name: 'bridge', isDefault: true, internal: false,
      subnets: [{ family: 'ipv4', cidr: '172.17.0.0/16' }],
      options: { 'com.docker.network.bridge.enable_ip_masquerade': 'false', 'com.docker.network.bridge.host_binding_ipv4': '0.0.0.0' },
    });
    expect(toNetwork(userNet as never)).toEqual({
      id: USER_ID, name: 'appnet', bridge: 'br-b2c3d4e5f6a7', isDefault: false, internal: true,
      subnets: [{ family: 'ipv4', cidr: '172.18.0.0/16', gateway: '172.18.0.1' }, { family: 'ipv6', cidr: 'fd00:18::/64', gateway: 'fd00:18::1' }],
      options: userNet.Options, labels: { 'com.docker.compose.network': 'appnet' },
    });
  });

  it('the options reach the rules: the default bridge masquerades despite its "false", a user network honours it, ICC off drops', async () => {
    const { docker } = fakeDocker([defaultBridge, { ...userNet, Internal: false }], []);
    const text = renderRuleset(compile(await readInventory(docker), BUILTIN_DEFAULT).rulesets[0]!);
    expect(text).toMatch(/-A DOCKWARD-POSTROUTING -s 172\.17\.0\.0\/16 ! -o docker0 .*-j MASQUERADE/);
    expect(text).not.toMatch(/-s 172\.18\.0\.0\/16 ! -o br-b2c3d4e5f6a7 .*-j MASQUERADE/);
    expect(text).toMatch(/-A DOCKWARD-FORWARD -i br-b2c3d4e5f6a7 -o br-b2c3d4e5f6a7 .*-j DROP/);
    expect(text).toMatch(/-A DOCKWARD-FORWARD -i docker0 -o docker0 .*-j ACCEPT/);
  });
});

describe('containers from docker inspect', () => {
  it('reads id, name without the slash, image as started, labels, compose project/service and each endpoint', () => {
    const two = inspectJson({
      id: WEB, name: 'web', networks: {
        bridge: endpoint(DEFAULT_ID, '172.17.0.2', '172.17.0.1'),
        appnet: { ...endpoint(USER_ID, '172.18.0.5', '172.18.0.1'), GlobalIPv6Address: 'fd00:18::5' },
      },
    });
    expect(toContainer(two as never)).toMatchObject({
      id: WEB, name: 'web', image: 'dwlab:busybox', networkMode: 'default',
      endpoints: [
        { networkId: DEFAULT_ID, networkName: 'bridge', ipv4: '172.17.0.2' },
        { networkId: USER_ID, networkName: 'appnet', ipv4: '172.18.0.5', ipv6: 'fd00:18::5' },
      ],
    });
    const c = toContainer(web as never);
    expect(c).toMatchObject({ image: 'nginx:1.25', compose: { project: 'shop', service: 'front' } });
    expect(c.labels).toEqual(web.Config.Labels);
    expect(toContainer(inspectJson({ id: WEB, name: 'solo', labels: { 'com.docker.compose.project': 'half' } }) as never).compose).toBeUndefined();
  });

  it('keeps every binding with its host IP as Docker reports it: empty, 0.0.0.0, a specific address, and :: (IPv6)', () => {
    expect(toContainer(web as never).ports).toEqual([
      { protocol: 'tcp', containerPort: 80, hostIp: '0.0.0.0', hostPort: 8080 },
      { protocol: 'tcp', containerPort: 80, hostIp: '::', hostPort: 8080 },
      { protocol: 'udp', containerPort: 53, hostIp: '198.51.100.1', hostPort: 5353 },
      { protocol: 'tcp', containerPort: 443, hostIp: '', hostPort: 443 },
    ]);
  });

  it('expands port ranges: the per-port keys Docker writes for -p 8000-8002:80-82, and range strings as well', () => {
    const perPort = toBindings({
      '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8000' }], '81/tcp': [{ HostIp: '0.0.0.0', HostPort: '8001' }],
      '82/tcp': [{ HostIp: '0.0.0.0', HostPort: '8002' }],
    });
    const ranged = toBindings({ '80-82/sctp': [{ HostIp: '', HostPort: '8000-8002' }], '53/udp': [{ HostIp: '', HostPort: '5300-5302' }] });
    expect(perPort.map((b) => `${b.hostPort}:${b.containerPort}/${b.protocol}`)).toEqual(['8000:80/tcp', '8001:81/tcp', '8002:82/tcp']);
    expect(ranged.map((b) => `${b.hostPort}:${b.containerPort}/${b.protocol}`)).toEqual(['8000:80/sctp', '8001:81/sctp', '8002:82/sctp', '5300:53/udp']);
  });

  it('an IPv4-only container publishes 0.0.0.0 and "" bindings in IPv4, never the :: one', async () => {
    const { docker } = fakeDocker([defaultBridge], [web]);
    const [v4, v6] = compile(await readInventory(docker), BUILTIN_DEFAULT).rulesets.map((r) => renderRuleset(r));
    const dnat = v4!.split('\n').filter((l) => l.startsWith(`-A ${containerChain(WEB)} `) && l.includes('-j DNAT'));
    expect(dnat.map((l) => l.replace(/ -m comment --comment "[^"]*"/, '').replace(/^-A \S+ /, ''))).toEqual([
      '-p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80',
      '-d 198.51.100.1/32 -p udp -m udp --dport 5353 -j DNAT --to-destination 172.17.0.2:53',
      '-p tcp -m tcp --dport 443 -j DNAT --to-destination 172.17.0.2:443',
    ]);
    expect(v6).not.toContain('--dport 8080');
  });

  it('host, none and container:<id> network modes: kept as such, no rules of their own, and the owner is still published', async () => {
    const owner = inspectJson({ id: 'e5'.repeat(32), name: 'owner', ports: { '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8081' }] } });
    const host = inspectJson({ id: 'f6'.repeat(32), name: 'hostnet', mode: 'host', ports: {}, networks: { host: endpoint('h'.repeat(64), '', '') } });
    const none = inspectJson({ id: 'a7'.repeat(32), name: 'nonet', mode: 'none', ports: {}, networks: { none: endpoint('n'.repeat(64), '', '') } });
    const joined = inspectJson({ id: 'b8'.repeat(32), name: 'sidecar', mode: `container:${owner.Id}`, ports: {}, networks: {} });
    const { docker } = fakeDocker([defaultBridge], [owner, host, none, joined]);
    const inv = await readInventory(docker);
    expect(inv.containers.map((c) => [c.name, c.networkMode, c.ports.length])).toEqual([
      ['nonet', 'none', 0], ['sidecar', `container:${owner.Id}`, 0], ['owner', 'default', 1], ['hostnet', 'host', 0],
    ]);
    const text = renderRuleset(compile(inv, BUILTIN_DEFAULT).rulesets[0]!);
    for (const c of [host, none, joined]) expect(text).not.toContain(containerChain(c.Id));
    expect(text).toMatch(/--dport 8081 .*-j DNAT --to-destination 172\.17\.0\.2:80/);
  });
});

describe('InventoryReader', () => {
  const a = inspectJson({ id: '1'.repeat(64), name: 'a' });
  const b = inspectJson({ id: '2'.repeat(64), name: 'b', networks: { bridge: endpoint(DEFAULT_ID, '172.17.0.3', '172.17.0.1') } });
  const c = inspectJson({ id: '3'.repeat(64), name: 'c', networks: { bridge: endpoint(DEFAULT_ID, '172.17.0.4', '172.17.0.1') } });

  it('inspects everything first, then only the containers an event names or that are new, and everything again at a full resync', async () => {
    const { docker, state } = fakeDocker([defaultBridge], [a, b, c]);
    const reader = new InventoryReader(docker);
    expect((await reader.read()).containers.map((x) => x.name)).toEqual(['a', 'b', 'c']);
    expect(state.inspected.sort()).toEqual([a.Id, b.Id, c.Id]);

    state.inspected = [];
    expect((await reader.read()).containers).toHaveLength(3);
    expect(state.inspected, 'nothing changed, nothing inspected').toEqual([]);

    // network connect on b: the event names b; its new endpoint must show.
    const moved = { ...b, NetworkSettings: { ...b.NetworkSettings, Networks: { ...b.NetworkSettings.Networks, appnet: endpoint(USER_ID, '172.18.0.7', '172.18.0.1') } } };
    state.containers = [a, moved, c];
    reader.forget([b.Id]);
    const after = await reader.read();
    expect(state.inspected).toEqual([b.Id]);
    expect(after.containers.find((x) => x.name === 'b')?.endpoints.map((e) => e.networkName)).toEqual(['bridge', 'appnet']);

    state.inspected = [];
    const d = inspectJson({ id: '4'.repeat(64), name: 'd' });
    state.containers = [a, moved, d];
    expect((await reader.read()).containers.map((x) => x.name)).toEqual(['a', 'b', 'd']);
    expect(state.inspected, 'a new container is inspected, a gone one dropped without a call').toEqual([d.Id]);

    state.inspected = [];
    reader.forget('all');
    await reader.read();
    expect(state.inspected.sort()).toEqual([a.Id, b.Id, d.Id]);
  });

  it('a container gone between list and inspect (404) is left out; Docker not answering rejects instead of "no containers"', async () => {
    const { docker, state } = fakeDocker([defaultBridge], [a, b]);
    const listed = docker.listContainers.bind(docker);
    (docker as unknown as { listContainers: () => Promise<unknown> }).listContainers = async () => {
      const rows = await listed();
      state.containers = [a];
      return rows;
    };
    expect((await readInventory(docker)).containers.map((x) => x.name)).toEqual(['a']);
    state.failing = true;
    await expect(readInventory(docker)).rejects.toThrow('ECONNREFUSED');
  });
});

/**
 * `docker run` as dockerd 20.10 goes through it: create (the container answers inspect
 * with State "created", PortBindings as asked, no address), then the network connect (the
 * network's inspect lists its address), then the start (a container inspect sent meanwhile
 * waits for it). `starting` holds such containers: listed by no listContainers.
 */
function startingDocker(networks: ({ Id: string; Name: string } & Record<string, unknown>)[], running: ReturnType<typeof inspectJson>[]) {
  const { docker, state } = fakeDocker(networks, running);
  const created = new Map<string, ReturnType<typeof inspectJson>>();
  const attached = new Map<string, Record<string, { IPv4Address: string; IPv6Address: string }>>();
  const networkInspects: string[] = [];
  const inspect = docker.getContainer.bind(docker);
  Object.assign(docker, {
    getContainer: (id: string) => (created.has(id) ? { inspect: async () => created.get(id) } : inspect(id)),
    getNetwork: (id: string) => ({
      inspect: async () => {
        networkInspects.push(id);
        const n = networks.find((x) => x.Id === id);
        if (!n) throw Object.assign(new Error('no such network'), { statusCode: 404 });
        return { ...n, Containers: attached.get(id) ?? {} };
      },
    }),
  });
  const create = (o: InspectOptions & { requested: Record<string, { HostIp: string; HostPort: string }[]> }) => {
    const info = inspectJson({ ...o, ports: {} });
    created.set(o.id, { ...info, State: { ...info.State, Status: 'created', Running: false, Pid: 0 },
      HostConfig: { ...info.HostConfig, PortBindings: o.requested } } as never);
  };
  const connect = (networkId: string, id: string, ipv4: string, ipv6: string | undefined = '') => {
    attached.set(networkId, { ...attached.get(networkId), [id]: { IPv4Address: `${ipv4}/16`, IPv6Address: ipv6 ? `${ipv6}/64` : '' } });
  };
  const start = (info: ReturnType<typeof inspectJson>) => {
    created.delete(info.Id);
    state.containers.push(info);
  };
  return { docker, state, create, connect, start, networkInspects };
}

const settle = async () => { for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r)); };
const EARLY = 'e7'.repeat(32);

/** `docker run -p 8080:80 early` up to its connect on the default bridge (the create's inspect answered first). */
async function connectedEarly(lab: ReturnType<typeof startingDocker>, reader: InventoryReader, o: { labels?: Record<string, string>; ipv6?: string } = {}) {
  lab.create({ id: EARLY, name: 'early', ...(o.labels ? { labels: o.labels } : {}), requested: { '80/tcp': [{ HostIp: '', HostPort: '8080' }] } });
  reader.created(EARLY);
  await settle();
  lab.connect(DEFAULT_ID, EARLY, '172.17.0.9', o.ipv6);
  return reader.connected(EARLY, DEFAULT_ID);
}

describe('a container published at its network connect, before its start', () => {
  it('is in the inventory from its connect, with the address the network gives it and the ports it asked for, and gets its DNAT', async () => {
    const lab = startingDocker([defaultBridge], [inspectJson({ id: '1'.repeat(64), name: 'a' })]);
    const reader = new InventoryReader(lab.docker);
    await reader.read();
    lab.create({ id: EARLY, name: 'early', labels: { tier: 'edge' }, requested: { '80/tcp': [{ HostIp: '', HostPort: '8080' }] } });
    reader.created(EARLY);
    lab.connect(DEFAULT_ID, EARLY, '172.17.0.9');
    // The connect came with the create, before its inspect answered: the answer is to come.
    const answer = reader.connected(EARLY, DEFAULT_ID);
    expect(answer).toBeInstanceOf(Promise);
    expect(await answer).toBe(true);
    expect(reader.connected(EARLY, DEFAULT_ID), 'known from then on').toBe(true);
    const inventory = await reader.read();
    expect(inventory.containers.find((c) => c.id === EARLY)).toMatchObject({
      name: 'early', labels: { tier: 'edge' }, networkMode: 'default',
      endpoints: [{ networkId: DEFAULT_ID, networkName: 'bridge', ipv4: '172.17.0.9' }],
      // Bound as Docker will bind it: the default bridge's binding address (dockerd's --ip).
      ports: [{ protocol: 'tcp', containerPort: 80, hostIp: '0.0.0.0', hostPort: 8080 }],
    });
    const text = renderRuleset(compile(inventory, BUILTIN_DEFAULT).rulesets[0]!);
    expect(text).toMatch(new RegExp(`-A ${containerChain(EARLY)} -p tcp -m tcp --dport 8080 .*-j DNAT --to-destination 172\\.17\\.0\\.9:80`));
    // Its start shows nothing more: it needs no apply of its own; the next read inspects it.
    expect(reader.started(EARLY)).toBe(true);
  });

  it('is judged by the policy as it will be once started: a source the policy refuses is refused from the first rule on', async () => {
    const lab = startingDocker([defaultBridge], []);
    const reader = new InventoryReader(lab.docker);
    await connectedEarly(lab, reader, { labels: { tier: 'edge' } });
    const parsed = parsePolicy('version: 1\nrules:\n  - { containers: { label: tier=edge }, from: [198.51.100.0/24] }\n  - { containers: { label: tier=edge }, action: deny }\n', 'p.yaml');
    if (!parsed.ok) throw new Error('policy');
    const text = renderRuleset(compile(await reader.read(), parsed.policy).rulesets[0]!);
    const filter = text.split('*filter')[1]!.split('COMMIT')[0]!;
    expect(filter).toMatch(new RegExp(`-A ${containerChain(EARLY)} -s 198\\.51\\.100\\.0/24 -d 172\\.17\\.0\\.9/32 .*-j ACCEPT`));
    expect(filter).toMatch(new RegExp(`-A ${containerChain(EARLY)} -d 172\\.17\\.0\\.9/32 .*rules\\[1\\]" -j DROP`));
  });

  it('waits for its start when a host port is not fixed (ephemeral, or a range Docker picks from), or while not on the network it publishes through', async () => {
    const lab = startingDocker([defaultBridge, { ...userNet, Internal: false }], []);
    const reader = new InventoryReader(lab.docker);
    const ids = ['f1', 'f2', 'f3'].map((x) => x.repeat(32));
    lab.create({ id: ids[0]!, name: 'ephemeral', requested: { '80/tcp': [{ HostIp: '', HostPort: '' }] } });
    lab.create({ id: ids[1]!, name: 'ranged', requested: { '80/tcp': [{ HostIp: '', HostPort: '8000-8010' }] } });
    lab.create({ id: ids[2]!, name: 'onappnet', mode: 'appnet', requested: { '80/tcp': [{ HostIp: '', HostPort: '8081' }] } });
    for (const id of ids) reader.created(id);
    await settle();
    for (const id of ids) lab.connect(DEFAULT_ID, id, '172.17.0.20');
    expect(ids.map((id) => reader.connected(id, DEFAULT_ID))).toEqual([false, false, true]);
    expect((await reader.read()).containers, 'onappnet is on bridge so far, not on appnet').toEqual([]);
    lab.connect(USER_ID, ids[2]!, '172.18.0.20');
    reader.connected(ids[2]!, USER_ID);
    const inventory = await reader.read();
    expect(inventory.containers.map((c) => [c.name, c.endpoints.map((e) => e.networkName)])).toEqual([['onappnet', ['bridge', 'appnet']]]);
    // appnet binds what names no address to 198.51.100.1 (its host_binding_ipv4), as Docker will at the start.
    expect(renderRuleset(compile(inventory, BUILTIN_DEFAULT).rulesets[0]!)).toMatch(/-d 198\.51\.100\.1\/32 -p tcp -m tcp --dport 8081 .*-j DNAT --to-destination 172\.18\.0\.20:80/);
  });

  it('once listed running it is the inspect that counts; dropped (a failed start: disconnect, die) it is gone; each network inspected once per read', async () => {
    const lab = startingDocker([defaultBridge], []);
    const reader = new InventoryReader(lab.docker);
    const other = 'e8'.repeat(32);
    for (const [id, name] of [[EARLY, 'early'], [other, 'other']] as const) {
      lab.create({ id, name, requested: { '80/tcp': [{ HostIp: '', HostPort: id === EARLY ? '8080' : '8082' }] } });
      reader.created(id);
    }
    await settle();
    lab.connect(DEFAULT_ID, EARLY, '172.17.0.9');
    lab.connect(DEFAULT_ID, other, '172.17.0.10');
    reader.connected(EARLY, DEFAULT_ID);
    expect(reader.connected(other, DEFAULT_ID)).toBe(true);
    expect(reader.started(other), 'connected, but no read has held it yet: its start is a trigger').toBe(false);
    reader.created(other);
    await settle();
    reader.connected(other, DEFAULT_ID);
    expect((await reader.read()).containers.map((c) => c.name)).toEqual(['early', 'other']);
    expect(lab.networkInspects).toEqual([DEFAULT_ID]);
    // early starts: Docker now reports 0.0.0.0 and the address it runs with.
    lab.start(inspectJson({ id: EARLY, name: 'early', ports: { '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8080' }] }, networks: { bridge: endpoint(DEFAULT_ID, '172.17.0.9', '172.17.0.1') } }));
    expect(reader.started(EARLY)).toBe(true);
    expect(reader.dropped(other), 'its start failed: the rules a read made from it must go').toBe(true);
    const after = await reader.read();
    expect(after.containers.map((c) => [c.name, c.ports.map((p) => p.hostIp)])).toEqual([['early', ['0.0.0.0']]]);
    expect(lab.state.inspected).toContain(EARLY);
  });

  it('an IPv6 binding waits for the start: the early rules never publish more than Docker will', async () => {
    const lab = startingDocker([defaultBridge], []);
    const reader = new InventoryReader(lab.docker);
    await connectedEarly(lab, reader, { ipv6: 'fd00::9' });
    const inventory = await reader.read();
    expect(inventory.containers[0]!.endpoints).toEqual([{ networkId: DEFAULT_ID, networkName: 'bridge', ipv4: '172.17.0.9', ipv6: 'fd00::9' }]);
    const [v4, v6] = compile(inventory, BUILTIN_DEFAULT).rulesets.map((r) => renderRuleset(r));
    expect(v4).toMatch(/--dport 8080 .*-j DNAT --to-destination 172\.17\.0\.9:80/);
    expect(v6).not.toContain('--dport 8080');
    expect(reader.started(EARLY), 'its start may add the :: binding: it is a trigger').toBe(false);
  });

  it('a read under way that listed the containers before the start still holds it; the next read, listing it running, inspects it', async () => {
    const lab = startingDocker([defaultBridge], []);
    const reader = new InventoryReader(lab.docker);
    await connectedEarly(lab, reader);
    await reader.read();
    // A read for another event lists the containers, then waits on the network's inspect...
    let open: () => void = () => undefined;
    const gate = new Promise<void>((r) => { open = r; });
    const inspectNetwork = lab.docker.getNetwork.bind(lab.docker);
    Object.assign(lab.docker, { getNetwork: (id: string) => ({ inspect: async () => { await gate; return inspectNetwork(id).inspect(); } }) });
    const during = reader.read();
    await settle();
    // ...while the container starts, exactly as published: no trigger for it.
    lab.start(inspectJson({ id: EARLY, name: 'early', ports: { '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8080' }] }, networks: { bridge: endpoint(DEFAULT_ID, '172.17.0.9', '172.17.0.1') } }));
    expect(reader.started(EARLY)).toBe(true);
    open();
    expect((await during).containers.map((c) => c.name), 'not left out by a read that listed it as not running').toEqual(['early']);
    const next = await reader.read();
    expect(next.containers.map((c) => [c.name, c.ports[0]!.hostIp])).toEqual([['early', '0.0.0.0']]);
    expect(lab.state.inspected).toEqual([EARLY]);
    expect(reader.started(EARLY), 'forgotten once listed running').toBe(false);
  });

  it('a network inspect that fails rejects the read (rules in force kept); a network gone leaves the container out, and its start is a trigger', async () => {
    const lab = startingDocker([defaultBridge], []);
    const reader = new InventoryReader(lab.docker);
    await connectedEarly(lab, reader);
    await reader.read();
    const fail = (error: Error) => Object.assign(lab.docker, { getNetwork: () => ({ inspect: async () => { throw error; } }) });
    fail(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
    await expect(reader.read()).rejects.toThrow('ECONNREFUSED');
    fail(Object.assign(new Error('no such network'), { statusCode: 404 }));
    expect((await reader.read()).containers).toEqual([]);
    expect(reader.started(EARLY)).toBe(false);
  });

  it('-P (ports Docker picks at the start) waits for the start, whatever else is fixed', async () => {
    const lab = startingDocker([defaultBridge], []);
    const reader = new InventoryReader(lab.docker);
    lab.create({ id: EARLY, name: 'early', requested: { '80/tcp': [{ HostIp: '', HostPort: '8080' }] } });
    const inspect = lab.docker.getContainer.bind(lab.docker);
    Object.assign(lab.docker, { getContainer: (id: string) => ({ inspect: async () => {
      const info = await inspect(id).inspect();
      return { ...info, HostConfig: { ...info.HostConfig, PublishAllPorts: true } };
    } }) });
    reader.created(EARLY);
    await settle();
    expect(reader.connected(EARLY, DEFAULT_ID)).toBe(false);
  });

  it('a start that never comes is forgotten a minute after the create or the last connect', async () => {
    let now = 0;
    const lab = startingDocker([defaultBridge], []);
    const reader = new InventoryReader(lab.docker, () => now);
    lab.create({ id: EARLY, name: 'early', requested: { '80/tcp': [{ HostIp: '', HostPort: '8080' }] } });
    reader.created(EARLY);
    await settle();
    // Connected 70 s after its create (compose waiting on a health check): still early.
    now = 70_000;
    lab.connect(DEFAULT_ID, EARLY, '172.17.0.9');
    expect(reader.connected(EARLY, DEFAULT_ID)).toBe(true);
    expect((await reader.read()).containers.map((c) => c.name)).toEqual(['early']);
    now = 70_000 + 61_000;
    expect((await reader.read()).containers).toEqual([]);
    expect(reader.connected(EARLY, DEFAULT_ID), 'forgotten').toBe(false);
  });

  it('asked-for bindings: fixed host ports as given, anything Docker picks at the start refused', () => {
    expect(requestedBindings({ '80/tcp': [{ HostIp: '', HostPort: '8080' }], '53/udp': [{ HostIp: '127.0.0.1', HostPort: '5353' }] })).toEqual([
      { protocol: 'tcp', containerPort: 80, hostIp: '', hostPort: 8080 }, { protocol: 'udp', containerPort: 53, hostIp: '127.0.0.1', hostPort: 5353 },
    ]);
    expect(requestedBindings({ '80-81/tcp': [{ HostIp: '', HostPort: '8000-8001' }] })).toHaveLength(2);
    expect(requestedBindings({})).toEqual([]);
    for (const HostPort of ['', '0', '8000-8010']) expect(requestedBindings({ '80/tcp': [{ HostIp: '', HostPort }] }), HostPort).toBeUndefined();
  });
});

describe('where Docker is', () => {
  it('takes Docker\'s own forms of a host, and nothing else', () => {
    expect(dockerEndpoint('unix:///var/run/docker.sock')).toEqual({ socketPath: '/var/run/docker.sock' });
    expect(dockerEndpoint('/run/docker.sock')).toEqual({ socketPath: '/run/docker.sock' });
    expect(dockerEndpoint('tcp://docker.example')).toEqual({ host: 'docker.example', port: 2375 });
    expect(dockerEndpoint('tcp://192.0.2.5:2376')).toEqual({ host: '192.0.2.5', port: 2376 });
    expect(dockerEndpoint('tcp://[2001:db8::5]:2375')).toEqual({ host: '2001:db8::5', port: 2375 });
    for (const bad of ['http://docker.example', 'docker.example:2375', 'tcp://', 'tcp://h:0', 'tcp://h:99999', 'tcp://h/x', 'unix://', 'unix://relative']) {
      expect(dockerEndpoint(bad), bad).toBeUndefined();
    }
  });
});
