import type { Broadcast, BroadcastChannel } from '@acme/core'
import { z } from 'zod'
import type { PermissionSet } from './permission.js'

export interface PermissionCacheOptions {
  /** Core's `app.broadcast`: changes reach the other instances through it. */
  broadcast: Broadcast
  /** Channel name within the app's prefix. Default `rbac:permissions`. */
  channel?: string
  /** How long an entry is trusted without hearing of a change; 0 caches nothing. */
  ttlMs: number
  /** Bound on cached entries: the oldest go first. */
  maxEntries?: number
  logger?: { warn(o: object, m?: string): void }
}

/**
 * Whose permissions: a user id, or `key:<apiKeyId>` for an API key, in a tenant (null without
 * tenancy). `ownerId` is the user who created an API key: given, invalidating that user in the
 * tenant drops exactly that user's keys; left out, invalidating any user of the tenant drops the
 * key too (its permissions depend on a creator this cache does not know).
 */
export interface PermissionCacheKey {
  tenantId: string | null
  principalId: string
  ownerId?: string | null
}

/**
 * - `'all'` (or `{}`): every entry;
 * - `{ tenantId }`: every principal of that tenant (`null`: the tenant-less scope);
 * - `{ tenantId, principalId }`: one principal in that tenant, and when it is a user, the API
 *   keys it created there (their permissions are intersected with the creator's);
 * - `{ principalId }`: one principal (and its keys) in every tenant, e.g. a deleted user.
 */
export type InvalidationScope = { tenantId?: string | null; principalId?: string } | 'all'

/** Principal ids of API keys: a user id never has this prefix. */
const API_KEY_PREFIX = 'key:'
/** Owner slot for cached API keys whose creator was not given: dropped with any user. */
const UNKNOWN_OWNER = ''
const DEFAULT_MAX_ENTRIES = 100_000

interface Entry {
  readonly set: PermissionSet
  readonly expiresAt: number
  readonly bucket: TenantBucket
  readonly principalId: string
  /** For API keys: the creator, or UNKNOWN_OWNER; null for users. */
  readonly ownerId: string | null
}

/** One tenant's entries, so a tenant-wide drop touches that tenant only. */
interface TenantBucket {
  readonly tenantId: string | null
  readonly entries: Map<string, Entry>
  /** Creator user id → API-key principals cached in this tenant, to drop them with their creator. */
  readonly keysByOwner: Map<string, Set<string>>
}

interface PendingLoad {
  readonly promise: Promise<PermissionSet>
  readonly tenantId: string | null
  readonly principalId: string
  readonly ownerId: string | null
  /** Set when an invalidation covers this load after it started: its result is not stored. */
  stale: boolean
}

/** What one instance tells the others to drop (an instance never hears its own). */
interface InvalidationMessage {
  all?: true
  tenantId?: string | null
  principalId?: string
}

const invalidationMessage = z
  .object({
    all: z.literal(true).optional(),
    tenantId: z.string().nullable().optional(),
    principalId: z.string().optional(),
  })
  .strict()

/**
 * Effective permission sets per (principal, tenant), held in memory so a warm check costs no I/O.
 * A change drops the entries on this instance at once (the very next request reloads) and on the
 * others through core's broadcast; the TTL bounds staleness if a message is lost. While the
 * broadcast is not listening, this instance hears no changes, so it caches nothing: entries are
 * dropped when the connection goes and every load is fresh until it is back (and resubscribed).
 */
export class PermissionCache {
  readonly #options: PermissionCacheOptions
  readonly #channel: BroadcastChannel<InvalidationMessage>
  /** Tenant buckets; the tenant-less scope has its own, so a lookup builds no composite key. */
  readonly #tenants = new Map<string, TenantBucket>()
  #global: TenantBucket | null = null
  /** Every entry in insertion order: the oldest is evicted first when full. */
  readonly #order = new Set<Entry>()
  /** In-flight loads by tenant, then principal: concurrent misses share one. */
  readonly #pending = new Map<string | null, Map<string, PendingLoad>>()

