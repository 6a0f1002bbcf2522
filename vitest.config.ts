import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // CLI end-to-end tests spawn processes and servers; two cores, so keep the pool small.
    pool: 'forks',
    maxWorkers: 2,
  },
});
