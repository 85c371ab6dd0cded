import type { Broadcast, BroadcastChannel, Clock } from '@acme/core'
import { z } from 'zod'

export interface RevocationListOptions {
  /** Core's `app.broadcast`: revocations reach the other instances through it. */
  broadcast: Broadcast
  /** Channel name within the app's prefix. */
  channel?: string
  /** The access-token lifetime plus clock tolerance: after that a revoked session's tokens are dead anyway. */
  ttlSeconds: number
  clock: Clock
  /** Session ids revoked since `since`, so a new (or reconnected) instance knows recent revocations. */
  loadRecent?: (since: Date) => Promise<string[]>
  logger?: { warn(o: object, m?: string): void }
}

const sessionIds = z.array(z.string())

/**
 * Immediate revocation (SES-01) without a database or Redis round trip per request: revoked session
 * ids are held in memory only as long as an access token can live, spread across instances through
 * core's broadcast, and loaded from the database at startup and whenever messages may have been
 * missed (the broadcast reconnected).
 */
export class RevocationList {
  readonly #options: RevocationListOptions
  readonly #channel: BroadcastChannel<string[]>
  /** Session id → when this instance learnt of the revocation (ms, by the injected clock). */
  readonly #revoked = new Map<string, number>()
  #sweeper: NodeJS.Timeout | null = null

  constructor(options: RevocationListOptions) {
    this.#options = options
    this.#channel = options.broadcast.channel(options.channel ?? 'auth:revoked-sessions', {
      schema: sessionIds,
      onMessage: (ids) => this.#add(ids),
      onMissed: async (reason) => {
        if (reason === 'resubscribed') await this.#loadRecent()
      },
    })
  }

  /** After the broadcast has started (core starts it first), so nothing published is missed. */
  async start(): Promise<void> {
    // Sweeping only bounds memory; correctness comes from the age check in isRevoked.
    this.#sweeper = setInterval(() => this.#sweep(), Math.max(this.#ttlMs(), 1000))
    this.#sweeper.unref()
    await this.#loadRecent()
  }

  /** Takes effect locally at once; other instances learn of it through Redis. */
  async revoke(sessionIds: string[]): Promise<void> {
    if (sessionIds.length === 0) return
    this.#add(sessionIds)
    try {
      await this.#channel.publish(sessionIds)
    } catch (error) {
      // Rethrown so the caller can fail the request and the client retry: revoking is idempotent.
      this.#options.logger?.warn({ err: error }, 'publishing a revocation failed')
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
  }

  async #loadRecent(): Promise<void> {
    const { loadRecent } = this.#options
    if (!loadRecent) return
    const since = new Date(this.#now() - this.#ttlMs())
    this.#add(await loadRecent(since))
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
