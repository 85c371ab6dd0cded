import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { SecretBox } from '../src/index.js'

describe('SecretBox', () => {
  it('round-trips a secret under its context', () => {
    const box = new SecretBox(randomBytes(32))
    const sealed = box.encrypt('whsec_c2VjcmV0', 'endpoint-a')
    expect(sealed).toMatch(/^v1\./)
    expect(sealed).not.toContain('c2VjcmV0')
    expect(box.decrypt(sealed, 'endpoint-a')).toBe('whsec_c2VjcmV0')
  })

  it('encrypts the same secret differently each time (random nonce)', () => {
    const box = new SecretBox(randomBytes(32))
    expect(box.encrypt('same', 'ctx')).not.toBe(box.encrypt('same', 'ctx'))
  })

  it('refuses another context, another key and a tampered ciphertext', () => {
    const box = new SecretBox(randomBytes(32))
    const sealed = box.encrypt('secret', 'row-1')
    expect(() => box.decrypt(sealed, 'row-2')).toThrow()
    expect(() => new SecretBox(randomBytes(32)).decrypt(sealed, 'row-1')).toThrow()
    const body = Buffer.from(sealed.slice(3), 'base64url')
    body[body.length - 1] = (body[body.length - 1] ?? 0) ^ 1
    expect(() => box.decrypt(`v1.${body.toString('base64url')}`, 'row-1')).toThrow()
    expect(() => box.decrypt('v2.abc', 'row-1')).toThrow('unknown secret format')
  })

  it('takes only a 32-byte key', () => {
    expect(() => new SecretBox(randomBytes(16))).toThrow('32 bytes')
  })
})
