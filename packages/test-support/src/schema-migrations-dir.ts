import { inject } from 'vitest'
import { SCHEMA_MIGRATIONS_KEY } from './provided.js'

/**
 * The migrations folder of the package's merged schema, built by the global setup for this run:
 * what `createTestDatabase`, `createTestApp` and `createAppRoleDatabase` take as `migrationsDir`.
 */
export function schemaMigrationsDir(): string {
  const migrationsDir = inject(SCHEMA_MIGRATIONS_KEY)
  if (typeof migrationsDir !== 'string') {
    throw new Error(
      "No test schema for this run: add globalSetup: ['@acme/test-support/global-setup'] to the package's vitest.config.ts",
    )
  }
  return migrationsDir
}
