import { manualClock } from '@acme/test-kit'
import { TEST_REDIS_URL, uniquePrefix } from '@acme/test-support'
import { Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'
import {
  type RateLimit,
  type RateLimitDecision,
  RateLimiter,
  rateLimitHeaders,
} from '../src/services/rate-limiter.js'

const prefix = uniquePrefix('ratelimit')
const redis = new Redis(TEST_REDIS_URL)
const otherConnection = new Redis(TEST_REDIS_URL)

const PER_MINUTE: RateLimit = { limit: 100, periodMs: 60_000 }
/** A realistic epoch, so the script's microsecond arithmetic runs on the magnitudes of production. */
const START = Date.UTC(2030, 0, 1)

afterAll(async () => {
  const keys = await redis.keys(`${prefix}*`)
  if (keys.length > 0) await redis.del(...keys)
  await Promise.all([redis.quit(), otherConnection.quit()])
})

let subjects = 0
/** A limiter on a fresh subject, so tests share the prefix but never a bucket. */
function limiterForOneSubject(connection: Redis = redis) {
  const clock = manualClock(new Date(START))
  subjects += 1
  const subject = `tenant-${subjects}`
  const limiter = new RateLimiter({
    redis: connection,
    keyPrefix: prefix,
    now: () => clock.now().getTime(),
  })
  return { limiter, clock, subject, key: prefix + subject }
}

async function consumeMany(
  limiter: RateLimiter,
  subject: string,
  count: number,
  limit: RateLimit = PER_MINUTE,
): Promise<RateLimitDecision[]> {
  const decisions: RateLimitDecision[] = []
  for (let request = 0; request < count; request++) {
    decisions.push(await limiter.consume(subject, limit))
  }
  return decisions
}

const allowedCount = (decisions: readonly RateLimitDecision[]) =>
  decisions.filter((decision) => decision.allowed).length

describe('RateLimiter (GCRA in Redis)', () => {
  it('lets a full period of requests through at once, then one more per interval', async () => {
    const { limiter, clock, subject } = limiterForOneSubject()
    expect(allowedCount(await consumeMany(limiter, subject, 100))).toBe(100)

    // 100 per minute is one request per 600 ms: the 101st waits 0.6 s, told as 1 s.
    expect(await limiter.consume(subject, PER_MINUTE)).toEqual({
      allowed: false,
      limit: 100,
      remaining: 0,
      resetSeconds: 60,
      retryAfterSeconds: 1,
    })
    clock.set(new Date(START + 599))
    expect((await limiter.consume(subject, PER_MINUTE)).allowed).toBe(false)
    clock.set(new Date(START + 600))
    expect(await limiter.consume(subject, PER_MINUTE)).toMatchObject({
      allowed: true,
      remaining: 0,
      retryAfterSeconds: 0,
    })
    expect((await limiter.consume(subject, PER_MINUTE)).allowed).toBe(false)
  })

  it('never refuses evenly spread traffic that the burst absorbs (150 over a minute)', async () => {
    const { limiter, clock, subject } = limiterForOneSubject()
    const decisions: RateLimitDecision[] = []
    for (let request = 0; request < 150; request++) {
      clock.set(new Date(START + request * 400))
      decisions.push(await limiter.consume(subject, PER_MINUTE))
    }
    // The debt peaks at 150 × 600 ms − 149 × 400 ms = 30.4 s, within the 60 s burst tolerance,
    // where a fixed window of 100 per minute would have refused 50 of them.
    expect(allowedCount(decisions)).toBe(150)
    expect(decisions.at(-1)?.remaining).toBe(49)
  })

  it('gives a sustained overload exactly the burst plus the smooth rate', async () => {
    const { limiter, clock, subject } = limiterForOneSubject()
    const decisions: RateLimitDecision[] = []
    for (let request = 0; request < 300; request++) {
      clock.set(new Date(START + request * 200))
      decisions.push(await limiter.consume(subject, PER_MINUTE))
    }
    // Request n (at 200n ms) passes while 600n <= 200n + 59 400 ms, so the first 149 (n <= 148)
    // pass; from then on one in three (n = 150, 153, …, 297): 50 more. 199 = 100 + ⌊59.8 s / 0.6 s⌋.
    expect(decisions.findIndex((decision) => !decision.allowed)).toBe(149)
    expect(allowedCount(decisions)).toBe(199)
    const allowedAfterTheBurst = decisions
      .map((decision, request) => (decision.allowed ? request : -1))
      .filter((request) => request >= 149)
    expect(allowedAfterTheBurst).toEqual(Array.from({ length: 50 }, (_, step) => 150 + step * 3))
  })

  it('does not double the limit for a burst on both sides of a window edge', async () => {
    const { limiter, clock, subject } = limiterForOneSubject()
    clock.set(new Date(START + 59_900))
    const beforeTheEdge = await consumeMany(limiter, subject, 100)
    clock.set(new Date(START + 60_100))
    const afterTheEdge = await consumeMany(limiter, subject, 100)
    expect(allowedCount(beforeTheEdge)).toBe(100)
    // 200 ms refill less than one 600 ms interval: none of the second hundred passes.
    expect(allowedCount(afterTheEdge)).toBe(0)
    expect(afterTheEdge[0]?.retryAfterSeconds).toBe(1)
  })

  it('counts each subject on its own', async () => {
    const { limiter, subject: tenantA } = limiterForOneSubject()
    const { subject: tenantB } = limiterForOneSubject()
    const small: RateLimit = { limit: 5 }
    expect(allowedCount(await consumeMany(limiter, tenantA, 6, small))).toBe(5)
    expect(allowedCount(await consumeMany(limiter, tenantB, 5, small))).toBe(5)
    expect((await limiter.consume(tenantA, small)).allowed).toBe(false)
  })

  it('shares one budget between two instances on separate connections', async () => {
    const { limiter: first, clock, subject } = limiterForOneSubject(redis)
    const second = new RateLimiter({
      redis: otherConnection,
      keyPrefix: prefix,
      now: () => clock.now().getTime(),
    })
    const limit: RateLimit = { limit: 10 }
    const decisions: RateLimitDecision[] = []
    for (let request = 0; request < 10; request++) {
      const instance = request % 2 === 0 ? first : second
      decisions.push(await instance.consume(subject, limit))
    }
    expect(allowedCount(decisions)).toBe(10)
    expect((await first.consume(subject, limit)).allowed).toBe(false)
    expect((await second.consume(subject, limit)).allowed).toBe(false)
  })

  it('lets concurrent requests through no more than the burst', async () => {
    const { limiter, subject } = limiterForOneSubject()
    const limit: RateLimit = { limit: 100, burst: 5 }
    const decisions = await Promise.all(
      Array.from({ length: 50 }, () => limiter.consume(subject, limit)),
    )
    expect(allowedCount(decisions)).toBe(5)
  })

  it('reports remaining and reset as the bucket drains and refills', async () => {
    const { limiter, clock, subject } = limiterForOneSubject()
    expect(await limiter.consume(subject, PER_MINUTE)).toEqual({
      allowed: true,
      limit: 100,
      remaining: 99,
      resetSeconds: 1,
      retryAfterSeconds: 0,
    })
    const drained = await consumeMany(limiter, subject, 99)
    expect(drained.at(-1)).toMatchObject({ allowed: true, remaining: 0, resetSeconds: 60 })

    // Half a minute refills half the bucket; this request takes one of those 50.
    clock.set(new Date(START + 30_000))
    expect(await limiter.consume(subject, PER_MINUTE)).toEqual({
      allowed: true,
      limit: 100,
      remaining: 49,
      resetSeconds: 31,
      retryAfterSeconds: 0,
    })
  })

  it('honours a burst other than the limit', async () => {
    const { limiter, clock, subject: smooth } = limiterForOneSubject()
    const { subject: bursty } = limiterForOneSubject()
    const smoothLimit: RateLimit = { limit: 60, periodMs: 60_000, burst: 5 }
    expect(allowedCount(await consumeMany(limiter, smooth, 10, smoothLimit))).toBe(5)
    clock.set(new Date(START + 999))
    expect((await limiter.consume(smooth, smoothLimit)).allowed).toBe(false)
    clock.set(new Date(START + 1_000))
    expect((await limiter.consume(smooth, smoothLimit)).allowed).toBe(true)

    const burstyLimit: RateLimit = { limit: 10, burst: 20 }
    expect(allowedCount(await consumeMany(limiter, bursty, 25, burstyLimit))).toBe(20)
  })

  it('refills the bucket only up to the burst, however long the subject was idle', async () => {
    const { limiter, clock, subject } = limiterForOneSubject()
    await limiter.consume(subject, PER_MINUTE)
    // Ten idle minutes on the hand-moved clock; Redis has not expired the key in real time.
    clock.set(new Date(START + 600_000))
    expect(allowedCount(await consumeMany(limiter, subject, 150))).toBe(100)
  })

  it('rounds the wait up to whole seconds', async () => {
    const { limiter, clock, subject } = limiterForOneSubject()
    const oneEverySixSeconds: RateLimit = { limit: 10, burst: 1 }
    await limiter.consume(subject, oneEverySixSeconds)
    clock.set(new Date(START + 1_500))
    expect(await limiter.consume(subject, oneEverySixSeconds)).toEqual({
      allowed: false,
      limit: 10,
      remaining: 0,
      resetSeconds: 5,
      retryAfterSeconds: 5,
    })
  })

  it('lets its key expire once the bucket is full again', async () => {
    const { limiter, subject, key } = limiterForOneSubject()
    await limiter.consume(subject, PER_MINUTE)
    const afterOne = await redis.pttl(key)
    expect(afterOne).toBeGreaterThan(0)
    expect(afterOne).toBeLessThanOrEqual(600)

    await consumeMany(limiter, subject, 99)
    const afterAll = await redis.pttl(key)
    expect(afterAll).toBeGreaterThan(59_000)
    expect(afterAll).toBeLessThanOrEqual(60_000)

    // A refusal writes nothing, so it cannot extend the key's life either.
    await limiter.consume(subject, PER_MINUTE)
    expect(await redis.pttl(key)).toBeLessThanOrEqual(afterAll)
  })

  it('reloads its script after Redis has forgotten it', async () => {
    const { limiter, subject } = limiterForOneSubject()
    await limiter.consume(subject, PER_MINUTE)
    await redis.script('FLUSH')
    expect(await limiter.consume(subject, PER_MINUTE)).toMatchObject({
      allowed: true,
      remaining: 98,
    })
  })

  it('rejects when Redis cannot be reached, rather than deciding', async () => {
    const unreachable = new Redis(TEST_REDIS_URL, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
    })
    const limiter = new RateLimiter({ redis: unreachable, keyPrefix: prefix })
    try {
      await expect(limiter.consume('tenant-offline', PER_MINUTE)).rejects.toThrow()
    } finally {
      unreachable.disconnect()
    }
  })

  it('refuses limits that cannot be enforced', async () => {
    const { limiter, subject } = limiterForOneSubject()
    await expect(limiter.consume(subject, { limit: 0 })).rejects.toThrow(RangeError)
    await expect(limiter.consume(subject, { limit: 1.5 })).rejects.toThrow(RangeError)
    await expect(limiter.consume(subject, { limit: 10, burst: 0 })).rejects.toThrow(RangeError)
    await expect(limiter.consume(subject, { limit: 10, periodMs: 0 })).rejects.toThrow(RangeError)
  })
})

