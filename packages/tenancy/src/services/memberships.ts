import type { Redis } from 'ioredis'

export interface TenantSummary {
  id: string
  slug: string
  name: string
  plan: string
  status: string
}

/** What a request needs to know about its caller in a tenant. */
export interface MembershipInfo {
  tenant: TenantSummary
  roles: string[]
}

export interface MembershipDirectoryOptions {
  /** The database lookup; null when the user is not a member (or the tenant does not exist). */
  lookup: (tenantId: string, userId: string) => Promise<MembershipInfo | null>
  /** The tenant id of a slug (subdomain resolution); null when no tenant has it. */
  lookupSlug: (slug: string) => Promise<string | null>
  redis: Redis | null
  channel: string
  ttlMs: number
  /** Bound on cached entries: the oldest go first. */
  maxEntries?: number
  logger?: { warn(o: object, m?: string): void }
}

interface Entry {
  value: MembershipInfo | null
  expiresAt: number
}

/**
 * Memberships (and the tenant ids of slugs) cached in memory, so a tenant-scoped request costs
 * no lookup once warm. Changes
 * (role changes, removals, tenant updates) drop the entries on this instance at once and on the
 * others through Redis pub/sub; the TTL bounds staleness if a message is lost.
 */
export class MembershipDirectory {
  readonly #options: MembershipDirectoryOptions
  readonly #entries = new Map<string, Entry>()
  readonly #pending = new Map<string, Promise<MembershipInfo | null>>()
  /** Slug → tenant id, for subdomains; dropped with the tenant, since a slug can change. */
  readonly #slugs = new Map<string, { tenantId: string; expiresAt: number }>()
  #subscriber: Redis | null = null
  /** Bumped on every drop, so a lookup that started before a change does not cache its result. */
  #generation = 0

  constructor(options: MembershipDirectoryOptions) {
    this.#options = options
  }

  async start(): Promise<void> {
    const { redis, channel } = this.#options
    if (!redis) return
    const subscriber = redis.duplicate()
    this.#subscriber = subscriber
    subscriber.on('message', (from: string, message: string) => {
      if (from === channel) this.#receive(message)
    })
    subscriber.on('error', (error: Error) => {
      this.#options.logger?.warn({ err: error, channel }, 'membership subscriber error')
    })
    // After a reconnect, messages may have been missed: start from an empty cache.
    subscriber.on('ready', () => {
      this.#entries.clear()
      this.#slugs.clear()
    })
    await subscriber.subscribe(channel)
  }

  async close(): Promise<void> {
    const subscriber = this.#subscriber
    this.#subscriber = null
    if (subscriber) {
      subscriber.removeAllListeners('ready')
      await subscriber.quit().catch(() => subscriber.disconnect())
    }
  }

  async get(tenantId: string, userId: string): Promise<MembershipInfo | null> {
    const key = `${tenantId}:${userId}`
    const entry = this.#entries.get(key)
    if (entry && entry.expiresAt > Date.now()) return entry.value
    const pending = this.#pending.get(key)
    if (pending) return pending
    const generation = this.#generation
    const lookup = this.#options
      .lookup(tenantId, userId)
      .then((value) => {
        if (generation === this.#generation) this.#store(key, value)
        return value
      })
      .finally(() => this.#pending.delete(key))
    this.#pending.set(key, lookup)
    return lookup
  }

  /**
   * The tenant a slug names. Only found slugs are cached: a tenant created on another instance
   * must resolve at once, and the membership check that follows refuses an unknown one anyway.
   */
  async tenantIdBySlug(slug: string): Promise<string | null> {
    const entry = this.#slugs.get(slug)
    if (entry && entry.expiresAt > Date.now()) return entry.tenantId
    const generation = this.#generation
    const tenantId = await this.#options.lookupSlug(slug)
    if (tenantId !== null && generation === this.#generation && this.#options.ttlMs > 0) {
      if (this.#slugs.size >= (this.#options.maxEntries ?? 100_000)) this.#slugs.clear()
      this.#slugs.set(slug, { tenantId, expiresAt: Date.now() + this.#options.ttlMs })
    }
    return tenantId
  }

  /** Drops what this instance knows of the tenant (or one member of it), everywhere. */
  async invalidate(tenantId: string, userId?: string): Promise<void> {
    this.#drop(tenantId, userId)
    const { redis, channel } = this.#options
    if (redis) await redis.publish(channel, JSON.stringify({ tenantId, userId: userId ?? null }))
  }

  #store(key: string, value: MembershipInfo | null): void {
    if (this.#options.ttlMs === 0) return
    const max = this.#options.maxEntries ?? 100_000
    if (this.#entries.size >= max) {
      const oldest = this.#entries.keys().next()
      if (!oldest.done) this.#entries.delete(oldest.value)
    }
    this.#entries.set(key, { value, expiresAt: Date.now() + this.#options.ttlMs })
  }

  #drop(tenantId: string, userId?: string | null): void {
    this.#generation += 1
    if (userId) {
      this.#entries.delete(`${tenantId}:${userId}`)
      return
    }
    const prefix = `${tenantId}:`
    for (const key of this.#entries.keys()) if (key.startsWith(prefix)) this.#entries.delete(key)
    for (const [slug, entry] of this.#slugs)
      if (entry.tenantId === tenantId) this.#slugs.delete(slug)
  }

  #receive(message: string): void {
    try {
      const parsed = JSON.parse(message) as { tenantId?: unknown; userId?: unknown }
      if (typeof parsed.tenantId !== 'string') return
      this.#drop(parsed.tenantId, typeof parsed.userId === 'string' ? parsed.userId : null)
    } catch {
      this.#options.logger?.warn({ channel: this.#options.channel }, 'ignored malformed message')
    }
  }
}
