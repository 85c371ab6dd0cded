import { randomBytes } from 'node:crypto'
import { TEST_REDIS_URL, uniquePrefix } from '@acme/test-support'
import { Redis } from 'ioredis'
import { WebhookVerificationError as PeerVerificationError, Webhook } from 'standardwebhooks'
import { afterAll, describe, expect, it } from 'vitest'
import {
  generateSecret,
  handleOnce,
  MemoryIdempotencyStore,
  redisIdempotencyStore,
  signedHeaders,
  verifyWebhook,
  WebhookVerificationError,
} from '../src/index.js'
import * as receiver from '../src/receiver/index.js'

const body = JSON.stringify({ type: 'invoice.paid', data: { id: 'inv_1', amount: 4200 } })
const at = new Date('2026-12-04T12:00:00Z')
const now = () => at

describe('signatures per Standard Webhooks 1.0, checked against the standardwebhooks package', () => {
  it('our signature verifies with the reference implementation (WH-01)', () => {
    const secret = generateSecret(32)
    const headers = signedHeaders([secret], 'msg_abc', new Date(), body)
    expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/)
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body))
  })

  it('the reference implementation refuses our signature with another secret or body', () => {
    const headers = signedHeaders([generateSecret(32)], 'msg_abc', new Date(), body)
    expect(() => new Webhook(generateSecret(32)).verify(body, headers)).toThrow(
      PeerVerificationError,
    )
    expect(() => new Webhook(generateSecret(32)).verify(`${body} `, headers)).toThrow()
  })

  it('during a rotation both secrets sign, and a receiver holding either verifies (WH-02)', () => {
    const current = generateSecret(32)
    const previous = generateSecret(32)
    const headers = signedHeaders([current, previous], 'msg_rot', new Date(), body)
    expect(headers['webhook-signature'].split(' ')).toHaveLength(2)
    expect(new Webhook(current).verify(body, headers)).toEqual(JSON.parse(body))
    expect(new Webhook(previous).verify(body, headers)).toEqual(JSON.parse(body))
    expect(verifyWebhook({ body, headers, secret: previous })).toMatchObject({ id: 'msg_rot' })
  })

  it('verifyWebhook accepts what the reference implementation signs', () => {
    const secret = generateSecret(24)
    const signature = new Webhook(secret).sign('msg_ref', at, body)
    const verified = verifyWebhook({
      body: Buffer.from(body),
      headers: {
        'webhook-id': 'msg_ref',
        'webhook-timestamp': String(at.getTime() / 1000),
        'webhook-signature': signature,
      },
      secret,
      now,
    })
    expect(verified).toEqual({ id: 'msg_ref', timestamp: at, payload: JSON.parse(body) })
  })

  it('verifyWebhook reads Fetch Headers too', () => {
    const secret = generateSecret(32)
    const headers = new Headers(signedHeaders([secret], 'msg_fetch', at, body))
    expect(verifyWebhook({ body, headers, secret, now }).id).toBe('msg_fetch')
  })
})

