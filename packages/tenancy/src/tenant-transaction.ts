import { RLS_SETTINGS } from '@acme/core'
/** What tenancy needs of a Prisma client (or of an interactive transaction's client). */
export interface RawCapable {
  $executeRawUnsafe(sql: string, ...values: unknown[]): PromiseLike<number>
}

export interface TransactionCapable extends RawCapable {
  $transaction<R>(
    work: (tx: RawCapable) => Promise<R>,
    options?: { maxWait?: number; timeout?: number },
  ): Promise<R>
}

export interface TransactionLimits {
  /** How long to wait for a pooled connection. */
  maxWaitMs: number
  /** How long the transaction may stay open. */
  timeoutMs: number
}

export interface TenantSettings {
  tenantId: string
  /** Lets policies show a user their own rows across tenants (their memberships). */
  userId?: string | null
  /** Lets the invitation policy show the one invitation a token names. */
  invitationTokenHash?: string | null
}

/**
 * Transaction-local settings (`is_local = true`): they vanish at COMMIT or ROLLBACK, so a pooled
 * connection never carries a tenant into the next request, unlike a session-level `SET`.
 */
export async function applyTenantSettings(tx: RawCapable, settings: TenantSettings): Promise<void> {
  await tx.$executeRawUnsafe(
    `SELECT set_config('${RLS_SETTINGS.tenantId}', $1, true), set_config('${RLS_SETTINGS.userId}', $2, true), set_config('${RLS_SETTINGS.invitationTokenHash}', $3, true)`,
    settings.tenantId,
    settings.userId ?? '',
    settings.invitationTokenHash ?? '',
  )
}

/** Runs `work` in one transaction that sets the tenant before anything else. */
export function runInTenant<R>(
  prisma: TransactionCapable,
  settings: TenantSettings,
  limits: TransactionLimits,
  work: (tx: RawCapable) => Promise<R>,
): Promise<R> {
  return prisma.$transaction(
    async (tx) => {
      await applyTenantSettings(tx, settings)
      return work(tx)
    },
    { maxWait: limits.maxWaitMs, timeout: limits.timeoutMs },
  )
}

class Rollback extends Error {}

/**
 * One transaction for a whole request, opened on first use and settled when the response is
 * decided: committed before a success is sent (so the client never sees uncommitted work), rolled
 * back on an error. Prisma only offers callback-scoped interactive transactions, so the callback
 * waits on a promise this object settles.
 */
export class RequestTransaction {
  readonly #prisma: TransactionCapable
  readonly #settings: TenantSettings
  readonly #limits: TransactionLimits
  #client: Promise<RawCapable> | null = null
  #outcome: Promise<unknown> | null = null
  #finish: ((commit: boolean) => void) | null = null

  constructor(prisma: TransactionCapable, settings: TenantSettings, limits: TransactionLimits) {
    this.#prisma = prisma
    this.#settings = settings
    this.#limits = limits
  }

  get started(): boolean {
    return this.#client !== null
  }

  client(): Promise<RawCapable> {
    this.#client ??= new Promise<RawCapable>((resolveClient, rejectClient) => {
      const decided = new Promise<boolean>((resolve) => {
        this.#finish = resolve
      })
      this.#outcome = runInTenant(this.#prisma, this.#settings, this.#limits, async (tx) => {
        resolveClient(tx)
        if (!(await decided)) throw new Rollback()
      })
      // A failure before the client is handed out (pool exhausted, database down) reaches the
      // caller through the client promise; the outcome promise is awaited by commit/rollback.
      this.#outcome.catch((error: unknown) => rejectClient(error))
    })
    return this.#client
  }

  /** Commits if a transaction was opened; rethrows a failed commit. */
  async commit(): Promise<void> {
    if (!this.#outcome || !this.#finish) return
    this.#finish(true)
    this.#finish = null
    await this.#outcome
  }

  async rollback(): Promise<void> {
    if (!this.#outcome || !this.#finish) return
    this.#finish(false)
    this.#finish = null
    // The response already failed; a rollback that cannot reach the database changes nothing.
    await this.#outcome.catch(() => undefined)
  }
}