  constructor(options: PermissionCacheOptions) {
    this.#options = options
    this.#channel = options.broadcast.channel(options.channel ?? 'rbac:permissions', {
      schema: invalidationMessage,
      onMessage: (message) => this.#apply(normalize(message)),
      onMissed: () => this.#clear(),
    })
  }

  /**
   * Cached set or the result of `load` (concurrent misses share one load; a load that started
   * before an invalidation is not stored, and a request made after it does not join it).
   */
  get(key: PermissionCacheKey, load: () => Promise<PermissionSet>): Promise<PermissionSet> {
    const hit = this.peek(key)
    if (hit !== undefined) return Promise.resolve(hit)
    const { tenantId, principalId } = key
    let loads = this.#pending.get(tenantId)
    const shared = loads?.get(principalId)
    if (shared !== undefined) return shared.promise
    if (loads === undefined) {
      loads = new Map()
      this.#pending.set(tenantId, loads)
    }
    const ownerId = ownerOf(key)
    const promise = Promise.resolve()
      .then(load)
      .then((set) => {
        if (!pending.stale) this.#store(tenantId, principalId, ownerId, set)
        return set
      })
      .finally(() => this.#forgetPending(pending))
    const pending: PendingLoad = { promise, tenantId, principalId, ownerId, stale: false }
    loads.set(principalId, pending)
    return promise
  }

  /** Synchronous hit, or undefined: lets a hook skip a promise when warm. */
  peek(key: PermissionCacheKey): PermissionSet | undefined {
    return this.peekPrincipal(key.tenantId, key.principalId)
  }

  /** peek without a key object, for the per-request guard. */
  peekPrincipal(tenantId: string | null, principalId: string): PermissionSet | undefined {
    const bucket = tenantId === null ? this.#global : this.#tenants.get(tenantId)
    const entry = bucket?.entries.get(principalId)
    if (entry === undefined) return undefined
    if (entry.expiresAt > Date.now()) return entry.set
    this.#delete(entry)
    return undefined
  }

  /**
   * Drop entries here at once and on every other instance through Redis (a tenant's, one
   * principal's in a tenant, or everything). Rejects if publishing fails (after the local drop):
   * the caller can fail the request so the change is retried.
   */
  async invalidate(scope: InvalidationScope): Promise<void> {
    const message: InvalidationMessage = {}
    if (scope === 'all' || (scope.tenantId === undefined && scope.principalId === undefined)) {
      message.all = true
    } else {
      if (scope.tenantId !== undefined) message.tenantId = scope.tenantId
      if (scope.principalId !== undefined) message.principalId = scope.principalId
    }
    this.#apply(message)
    try {
      await this.#channel.publish(message)
    } catch (error) {
      this.#options.logger?.warn({ err: error }, 'publishing a permission change failed')
      throw error
    }
  }

  /** How many entries are held (for metrics and tests). */
  get size(): number {
    return this.#order.size
  }

  #apply(message: InvalidationMessage): void {
    if (message.all) {
      this.#clear()
      return
    }
    const { tenantId, principalId } = message
    const buckets =
      tenantId === undefined
        ? [...this.#tenants.values(), ...(this.#global ? [this.#global] : [])]
        : [tenantId === null ? this.#global : this.#tenants.get(tenantId)]
    for (const bucket of buckets) {
      if (!bucket) continue
      if (principalId === undefined)
        for (const entry of bucket.entries.values()) this.#delete(entry)
      else this.#dropPrincipal(bucket, principalId)
    }
    for (const [pendingTenant, loads] of this.#pending) {
      if (tenantId !== undefined && pendingTenant !== tenantId) continue
      for (const load of loads.values()) {
        if (principalId === undefined || affects(principalId, load)) this.#markStale(load)
      }
    }
  }

  #dropPrincipal(bucket: TenantBucket, principalId: string): void {
    const entry = bucket.entries.get(principalId)
    if (entry) this.#delete(entry)
    if (principalId.startsWith(API_KEY_PREFIX)) return
    for (const owner of [principalId, UNKNOWN_OWNER]) {
      const keys = bucket.keysByOwner.get(owner)
      if (!keys) continue
      for (const keyPrincipal of [...keys]) {
        const keyEntry = bucket.entries.get(keyPrincipal)
        if (keyEntry) this.#delete(keyEntry)
      }
    }
  }

  #store(
    tenantId: string | null,
    principalId: string,
    ownerId: string | null,
    set: PermissionSet,
  ): void {
    const { ttlMs } = this.#options
    if (ttlMs <= 0 || !this.#channel.listening) return
    const bucket = this.#bucketFor(tenantId)
    const previous = bucket.entries.get(principalId)
    if (previous) this.#delete(previous)
    const max = this.#options.maxEntries ?? DEFAULT_MAX_ENTRIES
    while (this.#order.size >= max) {
      const oldest = this.#order.values().next()
      if (oldest.done) break
      this.#delete(oldest.value)
    }
    // A bucket emptied by eviction may have been removed: look it up again.
    const target = this.#bucketFor(tenantId)
    const entry: Entry = {
      set,
      expiresAt: Date.now() + ttlMs,
      bucket: target,
      principalId,
      ownerId,
    }
    target.entries.set(principalId, entry)
    this.#order.add(entry)
    if (ownerId !== null) {
      let keys = target.keysByOwner.get(ownerId)
      if (!keys) {
        keys = new Set()
        target.keysByOwner.set(ownerId, keys)
      }
      keys.add(principalId)
    }
  }

  #bucketFor(tenantId: string | null): TenantBucket {
    const existing = tenantId === null ? this.#global : this.#tenants.get(tenantId)
    if (existing) return existing
    const bucket: TenantBucket = { tenantId, entries: new Map(), keysByOwner: new Map() }
    if (tenantId === null) this.#global = bucket
    else this.#tenants.set(tenantId, bucket)
    return bucket
  }

  #delete(entry: Entry): void {
    const { bucket, principalId, ownerId } = entry
    if (bucket.entries.get(principalId) !== entry) return
    bucket.entries.delete(principalId)
    this.#order.delete(entry)
    if (ownerId !== null) {
      const keys = bucket.keysByOwner.get(ownerId)
      keys?.delete(principalId)
      if (keys?.size === 0) bucket.keysByOwner.delete(ownerId)
    }
    if (bucket.entries.size > 0) return
    if (bucket.tenantId === null) {
      if (this.#global === bucket) this.#global = null
    } else if (this.#tenants.get(bucket.tenantId) === bucket) {
      this.#tenants.delete(bucket.tenantId)
    }
  }

  #clear(): void {
    this.#tenants.clear()
    this.#global = null
    this.#order.clear()
    for (const loads of this.#pending.values())
      for (const load of loads.values()) this.#markStale(load)
  }

  /** A stale load is also unshared, so a request made after the change starts a fresh one. */
  #markStale(load: PendingLoad): void {
    load.stale = true
    this.#forgetPending(load)
  }

  #forgetPending(load: PendingLoad): void {
    const loads = this.#pending.get(load.tenantId)
    if (loads?.get(load.principalId) !== load) return
    loads.delete(load.principalId)
    if (loads.size === 0) this.#pending.delete(load.tenantId)
  }
}

function ownerOf(key: PermissionCacheKey): string | null {
  if (!key.principalId.startsWith(API_KEY_PREFIX)) return null
  return typeof key.ownerId === 'string' && key.ownerId !== '' ? key.ownerId : UNKNOWN_OWNER
}

/** Whether dropping `principalId` covers this load: itself, or an API key it (may have) created. */
function affects(principalId: string, load: PendingLoad): boolean {
  if (load.principalId === principalId) return true
  if (principalId.startsWith(API_KEY_PREFIX) || load.ownerId === null) return false
  return load.ownerId === principalId || load.ownerId === UNKNOWN_OWNER
}

/** Nothing named means everything, as `invalidate({})` does. */
function normalize(message: InvalidationMessage): InvalidationMessage {
  if (message.all || (message.tenantId === undefined && message.principalId === undefined)) {
    return { all: true }
  }
  return message
}
