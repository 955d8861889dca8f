/**
 * `npm run demo`: the main job on a throw-away lab. A real dockerd (rules off) in a
 * network namespace, three demo containers, dockward applying examples/policy.yaml, and
 * a matrix of who reaches what, measured with real traffic. Everything is removed after.
 */
import { execa } from 'execa';
import { fileURLToPath } from 'node:url';
import { LAB_ADDR, startLab, type Lab, type ProbeFrom } from './index.js';
import { startDemoContainers } from './demo-set.js';

const CLI = fileURLToPath(new URL('../cli.js', import.meta.url));
const POLICY = fileURLToPath(new URL('../../examples/policy.yaml', import.meta.url));

/** A cell: "reaches" when the container answered; otherwise how the refusal looked. */
interface Column { readonly label: string; probe(lab: Lab, from: ProbeFrom, host: string): Promise<string> }

const http = (port: number, name: string): Column => ({
  label: `${name}:${port}/tcp`,
  probe: async (lab, from, host) => {
    if ((await lab.http(from, `http://${host}:${port}/`)) === name) return 'reaches';
    return (await lab.tcpReset(from, host, port)) === 'reset' ? 'reset' : 'dropped';
  },
});

const COLUMNS: Column[] = [
  http(443, 'web'), http(8080, 'web'), http(9000, 'admin'),
  { label: 'dns:5353/udp', probe: async (lab, from, host) => ((await lab.udp(from, host, 5353, { payload: 'q' })) === 'dns:q' ? 'reaches' : '-') },
];

const ROWS: { label: string; from: ProbeFrom; host: string }[] = [
  { label: `internet ${LAB_ADDR.external.client} via ext0`, from: 'external', host: LAB_ADDR.external.host },
  { label: `office ${LAB_ADDR.internal.client} via int0`, from: 'internal', host: LAB_ADDR.internal.host },
  { label: 'a container on the bridge', from: { container: 'client' }, host: LAB_ADDR.internal.host },
];

async function matrix(lab: Lab): Promise<string[]> {
  const width = Math.max(...ROWS.map((r) => r.label.length));
  const lines = [`${''.padEnd(width)}  ${COLUMNS.map((c) => c.label.padEnd(15)).join('')}`];
  for (const row of ROWS) {
    const cells = await Promise.all(COLUMNS.map((c) => c.probe(lab, row.from, row.host)));
    lines.push(`${row.label.padEnd(width)}  ${cells.map((cell) => cell.padEnd(15)).join('')}`);
  }
  const web = await lab.containerIp('web');
  const direct = await lab.http('external', `http://${web}:80/`);
  lines.push('', `direct routed access from the internet to web's address ${web}:80: ${direct ? 'reaches (!)' : 'refused'}`);
  return lines;
}

async function main(): Promise<void> {
  console.log('starting a lab: dockerd with --iptables=false in a network namespace, two client links ...');
  const lab = await startLab();
  try {
    await startDemoContainers(lab);
    console.log(`\nbefore dockward (Docker's own rules are off, so nothing is published):\n${(await matrix(lab)).join('\n')}`);
    const applied = await lab.inHost(process.execPath, [CLI, 'apply', '--policy', POLICY, '--docker-host', lab.dockerHost]);
    console.log(`\n$ dockward apply --policy examples/policy.yaml\n${applied.stdout.trim()}`);
    console.log(`\nafter dockward:\n${(await matrix(lab)).join('\n')}`);
    const { stdout } = await execa('sed', ['-n', '/^rules:/,$p', POLICY]);
    console.log(`\nthe policy that decided it (examples/policy.yaml):\n${stdout}`);
  } finally {
    await lab.stop();
  }
}

await main();
