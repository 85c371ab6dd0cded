import { type Broadcast, BroadcastCache } from '@acme/core'

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
  /** Core's `app.broadcast`: changes reach the other instances through it. */
  broadcast: Broadcast
  ttlMs: number
  /** Bound on cached entries: the oldest go first. */
  maxEntries?: number
}

type Cached = { member: MembershipInfo | null } | { tenantId: string | null }

const memberKey = (tenantId: string, userId: string) => `m:${tenantId}:${userId}`
const slugKey = (slug: string) => `s:${slug}`
const tenantTag = (tenantId: string) => `t:${tenantId}`

/**
 * Memberships (and the tenant ids of slugs) cached in memory, so a tenant-scoped request costs
 * no lookup once warm. Changes (role changes, removals, tenant updates) drop the entries on this
 * instance at once and on the others through core's broadcast cache, which also empties itself
 * and caches nothing while it cannot hear other instances; the TTL bounds staleness if a message
 * is lost.
 */
export class MembershipDirectory {
  readonly #options: MembershipDirectoryOptions
  readonly #cache: BroadcastCache<Cached>

  constructor(options: MembershipDirectoryOptions) {
    this.#options = options
    this.#cache = new BroadcastCache<Cached>({
      broadcast: options.broadcast,
      channel: 'tenancy:memberships',
      ttlMs: options.ttlMs,
      ...(options.maxEntries === undefined ? {} : { maxEntries: options.maxEntries }),
    })
  }

  async get(tenantId: string, userId: string): Promise<MembershipInfo | null> {
    const key = memberKey(tenantId, userId)
    // Every tenant-scoped request asks: a hit builds no closure, tag list or options object.
    const hit = this.#cache.get(key)
    if (hit && 'member' in hit) return hit.member
    const cached = await this.#cache.memoize(
      key,
      async () => ({ member: await this.#options.lookup(tenantId, userId) }),
      { tags: [tenantTag(tenantId)] },
    )
    return 'member' in cached ? cached.member : null
  }

  /**
   * The tenant a slug names. Only found slugs are cached: a tenant created on another instance
   * must resolve at once, and the membership check that follows refuses an unknown one anyway.
   */
  async tenantIdBySlug(slug: string): Promise<string | null> {
    const found = await this.#cache.memoize(
      slugKey(slug),
      async (): Promise<Cached> => ({ tenantId: await this.#options.lookupSlug(slug) }),
      {
        shouldStore: (value) => 'tenantId' in value && value.tenantId !== null,
        tagsOf: (value) =>
          'tenantId' in value && value.tenantId ? [tenantTag(value.tenantId)] : [],
      },
    )
    return 'tenantId' in found ? found.tenantId : null
  }

  /** Drops what is known of the tenant (or one member of it), on every instance. */
  async invalidate(tenantId: string, userId?: string): Promise<void> {
    await this.#cache.invalidate(
      userId ? { keys: [memberKey(tenantId, userId)] } : { tags: [tenantTag(tenantId)] },
    )
  }
}
