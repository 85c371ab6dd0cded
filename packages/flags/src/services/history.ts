import type { FlagsDb } from '../db.js'

export interface HistoryEntry {
  version: number
  entity: string
  key: string
  tenantId: string | null
  action: string
  actorId: string | null
  before: unknown
  after: unknown
  createdAt: Date
}

/** The change history of one environment, newest first, paged by version. */
export class FlagHistory {
  readonly #db: FlagsDb
  readonly #environment: string

  constructor(db: FlagsDb, environment: string) {
    this.#db = db
    this.#environment = environment
  }

  /**
   * Changes below `beforeVersion` (all when absent), optionally of one key and one tenant's
   * overrides only (a tenant admin sees nothing of other tenants).
   */
  async list(filter: {
    key?: string
    tenantId?: string
    beforeVersion?: number
    limit: number
  }): Promise<HistoryEntry[]> {
    const rows = await this.#db.flagChange.findMany({
      where: {
        environment: this.#environment,
        ...(filter.key ? { key: filter.key } : {}),
        ...(filter.tenantId ? { tenantId: filter.tenantId, entity: 'override' } : {}),
        ...(filter.beforeVersion === undefined ? {} : { version: { lt: filter.beforeVersion } }),
      },
      orderBy: [{ version: 'desc' }, { createdAt: 'desc' }],
      take: filter.limit,
      select: {
        version: true,
        entity: true,
        key: true,
        tenantId: true,
        action: true,
        actorId: true,
        before: true,
        after: true,
        createdAt: true,
      },
    })
    return rows
  }
}
