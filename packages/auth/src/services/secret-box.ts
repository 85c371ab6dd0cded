import { randomBytes } from 'node:crypto'
import { SecretBox } from '@acme/core'

export { SecretBox }

/** From the `mfa.encryptionKey` option, or a random key when none is configured. */
export function mfaSecretBox(
  encryptionKey: string | undefined,
  logger: { warn(message: string): void },
): SecretBox {
  if (encryptionKey !== undefined) return new SecretBox(Buffer.from(encryptionKey, 'base64'))
  logger.warn(
    '@acme/auth: no mfa.encryptionKey configured; generated one for this process. TOTP ' +
      'secrets enrolled now stop working after a restart or on other instances.',
  )
  return new SecretBox(randomBytes(SecretBox.KEY_BYTES))
}
