import { randomBytes, randomUUID } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { generateSecret, PRIVATE_KEY_PREFIX, SecretVault } from '../src/services/secrets.js'
import { newEncryptionKey } from './support/app.js'

const signingKey = () => `${PRIVATE_KEY_PREFIX}${randomBytes(32).toString('base64')}`

describe('the secret vault', () => {
  it('opens a secret once per ciphertext, and still refuses it on another endpoint', () => {
    const vault = new SecretVault(newEncryptionKey())
    const endpoint = randomUUID()
    const secret = generateSecret(32)
    const sealed = vault.seal(secret, endpoint)
    expect(vault.open(sealed, endpoint)).toBe(secret)
    expect(vault.open(sealed, endpoint)).toBe(secret)
    // Opened before, but bound to its own endpoint: a copied ciphertext does not open elsewhere.
    expect(() => vault.open(sealed, randomUUID())).toThrow()
    const rotated = generateSecret(32)
    expect(vault.open(vault.seal(rotated, endpoint), endpoint)).toBe(rotated)
  })

  it('parses a tenant’s signing key once, refuses it for another tenant, and follows a new key', () => {
    const vault = new SecretVault(newEncryptionKey())
    const tenant = randomUUID()
    const sealed = vault.sealSigningKey(signingKey(), tenant)
    const first = vault.openSigningKey(sealed, tenant)
    expect(first?.asymmetricKeyType).toBe('ed25519')
    expect(vault.openSigningKey(sealed, tenant)).toBe(first)
    expect(() => vault.openSigningKey(sealed, randomUUID())).toThrow()
    const replaced = vault.openSigningKey(vault.sealSigningKey(signingKey(), tenant), tenant)
    expect(replaced).not.toBe(first)
    expect(
      replaced
        ?.export({ format: 'der', type: 'pkcs8' })
        .equals(first?.export({ format: 'der', type: 'pkcs8' }) as Buffer),
    ).toBe(false)
    expect(vault.openSigningKey(null, tenant)).toBeNull()
  })
})
