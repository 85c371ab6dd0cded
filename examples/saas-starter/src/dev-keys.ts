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
  return developmentKey(env, warn, {
    variable: 'WEBHOOKS_ENCRYPTION_KEY',
    value: env.WEBHOOKS_ENCRYPTION_KEY,
    file: 'webhooks-encryption.key',
    use: 'endpoint secrets are encrypted with',
  })
}

/**
 * The key that signs file download links (FILES_SIGNING_KEY); in development one kept in the
 * data folder, so links made before a restart still work after it.
 */
export function filesSigningKey(env: Env, warn: (line: string) => void): string {
  return developmentKey(env, warn, {
    variable: 'FILES_SIGNING_KEY',
    value: env.FILES_SIGNING_KEY,
    file: 'files-signing.key',
    use: 'download links are signed with',
  })
}

function developmentKey(
  env: Env,
  warn: (line: string) => void,
  key: { variable: string; value: string | undefined; file: string; use: string },
): string {
  if (key.value) return key.value
  if (env.NODE_ENV === 'production') {
    throw new Error(
      `${key.variable} is required in production: 32 random bytes in base64 (openssl rand -base64 32)`,
    )
  }
  const file = join(dirname(env.PGLITE_DATA_DIR), key.file)
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true })
    writeFileSync(file, randomBytes(32).toString('base64'), { mode: 0o600, flag: 'wx' })
  }
  warn(
    `${key.variable} is not set: ${key.use} a development key kept in ${file} (development only)`,
  )
  return readFileSync(file, 'utf8').trim()
}