describe('verifyWebhook refuses (WH-03)', () => {
  const secret = generateSecret(32)
  const sign = (when: Date, id = 'msg_1', text = body) => signedHeaders([secret], id, when, text)
  const reason = (run: () => unknown) => {
    try {
      run()
    } catch (error) {
      expect(error).toBeInstanceOf(WebhookVerificationError)
      return (error as WebhookVerificationError).reason
    }
    throw new Error('it verified')
  }

  it('a timestamp more than 5 minutes old or ahead, by default', () => {
    const old = new Date(at.getTime() - 301_000)
    const ahead = new Date(at.getTime() + 301_000)
    expect(reason(() => verifyWebhook({ body, headers: sign(old), secret, now }))).toBe(
      'timestamp_too_old',
    )
    expect(reason(() => verifyWebhook({ body, headers: sign(ahead), secret, now }))).toBe(
      'timestamp_too_new',
    )
    // Inside the window both ways: accepted.
    const edge = new Date(at.getTime() - 299_000)
    expect(verifyWebhook({ body, headers: sign(edge), secret, now }).id).toBe('msg_1')
    // A tolerance of its own.
    expect(
      reason(() => verifyWebhook({ body, headers: sign(edge), secret, now, toleranceSeconds: 60 })),
    ).toBe('timestamp_too_old')
  })

  it('a tampered body, id or timestamp', () => {
    const headers = sign(at)
    expect(
      reason(() => verifyWebhook({ body: body.replace('4200', '4201'), headers, secret, now })),
    ).toBe('invalid_signature')
    expect(
      reason(() =>
        verifyWebhook({ body, headers: { ...headers, 'webhook-id': 'msg_2' }, secret, now }),
      ),
    ).toBe('invalid_signature')
    const shifted = String(Number(headers['webhook-timestamp']) + 1)
    expect(
      reason(() =>
        verifyWebhook({ body, headers: { ...headers, 'webhook-timestamp': shifted }, secret, now }),
      ),
    ).toBe('invalid_signature')
  })

  it('the wrong secret, and a signature of another version or truncated', () => {
    const headers = sign(at)
    expect(reason(() => verifyWebhook({ body, headers, secret: generateSecret(32), now }))).toBe(
      'invalid_signature',
    )
    const mac = headers['webhook-signature'].slice(3)
    for (const signature of [`v1a,${mac}`, `v2,${mac}`, `v1,${mac.slice(0, 20)}`, mac, '']) {
      expect(
        reason(() =>
          verifyWebhook({
            body,
            headers: { ...headers, 'webhook-signature': signature },
            secret,
            now,
          }),
        ),
      ).toBe(signature === '' ? 'missing_headers' : 'invalid_signature')
    }
  })

  it('missing headers and a timestamp that is not a number', () => {
    const headers = sign(at)
    const { 'webhook-id': _id, ...noId } = headers
    expect(reason(() => verifyWebhook({ body, headers: noId, secret, now }))).toBe(
      'missing_headers',
    )
    expect(
      reason(() =>
        verifyWebhook({ body, headers: { ...headers, 'webhook-timestamp': '1e9' }, secret, now }),
      ),
    ).toBe('invalid_timestamp')
  })

  it('accepts any of several secrets and any of several signatures', () => {
    const headers = sign(at)
    const other = generateSecret(32)
    expect(verifyWebhook({ body, headers, secret: [other, secret], now }).id).toBe('msg_1')
    const extra = signedHeaders([other], 'msg_1', at, body)['webhook-signature']
    const both = { ...headers, 'webhook-signature': `${extra} ${headers['webhook-signature']}` }
    expect(verifyWebhook({ body, headers: both, secret, now }).id).toBe('msg_1')
  })
})

describe('secrets', () => {
  it('are whsec_ and base64 of the configured number of random bytes, all different', () => {
    const secrets = new Set(Array.from({ length: 200 }, () => generateSecret(32)))
    expect(secrets.size).toBe(200)
    for (const secret of secrets) {
      expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/)
      expect(Buffer.from(secret.slice(6), 'base64')).toHaveLength(32)
    }
    expect(Buffer.from(generateSecret(24).slice(6), 'base64')).toHaveLength(24)
  })
})

describe('handleOnce runs a repeated message once (WH-03)', () => {
  const redis = new Redis(TEST_REDIS_URL)
  afterAll(async () => {
    await redis.quit()
  })

  it('in memory: a retry with the same webhook-id is skipped, a failed run is retried', async () => {
    const store = new MemoryIdempotencyStore()
    const runs: string[] = []
    const handle = (id: string, fail = false) =>
      handleOnce(store, id, async () => {
        runs.push(id)
        if (fail) throw new Error('downstream down')
        return id.length
      })
    expect(await handle('msg_a')).toEqual({ handled: true, result: 5 })
    expect(await handle('msg_a')).toEqual({ handled: false })
    await expect(handle('msg_b', true)).rejects.toThrow('downstream down')
    expect(await handle('msg_b')).toEqual({ handled: true, result: 5 })
    expect(runs).toEqual(['msg_a', 'msg_b', 'msg_b'])
  })

  it('in Redis, shared by two receivers: of concurrent deliveries exactly one runs', async () => {
    const prefix = `${uniquePrefix('webhook-idem')}`
    const first = redisIdempotencyStore(redis, prefix)
    const second = redisIdempotencyStore(redis, prefix)
    const id = `msg_${randomBytes(8).toString('hex')}`
    let runs = 0
    const results = await Promise.all(
      [first, second, first, second].map((store) =>
        handleOnce(store, id, async () => {
          runs++
        }),
      ),
    )
    expect(runs).toBe(1)
    expect(results.filter((result) => result.handled)).toHaveLength(1)
    expect(await redis.ttl(`${prefix}${id}`)).toBeGreaterThan(86_400)
  })
})

describe('the receiver entry point', () => {
  it('exports the verifier without Fastify or core', () => {
    expect(Object.keys(receiver).sort()).toEqual([
      'MemoryIdempotencyStore',
      'PUBLIC_KEY_PREFIX',
      'SECRET_PREFIX',
      'WebhookVerificationError',
      'handleOnce',
      'redisIdempotencyStore',
      'verifyWebhook',
    ])
  })
})
