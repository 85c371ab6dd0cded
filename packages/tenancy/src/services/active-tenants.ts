import type { PrismaClient } from '../generated/prisma/client.js'

/** Auth's session rows, with the column this plugin adds to them (`extend model AuthSession`). */
export type SessionTenantDb = Pick<PrismaClient, 'authSession'>

/**
 * The tenant each session works in. Stored on the session, not in the client, so every access
 * token the session issues (a refresh, on any instance) carries the same `tid`.
 */
export class ActiveTenants {
  readonly #db: SessionTenantDb

  constructor(db: SessionTenantDb) {
    this.#db = db
  }

  async of(sessionId: string): Promise<string | null> {
    const session = await this.#db.authSession.findUnique({
      where: { id: sessionId },
      select: { activeTenantId: true },
    })
    return session?.activeTenantId ?? null
  }

  /** A revoked session keeps what it had: auth refuses to issue anything for it anyway. */
  async set(sessionId: string, tenantId: string | null): Promise<void> {
    await this.#db.authSession.updateMany({
      where: { id: sessionId, revokedAt: null },
      data: { activeTenantId: tenantId },
    })
  }
}
