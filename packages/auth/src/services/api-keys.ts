import { createHash, randomBytes, randomInt, timingSafeEqual } from 'node:crypto'
import { CoreErrors, RLS_SETTINGS } from '@acme/core'
import type { Clock } from '../clock.js'
import type { AuthDb } from '../db.js'
import type { PrismaPromise } from '../generated/prisma/internal/prismaNamespace.js'

/** What the owner sees of a key: never the key nor its hash. */
export interface ApiKeyRecord {
  id: string
  name: string
  prefix: string
  scopes: string[]
  createdAt: Date
  expiresAt: Date | null
  lastUsedAt: Date | null
}

/**
 * Columns other plugins add to a key (`AuthExtension.apiKeyColumns`), typed by augmentation:
 * `declare module '@acme/auth' { interface ApiKeyColumns { tenantId?: string | null } }`.
 */
export interface ApiKeyColumns {}

export interface NewApiKey {
  name: string
  scopes: string[]
  expiresAt?: Date | null
  /** Values of columns an extension declared; any other name is refused (TypeError). */
  columns?: ApiKeyColumns
}

/** Who a valid key acts as. */
export interface ApiKeyIdentity {
  keyId: string
  ownerId: string
  scopes: string[]
  /** The extensions' columns as stored, for `AuthExtension.enrichPrincipal`. */
  columns: Readonly<Record<string, unknown>>
}

export interface ApiKeyServiceOptions {
  db: AuthDb
  clock: Clock
  /** The columns extensions declared on ApiKey; read when needed, as extensions register late. */
  columns?: () => readonly string[]
  /**
   * Seconds a successful lookup is trusted without the database: a revocation, expiry change or
   * owner suspension made on another instance takes up to this long to apply here. Default 30.
   */
  cacheTtlSeconds?: number
  /** Most keys cached; the least recently used goes first. 0 disables the cache. */
  cacheMaxEntries?: number
  events?: ApiKeyServiceEvents
}

/** Told after the change is stored, for the event bus (and so the audit trail). */
export interface ApiKeyServiceEvents {
  /** `tenantId` when an extension bound the key to a tenant (@acme/tenancy's tenant keys). */
  onCreated?(info: {
    keyId: string
    userId: string
    name: string
    scopes: string[]
    tenantId?: string
  }): Promise<void> | void
  onRevoked?(info: { keyId: string; userId: string }): Promise<void> | void
}

export const API_KEY_PREFIX = 'ak_'
const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'
/** `ak_` + 12 base62 + `_` + 43 base64url (32 bytes): anything else is refused without a query. */
const KEY_SHAPE = /^(ak_[A-Za-z0-9]{12})_[A-Za-z0-9_-]{43}$/
const LAST_USED_RESOLUTION_MS = 60_000

const RECORD_SELECT = {
  id: true,
  name: true,
  prefix: true,
  scopes: true,
  createdAt: true,
  expiresAt: true,
  lastUsedAt: true,
} as const

interface CachedKey extends ApiKeyIdentity {
  keyHash: string
  expiresAt: Date | null
  lastUsedAt: Date | null
  cachedUntil: number
}

function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex')
}

/** Base62 keeps the prefix free of `_`, so the key splits unambiguously and reads well in logs. */
function newPrefix(): string {
  let body = ''
  for (let i = 0; i < 12; i++) body += BASE62[randomInt(BASE62.length)]
  return `${API_KEY_PREFIX}${body}`
}

function sameHash(expectedHex: string, actualHex: string): boolean {
  const expected = Buffer.from(expectedHex, 'hex')
  const actual = Buffer.from(actualHex, 'hex')
  return expected.length === actual.length && timingSafeEqual(expected, actual)
}

/**
 * Long-lived keys for machines. Only the prefix (for lookup) and the SHA-256 of the whole key
 * are stored: the secret has 256 bits of entropy, so a plain hash is enough (no KDF needed).
 */
export class ApiKeyService {
  readonly #db: AuthDb
  readonly #clock: Clock
  readonly #columns: () => readonly string[]
  readonly #ttlMs: number
  readonly #maxEntries: number
  readonly #events: ApiKeyServiceEvents
  /** By prefix. The hash is compared on every hit: a cached prefix never admits a wrong secret. */
  readonly #cache = new Map<string, CachedKey>()
  /**
   * Prefixes no key has, until when: a flood of made-up keys costs one query per prefix per TTL,
   * not one per request. Prefixes are random (62^12), so a real key is never shadowed by one.
   */
  readonly #unknown = new Map<string, number>()

