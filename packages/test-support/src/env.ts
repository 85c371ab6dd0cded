import { randomBytes } from 'node:crypto'

/** Real services, as on every development machine and in CI (docs/testing.md). */
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'
export const TEST_DATABASE_URL =
  process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/test'

/** A name no other test file shares: test files run in parallel. */
export function uniqueName(label: string): string {
  return `${label}_${randomBytes(5).toString('hex')}`.toLowerCase().replace(/[^a-z0-9_]/g, '_')
}

/** A Redis key prefix for one test file. */
export function uniquePrefix(label: string): string {
  return `test:${uniqueName(label)}:`
}