describe('rateLimitHeaders', () => {
  const policy = { limit: 100, periodMs: 60_000 }

  it('renders the draft RateLimit fields, without Retry-After when allowed', () => {
    const decision: RateLimitDecision = {
      allowed: true,
      limit: 100,
      remaining: 99,
      resetSeconds: 1,
      retryAfterSeconds: 0,
    }
    expect(rateLimitHeaders(decision, policy)).toEqual({
      'ratelimit-limit': '100',
      'ratelimit-remaining': '99',
      'ratelimit-reset': '1',
      'ratelimit-policy': '100;w=60',
    })
  })

  it('adds Retry-After in whole seconds, at least 1, on a refusal', () => {
    const decision: RateLimitDecision = {
      allowed: false,
      limit: 100,
      remaining: 0,
      resetSeconds: 60,
      retryAfterSeconds: 1,
    }
    expect(rateLimitHeaders(decision, policy)).toEqual({
      'ratelimit-limit': '100',
      'ratelimit-remaining': '0',
      'ratelimit-reset': '60',
      'ratelimit-policy': '100;w=60',
      'retry-after': '1',
    })
    expect(rateLimitHeaders({ ...decision, retryAfterSeconds: 0 }, policy)['retry-after']).toBe('1')
  })

  it('states the window in whole seconds whatever the period', () => {
    const decision: RateLimitDecision = {
      allowed: true,
      limit: 5_000,
      remaining: 4_999,
      resetSeconds: 1,
      retryAfterSeconds: 0,
    }
    expect(
      rateLimitHeaders(decision, { limit: 5_000, periodMs: 3_600_000 })['ratelimit-policy'],
    ).toBe('5000;w=3600')
  })
})
