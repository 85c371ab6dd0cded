import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { DIRECT_UPLOAD_PURPOSE, DOWNLOAD_PURPOSE, Signer } from '../src/services/signing.js'

describe('the signer', () => {
  const signer = new Signer(randomBytes(32).toString('base64'))

  it('verifies its own signatures and nothing else', () => {
    const signature = signer.sign(DOWNLOAD_PURPOSE, ['t', 'f', '100'])
    expect(signer.verify(DOWNLOAD_PURPOSE, ['t', 'f', '100'], signature)).toBe(true)
    expect(signer.verify(DIRECT_UPLOAD_PURPOSE, ['t', 'f', '100'], signature)).toBe(false)
    expect(signer.verify(DOWNLOAD_PURPOSE, ['t', 'f', '101'], signature)).toBe(false)
    expect(signer.verify(DOWNLOAD_PURPOSE, ['t', 'f', '100'], signature.slice(0, -2))).toBe(false)
    expect(signer.verify(DOWNLOAD_PURPOSE, ['t', 'f', '100'], `${signature}AA`)).toBe(false)
    expect(signer.verify(DOWNLOAD_PURPOSE, ['t', 'f', '100'], '')).toBe(false)
  })

  it('keeps fields apart: moving a separator changes the signature', () => {
    expect(signer.sign(DOWNLOAD_PURPOSE, ['ab', 'c'])).not.toBe(
      signer.sign(DOWNLOAD_PURPOSE, ['a', 'bc']),
    )
  })

  it('another key’s signature does not verify', () => {
    const other = new Signer(randomBytes(32).toString('base64'))
    expect(signer.verify(DOWNLOAD_PURPOSE, ['x'], other.sign(DOWNLOAD_PURPOSE, ['x']))).toBe(false)
  })
})
