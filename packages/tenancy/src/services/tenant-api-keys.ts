import type { TenantService } from './tenants.js'

/** What a tenant's administrators see of its keys: never the key nor its hash. */
export interface TenantApiKeyRecord {
  id: string
  name: string
  prefix: string
  scopes: string[]
  ownerId: string
  createdAt: Date
  expiresAt: Date | null
  lastUsedAt: Date | null
}

export interface TenantApiKeysOptions {
  tenants: TenantService
  now: () => Date
  /** Drops a revoked key from auth's cache on this instance (`app.auth.apiKeys.forget`). */
  forget: (prefix: string) => void
}

const RECORD_SELECT = {
  id: true,
  name: true,
  prefix: true,
  scopes: true,
  ownerId: true,
  createdAt: true,
  expiresAt: true,
  lastUsedAt: true,
} as const

/**
 * The keys bound to a tenant, whoever created them. The tenant's row-level security policy on
 * api_keys (this plugin's) is what limits every query here to the tenant's own keys.
 */
export class TenantApiKeys {
  readonly #options: TenantApiKeysOptions

  constructor(options: TenantApiKeysOptions) {
    this.#options = options
  }

  /** Not revoked (expired included, so they can be cleaned up), newest first. */
  list(tenantId: string): Promise<TenantApiKeyRecord[]> {
    return this.#options.tenants.run({ tenantId }, (tx) =>
      tx.apiKey.findMany({
        where: { tenantId, revokedAt: null },
        select: RECORD_SELECT,
        orderBy: { createdAt: 'desc' },
      }),
    )
  }

  /** False for another tenant's key, an unknown id and a revoked key alike (no oracle). */
  /** The revoked key's owner, or null when the tenant has no such key (already revoked too). */
  async revoke(tenantId: string, keyId: string): Promise<{ ownerId: string } | null> {
    const [revoked] = await this.#options.tenants.run({ tenantId }, (tx) =>
      tx.apiKey.updateManyAndReturn({
        where: { id: keyId, tenantId, revokedAt: null },
        data: { revokedAt: this.#options.now() },
        select: { prefix: true, ownerId: true },
      }),
    )
    if (!revoked) return null
    this.#options.forget(revoked.prefix)
    return { ownerId: revoked.ownerId }
  }
}
