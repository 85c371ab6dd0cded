import type { TestProject } from 'vitest/node'
import { startLogScan } from './log-capture.js'
import { SCHEMA_MIGRATIONS_KEY } from './provided.js'
import { schemaMigrations } from './schema/index.js'

/**
 * vitest `globalSetup` (`globalSetup: ['@acme/test-support/global-setup']`): builds the package's
 * schema migration once per run, before any test file starts, rather than once per file in
 * parallel forks each starting the schema engine; test files read it with `schemaMigrationsDir()`.
 * It also collects every test app's log lines, and after the last test file fails the run if
 * they hold a test password, a JWT, an API key or an opaque token (LOG-01, whole suite).
 */
export default async function setup(project: TestProject): Promise<() => void> {
  const started = performance.now()
  const { migrationsDir, built } = await schemaMigrations({ packageDir: project.config.root })
  const seconds = ((performance.now() - started) / 1000).toFixed(1)
  console.log(
    `Test schema ${built ? 'computed from the fragments' : 'unchanged, reused'} in ${seconds} s: ${migrationsDir}`,
  )
  project.provide(SCHEMA_MIGRATIONS_KEY, migrationsDir)
  return startLogScan(project)
}