  constructor(options: ApiKeyServiceOptions) {
    this.#db = options.db
    this.#clock = options.clock
    this.#columns = options.columns ?? (() => [])
    this.#ttlMs = (options.cacheTtlSeconds ?? 30) * 1_000
    this.#maxEntries = Math.max(0, Math.floor(options.cacheMaxEntries ?? 10_000))
    this.#events = options.events ?? {}
  }

  async create(ownerId: string, input: NewApiKey): Promise<{ key: string; record: ApiKeyRecord }> {
    const columns = this.#declaredColumns(input.columns)
    const prefix = newPrefix()
    this.#unknown.delete(prefix)
    const key = `${prefix}_${randomBytes(32).toString('base64url')}`
    // 62^12 prefixes: a collision is not worth a retry loop; the unique index would refuse it.
    const [, record] = await this.#asOwner(ownerId, null, (db) =>
      db.apiKey.create({
        data: {
          ...columns,
          ownerId,
          name: input.name,
          prefix,
          keyHash: hashKey(key),
          scopes: input.scopes,
          expiresAt: input.expiresAt ?? null,
        },
        select: RECORD_SELECT,
      }),
    )
    const tenantId = columns.tenantId
    await this.#events.onCreated?.({
      keyId: record.id,
      userId: ownerId,
      name: record.name,
      scopes: record.scopes,
      ...(typeof tenantId === 'string' ? { tenantId } : {}),
    })
    return { key, record }
  }

  /** The owner's keys that are not revoked (expired ones included, so they can be cleaned up). */
  async list(ownerId: string): Promise<ApiKeyRecord[]> {
    const [, keys] = await this.#asOwner(ownerId, null, (db) =>
      db.apiKey.findMany({
        where: { ownerId, revokedAt: null },
        select: RECORD_SELECT,
        orderBy: { createdAt: 'desc' },
      }),
    )
    return keys
  }

  /** Another user's key, an unknown id and a revoked key all answer the same 404 (no oracle). */
  async revoke(ownerId: string, keyId: string): Promise<void> {
    const [, revoked] = await this.#asOwner(ownerId, null, (db) =>
      db.apiKey.updateManyAndReturn({
        where: { id: keyId, ownerId, revokedAt: null },
        data: { revokedAt: this.#clock() },
        select: { prefix: true },
      }),
    )
    const [row] = revoked
    if (!row) throw new CoreErrors.NotFound()
    // Effective at once here; other instances drop it when their cache entry expires.
    this.#cache.delete(row.prefix)
    await this.#events.onRevoked?.({ keyId, userId: ownerId })
  }

  /**
   * Drops one key from this instance's cache, for a plugin that revoked it through its own
   * query (e.g. a tenant administrator's, under @acme/tenancy); other instances within the TTL.
   */
  forget(prefix: string): void {
    this.#cache.delete(prefix)
  }

  /** Drops the owner's keys from this instance's cache (e.g. the owner was just suspended). */
  forgetOwner(ownerId: string): void {
    for (const [prefix, entry] of this.#cache) {
      if (entry.ownerId === ownerId) this.#cache.delete(prefix)
    }
  }

  /** Who the key acts as; null if malformed, unknown, wrong, revoked, expired or owner inactive. */
  async authenticate(key: string): Promise<ApiKeyIdentity | null> {
    const prefix = KEY_SHAPE.exec(key)?.[1]
    if (prefix === undefined) return null
    const now = this.#clock()
    if (this.#knownUnknown(prefix, now.getTime())) return null
    const entry = this.#cached(prefix, now.getTime()) ?? (await this.#load(prefix, now))
    if (!entry || !sameHash(entry.keyHash, hashKey(key))) return null
    if (entry.expiresAt && entry.expiresAt <= now) return null
    await this.#touch(entry, now)
    return {
      keyId: entry.keyId,
      ownerId: entry.ownerId,
      scopes: entry.scopes,
      columns: entry.columns,
    }
  }

  /**
   * Runs one query after transaction-local settings naming the owner (or the key's prefix). When
   * @acme/tenancy forces row-level security on api_keys, its policies let an owner reach their own
   * keys and authentication find one key by prefix through them; without tenancy they are unused.
   */
  #asOwner<T>(
    ownerId: string | null,
    prefix: string | null,
    query: (db: AuthDb) => PrismaPromise<T>,
  ): Promise<[number, T]> {
    return this.#db.$transaction([
      this.#db
        .$executeRaw`SELECT set_config(${RLS_SETTINGS.userId}, ${ownerId ?? ''}, true), set_config(${RLS_SETTINGS.apiKeyPrefix}, ${prefix ?? ''}, true)`,
      query(this.#db),
    ])
  }

  #declaredColumns(values: ApiKeyColumns | undefined): Record<string, unknown> {
    const columns: Record<string, unknown> = { ...values }
    const declared = this.#columns()
    for (const name of Object.keys(columns)) {
      if (!declared.includes(name)) throw new TypeError(`apiKeys.create: unknown column "${name}"`)
    }
    return columns
  }

  #cached(prefix: string, nowMs: number): CachedKey | undefined {
    const entry = this.#cache.get(prefix)
    if (entry === undefined) return undefined
    this.#cache.delete(prefix)
    if (entry.cachedUntil <= nowMs) return undefined
    // Re-inserting moves it to the most recently used end of the Map's insertion order.
    this.#cache.set(prefix, entry)
    return entry
  }

  async #load(prefix: string, now: Date): Promise<CachedKey | null> {
    const extensionColumns = this.#columns()
    const [, row] = await this.#asOwner(null, prefix, (db) =>
      db.apiKey.findUnique({
        where: { prefix },
        select: {
          ...Object.fromEntries(extensionColumns.map((name) => [name, true])),
          id: true,
          ownerId: true,
          scopes: true,
          keyHash: true,
          expiresAt: true,
          lastUsedAt: true,
          revokedAt: true,
          owner: { select: { status: true } },
        },
      }),
    )
    if (!row) {
      this.#remember(this.#unknown, prefix, now.getTime() + this.#ttlMs)
      return null
    }
    // Only usable keys are cached, so revocation or suspension seen here is never masked later.
    if (row.revokedAt !== null || row.owner.status !== 'active') return null
    const entry: CachedKey = {
      keyId: row.id,
      ownerId: row.ownerId,
      scopes: row.scopes,
      columns: Object.freeze(
        Object.fromEntries(
          extensionColumns.map((name) => [name, (row as Record<string, unknown>)[name] ?? null]),
        ),
      ),
      keyHash: row.keyHash,
      expiresAt: row.expiresAt,
      lastUsedAt: row.lastUsedAt,
      cachedUntil: now.getTime() + this.#ttlMs,
    }
    this.#remember(this.#cache, prefix, entry)
    return entry
  }

  #knownUnknown(prefix: string, nowMs: number): boolean {
    const until = this.#unknown.get(prefix)
    if (until === undefined) return false
    if (until > nowMs) return true
    this.#unknown.delete(prefix)
    return false
  }

  /** Bounded by `cacheMaxEntries`: the oldest insertion goes first. */
  #remember<V>(map: Map<string, V>, prefix: string, value: V): void {
    if (this.#maxEntries === 0) return
    map.set(prefix, value)
    while (map.size > this.#maxEntries) {
      const oldest = map.keys().next()
      if (oldest.done) break
      map.delete(oldest.value)
    }
  }

  /**
   * `lastUsedAt` to the minute: one conditional write per key per minute across all instances,
   * instead of one per request. A failed write must not fail the request it describes.
   */
  async #touch(entry: CachedKey, now: Date): Promise<void> {
    const threshold = new Date(now.getTime() - LAST_USED_RESOLUTION_MS)
    if (entry.lastUsedAt && entry.lastUsedAt > threshold) return
    entry.lastUsedAt = now
    try {
      await this.#asOwner(entry.ownerId, null, (db) =>
        db.apiKey.updateMany({
          where: {
            id: entry.keyId,
            OR: [{ lastUsedAt: null }, { lastUsedAt: { lte: threshold } }],
          },
          data: { lastUsedAt: now },
        }),
      )
    } catch {
      // Bookkeeping only; the next minute's request retries.
    }
  }
}
