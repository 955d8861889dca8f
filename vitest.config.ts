import { defineConfig } from 'vitest/config';

/**
 * Two projects: unit tests run in parallel; end-to-end tests (*.e2e.test.ts) each start
 * a real dockerd in the lab, so they run one file at a time in a single worker and get
 * generous timeouts.
 */
const E2E = 'test/**/*.e2e.test.ts';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          // Some "unit" tests run the built CLI or real iptables in a namespace: seconds, not ms.
          testTimeout: 30_000,
          exclude: [E2E, '**/node_modules/**'],
        },
      },
      {
        test: {
          name: 'e2e',
          include: [E2E],
          pool: 'forks',
          poolOptions: { forks: { singleFork: true } },
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
