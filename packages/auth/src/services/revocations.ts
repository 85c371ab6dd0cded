import type { Redis } from 'ioredis'
import type { Clock } from '../clock.js'

export interface RevocationListOptions {
  /** Shared with the rest of the app; `null` when there is a single instance. */
  redis: Redis | null
  channel: string
  /** The access-token lifetime plus clock tolerance: after that a revoked session's tokens are dead anyway. */
  ttlSeconds: number
  clock: Clock
  /** Session ids revoked since `since`, so a new (or reconnected) instance knows recent revocations. */
  loadRecent?: (since: Date) => Promise<string[]>
  logger?: { warn(o: object, m?: string): void }
}

/**
 * Immediate revocation (SES-01) without a database or Redis round trip per request: revoked session
 * ids are held in memory only as long as an access token can live, spread across instances through
 * Redis pub/sub, and loaded from the database at startup.
 */
export class RevocationList {
  readonly #options: RevocationListOptions
  /** Session id → when this instance learnt of the revocation (ms, by the injected clock). */
  readonly #revoked = new Map<string, number>()
  #subscriber: Redis | null = null
  #sweeper: NodeJS.Timeout | null = null

  constructor(options: RevocationListOptions) {
    this.#options = options
  }

  async start(): Promise<void> {
    const { redis, channel } = this.#options
    // Sweeping only bounds memory; correctness comes from the age check in isRevoked.
    this.#sweeper = setInterval(() => this.#sweep(), Math.max(this.#ttlMs(), 1000))
    this.#sweeper.unref()
    if (redis) {
      // A connection in subscriber mode can run no other command, so publishing keeps `redis`.
      const subscriber = redis.duplicate()
      this.#subscriber = subscriber
      subscriber.on('message', (from: string, message: string) => {
        if (from === channel) this.#receive(message)
      })
      subscriber.on('error', (error: Error) => {
        this.#options.logger?.warn({ err: error, channel }, 'revocation subscriber error')
      })
      await subscriber.subscribe(channel)
      // ioredis resubscribes after a reconnect, but messages sent meanwhile are lost: reload them.
      subscriber.on('ready', () => {
        this.#loadRecent().catch((error: unknown) => {
          this.#options.logger?.warn({ err: error }, 'reloading recent revocations failed')
        })
      })
    }
    // Subscribed first, so a revocation published while loading is not missed.
    await this.#loadRecent()
  }

  /** Takes effect locally at once; other instances learn of it through Redis. */
  async revoke(sessionIds: string[]): Promise<void> {
    if (sessionIds.length === 0) return
    this.#add(sessionIds)
    const { redis, channel } = this.#options
    if (!redis) return
    try {
      await redis.publish(channel, JSON.stringify(sessionIds))
    } catch (error) {
      // Rethrown so the caller can fail the request and the client retry: revoking is idempotent.
      this.#options.logger?.warn({ err: error, channel }, 'publishing a revocation failed')
      throw error
    }
  }

  isRevoked(sessionId: string): boolean {
    const at = this.#revoked.get(sessionId)
    if (at === undefined) return false
    if (this.#now() - at > this.#ttlMs()) {
      this.#revoked.delete(sessionId)
      return false
    }
    return true
  }

  async close(): Promise<void> {
    if (this.#sweeper) clearInterval(this.#sweeper)
    this.#sweeper = null
    const subscriber = this.#subscriber
    this.#subscriber = null
    if (subscriber) {
      subscriber.removeAllListeners('ready')
      await subscriber.quit().catch(() => subscriber.disconnect())
    }
  }

  async #loadRecent(): Promise<void> {
    const { loadRecent } = this.#options
    if (!loadRecent) return
    const since = new Date(this.#now() - this.#ttlMs())
    this.#add(await loadRecent(since))
  }

  #receive(message: string): void {
    let ids: unknown
    try {
      ids = JSON.parse(message)
    } catch {
      ids = null
    }
    if (!Array.isArray(ids) || !ids.every((id): id is string => typeof id === 'string')) {
      this.#options.logger?.warn({ channel: this.#options.channel }, 'ignored malformed revocation')
      return
    }
    this.#add(ids)
  }

  /** Timed from when this instance learnt of it: errs on keeping an entry slightly too long. */
  #add(sessionIds: readonly string[]): void {
    const now = this.#now()
    for (const id of sessionIds) this.#revoked.set(id, now)
  }

  #sweep(): void {
    const oldest = this.#now() - this.#ttlMs()
    for (const [id, at] of this.#revoked) if (at < oldest) this.#revoked.delete(id)
  }

  #now(): number {
    return this.#options.clock().getTime()
  }

  #ttlMs(): number {
    return this.#options.ttlSeconds * 1000
  }
}
