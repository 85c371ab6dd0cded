import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/log-scan.ts'],
    pool: 'forks',
    // One file at a time: test/start.test.ts runs `pnpm start`, whose `acme prisma generate`
    // rewrites src/generated while another file could be importing it.
    fileParallelism: false,
    testTimeout: 60_000,
    // Starting the whole starter (an embedded PostgreSQL created, migrated, every plugin ready)
    // takes seconds when idle and passed a minute on a loaded 2-core CI machine.
    hookTimeout: 180_000,
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results/vitest.json' },
  },
})
