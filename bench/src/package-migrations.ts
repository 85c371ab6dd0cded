// The benchmark databases are built as the packages' test databases are: from the package's merged
// schema (its fragments and its dependencies'), computed once and cached (@acme/test-support).
import { fileURLToPath } from 'node:url'
import { schemaMigrations } from '@acme/test-support/schema'

/** The migrations folder of `packages/<name>`'s merged schema. */
export async function packageMigrations(
  name: 'auth' | 'tenancy' | 'rbac' | 'flags' | 'webhooks' | 'audit' | 'files',
): Promise<string> {
  const packageDir = fileURLToPath(new URL(`../../packages/${name}`, import.meta.url))
  return (await schemaMigrations({ packageDir })).migrationsDir
}
