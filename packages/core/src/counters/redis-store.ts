import { type Clock, systemClock } from '../clock.js'
import { assertLease, assertWindow, gcraDecision, gcraParameters, nowMicros } from './gcra.js'
import {
  GCRA,
  LEASE,
  LEASE_RELEASE,
  runScript,
  WINDOW_GIVE_BACK,
  WINDOW_HIT,
  withTimeout,
} from './scripts.js'
import type {
  CounterRedis,
  CounterStore,
  CounterStoreOptions,
  GcraDecision,
  GcraLimit,
  LeaseDecision,
  LeaseLimit,
  WindowHit,
} from './types.js'

/**
 * Counters in Redis, shared by every instance. Fixed windows and attempt counters are one
 * integer key each, whose TTL is the window (Redis's clock, the same for every instance). GCRA
 * reads the injected clock, so all the instances of one deployment must run synced clocks
 * (NTP): an instance whose clock runs ahead drains buckets early for everyone.
 */
export class RedisCounterStore implements CounterStore {
  readonly kind = 'redis'
  readonly #redis: CounterRedis
  readonly #clock: Clock
  readonly #prefix: string
  readonly #timeoutMs: number | undefined

  constructor(options: CounterStoreOptions & { redis: CounterRedis }) {
    this.#redis = options.redis
    this.#clock = options.clock ?? systemClock
    this.#prefix = options.prefix ?? ''
    this.#timeoutMs = options.timeoutMs
  }

  async hit(key: string, windowMs: number): Promise<WindowHit> {
    assertWindow(windowMs)
    const reply = await runScript(
      this.#redis,
      WINDOW_HIT,
      [this.#prefix + key],
      [windowMs],
      this.#timeoutMs,
    )
    const [count, resetMs] = pair(reply, WINDOW_HIT.name)
    return { count, resetMs }
  }

  async giveBack(key: string): Promise<number> {
    const reply = await runScript(
      this.#redis,
      WINDOW_GIVE_BACK,
      [this.#prefix + key],
      [],
      this.#timeoutMs,
    )
    if (typeof reply !== 'number') throw unexpected(WINDOW_GIVE_BACK.name)
    return reply
  }

  async attempt(key: string, ttlMs: number): Promise<number> {
    assertWindow(ttlMs, 'ttl')
    return (await this.hit(key, ttlMs)).count
  }

  async gcra(key: string, limit: GcraLimit): Promise<GcraDecision> {
    const parameters = gcraParameters(limit)
    const reply = await runScript(
      this.#redis,
      GCRA,
      [this.#prefix + key],
      [nowMicros(this.#clock()), parameters.intervalMicros, parameters.toleranceMicros],
      this.#timeoutMs,
    )
    const [allowed, tatAheadMicros] = pair(reply, GCRA.name)
    if (allowed !== 0 && allowed !== 1) throw unexpected(GCRA.name)
    return gcraDecision(allowed === 1, tatAheadMicros, parameters)
  }

  async lease(key: string, holder: string, limit: LeaseLimit): Promise<LeaseDecision> {
    assertLease(holder, limit)
    const reply = await runScript(
      this.#redis,
      LEASE,
      [this.#prefix + key],
      [this.#clock().getTime(), limit.ttlMs, limit.limit, holder],
      this.#timeoutMs,
    )
    const [acquired, held] = pair(reply, LEASE.name)
    return { acquired: acquired === 1, held }
  }

  async release(key: string, holder: string): Promise<boolean> {
    const reply = await runScript(
      this.#redis,
      LEASE_RELEASE,
      [this.#prefix + key],
      [holder],
      this.#timeoutMs,
    )
    if (typeof reply !== 'number') throw unexpected(LEASE_RELEASE.name)
    return reply === 1
  }

  async reset(key: string): Promise<void> {
    await withTimeout(this.#redis.del(this.#prefix + key), this.#timeoutMs, 'DEL')
  }
}

/** The two integers a script answers. */
function pair(reply: unknown, script: string): [number, number] {
  if (Array.isArray(reply) && reply.length === 2) {
    const [first, second] = reply as [unknown, unknown]
    if (typeof first === 'number' && typeof second === 'number') return [first, second]
  }
  throw unexpected(script)
}

function unexpected(script: string): Error {
  return new Error(`unexpected reply from the ${script} script`)
}
