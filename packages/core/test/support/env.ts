import { randomBytes } from 'node:crypto'

/** Real services, as on every development machine and in CI (see docs/testing.md). */
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'
export const TEST_DATABASE_URL =
  process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/test'

/** A Redis key prefix no other test file shares, so files run in parallel without clashing. */
export function uniquePrefix(label: string): string {
  return `test:${label}:${randomBytes(4).toString('hex')}:`
}
