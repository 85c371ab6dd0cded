import { createPublicKey, generateKeyPairSync, type KeyObject, sign, verify } from 'node:crypto'
import { Webhook } from 'standardwebhooks'
import { describe, expect, it } from 'vitest'
import {
  generateSecret,
  PUBLIC_KEY_PREFIX,
  signedHeaders,
  verifyWebhook,
  WebhookVerificationError,
} from '../src/index.js'
import { privateKeyOf } from '../src/services/secrets.js'
import { generateSigningKey } from '../src/services/signing-keys.js'

const body = JSON.stringify({ type: 'invoice.paid', data: { id: 'inv_1', amount: 4200 } })
const at = new Date('2026-12-04T12:00:00Z')
const timestamp = String(at.getTime() / 1000)
const now = () => at

/** A key pair made by Node's crypto alone, its public key serialised as Standard Webhooks says. */
function independentPair(): { privateKey: KeyObject; whpk: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x as string, 'base64url')
  return { privateKey, whpk: `whpk_${raw.toString('base64')}` }
}

/** A `v1a` entry signed independently of the package, over `id.timestamp.body`. */
const v1a = (privateKey: KeyObject, id: string, content = body) =>
  `v1a,${sign(null, Buffer.from(`${id}.${timestamp}.${content}`), privateKey).toString('base64')}`

const headersWith = (id: string, signature: string) => ({
  'webhook-id': id,
  'webhook-timestamp': timestamp,
  'webhook-signature': signature,
})

function reasonOf(run: () => unknown): string {
  try {
    run()
  } catch (error) {
    if (error instanceof WebhookVerificationError) return error.reason
    throw error
  }
  return 'verified'
}

describe('asymmetric v1a signatures (Standard Webhooks 1.0, Ed25519)', () => {
  it('verifyWebhook accepts a v1a signature made with Node’s crypto, given the whpk_ key', () => {
    const pair = independentPair()
    const verified = verifyWebhook({
      body,
      headers: headersWith('msg_a', v1a(pair.privateKey, 'msg_a')),
      publicKey: pair.whpk,
      now,
    })
    expect(verified).toEqual({ id: 'msg_a', timestamp: at, payload: JSON.parse(body) })
  })

  it('refuses a v1a signature of another key, another body or another id', () => {
    const pair = independentPair()
    const stranger = independentPair()
    const check =
      (signature: string, id = 'msg_b', content = body) =>
      () =>
        verifyWebhook({
          body: content,
          headers: headersWith(id, signature),
          publicKey: pair.whpk,
          now,
        })
    expect(reasonOf(check(v1a(stranger.privateKey, 'msg_b')))).toBe('invalid_signature')
    expect(reasonOf(check(v1a(pair.privateKey, 'msg_b'), 'msg_b', `${body} `))).toBe(
      'invalid_signature',
    )
    expect(reasonOf(check(v1a(pair.privateKey, 'msg_other')))).toBe('invalid_signature')
    // Truncated and non-base64 entries are no match, never a crash.
    expect(reasonOf(check('v1a,AAAA'))).toBe('invalid_signature')
    expect(reasonOf(check('v1a,***'))).toBe('invalid_signature')
  })

  it('a v1a signature is not accepted as v1 nor a v1 as v1a', () => {
    const pair = independentPair()
    const secret = generateSecret(32)
    const hmacOnly = signedHeaders([secret], 'msg_c', at, body)
    expect(
      reasonOf(() => verifyWebhook({ body, headers: hmacOnly, publicKey: pair.whpk, now })),
    ).toBe('invalid_signature')
    const renamed = v1a(pair.privateKey, 'msg_c').replace(/^v1a,/, 'v1,')
    expect(
      reasonOf(() => verifyWebhook({ body, headers: headersWith('msg_c', renamed), secret, now })),
    ).toBe('invalid_signature')
  })

  it('with v1 and v1a in one header, a receiver holding either key verifies', () => {
    const pair = independentPair()
    const secret = generateSecret(32)
    const hmac = signedHeaders([secret], 'msg_d', at, body)['webhook-signature']
    const headers = headersWith('msg_d', `${hmac} ${v1a(pair.privateKey, 'msg_d')}`)
    expect(verifyWebhook({ body, headers, secret, now }).id).toBe('msg_d')
    expect(verifyWebhook({ body, headers, publicKey: pair.whpk, now }).id).toBe('msg_d')
    // A wrong secret beside the right public key: any valid entry verifies.
    expect(
      verifyWebhook({ body, headers, secret: generateSecret(32), publicKey: pair.whpk, now }).id,
    ).toBe('msg_d')
    // The reference library (which has no v1a) still verifies the v1 entry of such a header.
    const ours = generateSigningKey()
    const current = signedHeaders(
      [secret],
      'msg_d',
      new Date(),
      body,
      privateKeyOf(ours.privateKey),
    )
    expect(current['webhook-signature']).toContain(' v1a,')
    expect(new Webhook(secret).verify(body, current)).toEqual(JSON.parse(body))
  })

  it('our v1a entry verifies with Node’s crypto and the published whpk_ key', () => {
    const pair = generateSigningKey()
    expect(pair.publicKey).toMatch(/^whpk_[A-Za-z0-9+/]{43}=$/)
    expect(pair.privateKey).toMatch(/^whsk_[A-Za-z0-9+/]{43}=$/)
    const secret = generateSecret(32)
    const headers = signedHeaders([secret], 'msg_e', at, body, privateKeyOf(pair.privateKey))
    const entries = headers['webhook-signature'].split(' ')
    expect(entries.map((entry) => entry.split(',')[0])).toEqual(['v1', 'v1a'])
    const raw = Buffer.from(pair.publicKey.slice(PUBLIC_KEY_PREFIX.length), 'base64')
    const publicKey = createPublicKey({
      key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') },
      format: 'jwk',
    })
    const signature = Buffer.from((entries[1] as string).slice('v1a,'.length), 'base64')
    expect(verify(null, Buffer.from(`msg_e.${timestamp}.${body}`), publicKey, signature)).toBe(true)
    expect(verifyWebhook({ body, headers, publicKey: pair.publicKey, now }).id).toBe('msg_e')
  })

  it('verifyWebhook without a secret or a public key is a usage error, not a verification', () => {
    expect(() => verifyWebhook({ body, headers: headersWith('msg_f', 'v1,x'), now })).toThrow(
      TypeError,
    )
    expect(() =>
      verifyWebhook({ body, headers: headersWith('msg_f', 'v1,x'), publicKey: 'whpk_short', now }),
    ).toThrow(/public key/)
  })
})
