import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { Env } from './env.js'

/**
 * The key that encrypts webhook endpoint secrets at rest. Production must set it
 * (WEBHOOKS_ENCRYPTION_KEY); in development the starter keeps one in its data folder next to
 * the embedded database, so endpoints created yesterday still deliver after a restart.
 */
export function webhooksEncryptionKey(env: Env, warn: (line: string) => void): string {
  if (env.WEBHOOKS_ENCRYPTION_KEY) return env.WEBHOOKS_ENCRYPTION_KEY
  if (env.NODE_ENV === 'production') {
    throw new Error(
      'WEBHOOKS_ENCRYPTION_KEY is required in production: 32 random bytes in base64 (openssl rand -base64 32)',
    )
  }
  const file = join(dirname(env.PGLITE_DATA_DIR), 'webhooks-encryption.key')
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true })
    writeFileSync(file, randomBytes(32).toString('base64'), { mode: 0o600, flag: 'wx' })
  }
  warn(
    `WEBHOOKS_ENCRYPTION_KEY is not set: endpoint secrets are encrypted with a development key kept in ${file} (development only)`,
  )
  return readFileSync(file, 'utf8').trim()
}
