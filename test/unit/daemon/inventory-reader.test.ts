/** The Docker inventory reader: an error from Docker is never read as "nothing there". */
import type Docker from 'dockerode';
import { describe, expect, it } from 'vitest';
import { InventoryReader } from '../../../src/inventory/docker.js';

const ID = 'c'.repeat(64);
const IMAGE = `sha256:${'i'.repeat(64)}`;

/** Just the dockerode calls the reader makes; `image` answers the image inspect. */
function fakeDocker(image: () => Promise<unknown>): Docker {
  return {
    listNetworks: async () => [],
    listContainers: async () => [{ Id: ID }],
    getContainer: () => ({
      inspect: async () => ({
        Id: ID, Name: '/web', Image: IMAGE, State: { Running: true },
        Config: { Image: 'web', Labels: { 'dockward.rules': 'allow 80' } }, HostConfig: {}, NetworkSettings: { Networks: {}, Ports: {} },
      }),
    }),
    getImage: () => ({ inspect: image }),
  } as unknown as Docker;
}

describe('reading the inventory', () => {
  it('takes the image labels, to tell inherited labels from the container\'s own', async () => {
    const inv = await new InventoryReader(fakeDocker(async () => ({ Config: { Labels: { 'dockward.rules': 'allow 80' } } }))).read();
    expect(inv.containers[0]?.imageLabels).toEqual({ 'dockward.rules': 'allow 80' });
  });

  it('fails the read when the image inspect fails, instead of reading "no image labels"', async () => {
    const failing = fakeDocker(async () => { throw Object.assign(new Error('(HTTP code 500) server error'), { statusCode: 500 }); });
    await expect(new InventoryReader(failing).read()).rejects.toThrow(/server error/);
  });
});
