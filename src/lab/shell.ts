/**
 * `npm run lab`: a lab that stays up for trying dockward by hand. The demo's dockerd (rules
 * off) and containers, two client links, and the commands to use them printed; nothing of
 * dockward runs until you start it. Ctrl-C (or SIGTERM, or closing its terminal) removes everything it made.
 */
import { fileURLToPath } from 'node:url';
import { IMAGE, LAB_ADDR, startLab, type Lab } from './index.js';
import { DEMO_SET, startDemoContainers } from './demo-set.js';

const CLI = fileURLToPath(new URL('../cli.js', import.meta.url));
const POLICY = fileURLToPath(new URL('../../examples/policy.yaml', import.meta.url));

function howTo(lab: Lab): string {
  const inHost = `ip netns exec ${lab.hostNs}`;
  const docker = `docker -H ${lab.dockerHost}`;
  return [
    `lab ${lab.id} is up: dockerd with its own rules off in network namespace ${lab.hostNs}.`,
    `  internet client: namespace ${lab.externalNs}, ${LAB_ADDR.external.client} → the host at ${LAB_ADDR.external.host} (${LAB_ADDR.external.hostIf})`,
    `  office client:   namespace ${lab.internalNs}, ${LAB_ADDR.internal.client} → the host at ${LAB_ADDR.internal.host} (${LAB_ADDR.internal.hostIf})`,
    `  containers: ${DEMO_SET}; each answers with its name`,
    '',
    'dockward, in the host namespace (another terminal):',
    `  ${inHost} ${process.execPath} ${CLI} run --policy ${POLICY} --docker-host ${lab.dockerHost} --state-dir ${lab.runDir}/dockward`,
    `  ${inHost} ${process.execPath} ${CLI} status --state-dir ${lab.runDir}/dockward`,
    'Docker:',
    `  ${docker} ps`,
    `  ${docker} run -d --name more -p 8081:80 ${IMAGE} sh -c 'echo more > /www/index.html; httpd -f -p 80 -h /www'`,
    'traffic:',
    `  ip netns exec ${lab.externalNs} curl -sS -m 2 http://${LAB_ADDR.external.host}:443/`,
    `  ip netns exec ${lab.internalNs} curl -sS -m 2 http://${LAB_ADDR.internal.host}:9000/`,
    `  ${inHost} iptables-save | grep DOCKWARD`,
    '',
    'Ctrl-C here removes the lab (namespaces, dockerd, containers, mounts).',
  ].join('\n');
}

async function main(): Promise<void> {
  // Before the lab exists: Ctrl-C while it starts must still end in its removal, not kill the process with it half made.
  const stopped = new Promise<string>((resolve) => {
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => resolve(signal));
  });
  console.log('starting a lab: dockerd with --iptables=false in a network namespace, two client links ...');
  const lab = await startLab();
  try {
    await startDemoContainers(lab);
    console.log(howTo(lab));
    // Nothing else keeps the process alive while it waits: the lab's processes are not its handles.
    const keepAlive = setInterval(() => undefined, 60_000);
    console.log(`\nstopping (${await stopped}) ...`);
    clearInterval(keepAlive);
  } finally {
    await lab.stop();
  }
}

await main();
