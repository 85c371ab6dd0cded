import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    // Computing a schema starts Prisma's WebAssembly engine: seconds when idle, a minute or more
    // on a loaded 2-core CI machine (as the CLI's tests allow).
    testTimeout: 180_000,
    hookTimeout: 180_000,
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results/vitest.json' },
  },
})
