import { randomUUID } from 'node:crypto'
import type { z } from 'zod'
import { duplicateRedis, type RedisClient } from './data/redis.js'
import { throttledLog } from './log-throttle.js'
import type { Logger } from './logger.js'

/** Why messages may have been missed: the connection went, or it is back and resubscribed. */
export type MissedReason = 'disconnected' | 'resubscribed'

export interface BroadcastChannelOptions<M> {
  /** Checks every message from another instance; a malformed one is dropped with a warning. */
  schema: z.ZodType<M>
  /** A message another instance published (an instance never receives its own). */
  onMessage(message: M): void
  /**
   * Messages may have been missed: drop (or reload) whatever they would have invalidated. Called
   * when the subscriber connection drops and again once it is back and resubscribed.
   */
  onMissed?(reason: MissedReason): void | Promise<void>
}

export interface BroadcastChannel<M> {
  readonly name: string
  /**
   * Whether other instances' messages reach this one right now: always true without Redis (there
   * is no other instance), false while the subscriber is down or not yet confirmed subscribed. A
   * cache that must never serve what it might not hear about stores nothing while this is false.
   */
  readonly listening: boolean
  /** Sends to every other instance; rejects when Redis does not take it (the caller decides). */
  publish(message: M): Promise<void>
}

export interface BroadcastOptions {
  /** The app's Redis client, or null: one instance, nothing to broadcast. */
  redis: RedisClient | null
  /** Prefix of every channel name (core's `redisKeyPrefix`). */
  prefix: string
  logger: Pick<Logger, 'warn'>
}

interface Envelope {
  origin: string
  message: unknown
}

interface Subscription {
  readonly fullName: string
  readonly options: BroadcastChannelOptions<unknown>
}

/**
 * `app.broadcast`: pub/sub between the instances of one app over ONE Redis subscriber connection,
 * one channel per use (`auth:revocations`, `rbac:permissions`, …). It owns the reconnect policy
 * every in-memory cache needs: while the subscriber is down the channels are deaf (`listening`
 * false, `onMissed('disconnected')`), and after a reconnect they become listening only once a
 * PING answered after the resubscription proves it is in place (`onMissed('resubscribed')`).
 */
export class Broadcast {
  readonly #options: BroadcastOptions
  readonly #origin = randomUUID()
  readonly #channels = new Map<string, Subscription>()
  #subscriber: RedisClient | null = null
  #listening: boolean
  #closed = false

  constructor(options: BroadcastOptions) {
    this.#options = options
    this.#listening = options.redis === null
  }

  /** Declares a channel; its messages flow once `start()` has run (core runs it at `onReady`). */
  channel<M>(name: string, options: BroadcastChannelOptions<M>): BroadcastChannel<M> {
    const fullName = `${this.#options.prefix}${name}`
    if (this.#channels.has(fullName)) {
      throw new Error(`broadcast channel "${name}" is declared twice`)
    }
    const subscription: Subscription = {
      fullName,
      options: options as BroadcastChannelOptions<unknown>,
    }
    this.#channels.set(fullName, subscription)
    const subscriber = this.#subscriber
    if (subscriber && subscriber.status === 'ready') {
      subscriber.subscribe(fullName).catch((error: unknown) => {
        this.#options.logger.warn({ err: error, channel: fullName }, 'broadcast subscribe failed')
      })
    }
    const broadcast = this
    return {
      name,
      get listening() {
        return broadcast.#listening
      },
      publish: (message) => this.#publish(fullName, message),
    }
  }

  async start(): Promise<void> {
    const { redis } = this.#options
    if (!redis || this.#subscriber || this.#closed) return
    // A connection in subscriber mode can run no other command, so publishing keeps `redis`.
    // The 'ready' listener below resubscribes; ioredis's own resubscription leaves its SUBSCRIBE
    // unhandled, so a shutdown landing as the connection comes back was an unhandled rejection.
    const subscriber = duplicateRedis(redis, { autoResubscribe: false })
    this.#subscriber = subscriber
    subscriber.on('message', (channel: string, raw: string) => this.#receive(channel, raw))
    let lastError: Error | undefined
    const reportError = throttledLog((suppressed) =>
      this.#options.logger.warn({ err: lastError, suppressed }, 'broadcast subscriber error'),
    )
    subscriber.on('error', (error: Error) => {
      lastError = error
      reportError()
    })
    subscriber.on('close', () => {
      if (!this.#listening) return
      this.#options.logger.warn({}, 'broadcast subscriber disconnected: caches are paused')
      this.#deafen('disconnected')
    })
    try {
      await this.#subscribe(subscriber)
      this.#listening = true
    } catch (error) {
      // Redis is down at startup: the app starts with its caches paused, not at all otherwise.
      this.#options.logger.warn({ err: error }, 'broadcast: not subscribed yet; caches are paused')
    }
    // Attached after the first attempt, so its own connection does not count as a reconnect.
    subscriber.on('ready', () => {
      this.#subscribe(subscriber)
        .then(() => {
          if (this.#subscriber !== subscriber || subscriber.status !== 'ready') return
          if (this.#listening) return
          this.#listening = true
          this.#notify('resubscribed')
        })
        .catch(() => {
          // Gone again: 'close' keeps the channels deaf and the next 'ready' retries.
        })
    })
  }

  /** Subscribes every channel (again: SUBSCRIBE is idempotent) and proves it with a PING. */
  async #subscribe(subscriber: RedisClient): Promise<void> {
    const names = [...this.#channels.keys()]
    if (names.length > 0) await subscriber.subscribe(...names)
    // Redis answers in order: a PONG after the SUBSCRIBE means the subscription is in place.
    await subscriber.ping()
  }

  async close(): Promise<void> {
    this.#closed = true
    const subscriber = this.#subscriber
    this.#subscriber = null
    if (!subscriber) return
    subscriber.removeAllListeners('ready')
    subscriber.removeAllListeners('close')
    await subscriber.quit().catch(() => subscriber.disconnect())
  }

  async #publish(fullName: string, message: unknown): Promise<void> {
    const { redis } = this.#options
    if (!redis) return
    const envelope: Envelope = { origin: this.#origin, message }
    await redis.publish(fullName, JSON.stringify(envelope))
  }

  #receive(channel: string, raw: string): void {
    const subscription = this.#channels.get(channel)
    if (!subscription) return
    let envelope: Partial<Envelope> | null = null
    try {
      envelope = JSON.parse(raw) as Partial<Envelope>
    } catch {
      envelope = null
    }
    if (envelope?.origin === this.#origin) return
    const parsed = subscription.options.schema.safeParse(envelope?.message)
    if (!envelope || typeof envelope.origin !== 'string' || !parsed.success) {
      this.#options.logger.warn({ channel }, 'broadcast: ignored a malformed message')
      return
    }
    try {
      subscription.options.onMessage(parsed.data)
    } catch (error) {
      this.#options.logger.warn({ err: error, channel }, 'broadcast: a message handler failed')
    }
  }

  #deafen(reason: MissedReason): void {
    this.#listening = false
    this.#notify(reason)
  }

  /** Synchronously, so a cache is empty before anything else can read it. */
  #notify(reason: MissedReason): void {
    for (const { fullName, options } of this.#channels.values()) {
      const warn = (error: unknown) =>
        this.#options.logger.warn({ err: error, channel: fullName }, 'broadcast: resync failed')
      try {
        const pending = options.onMissed?.(reason)
        if (pending) pending.catch(warn)
      } catch (error) {
        warn(error)
      }
    }
  }
}
