import { RLS_SETTINGS } from '@acme/core'

/**
 * What audit needs of a database client: parameterised raw SQL. `request.db`, an interactive
 * transaction's client and `app.prisma` all qualify, so an entry joins whatever transaction the
 * caller's client is in.
 */
export interface SqlClient {
  $queryRawUnsafe<T = unknown>(sql: string, ...values: unknown[]): PromiseLike<T>
  $executeRawUnsafe(sql: string, ...values: unknown[]): PromiseLike<number>
}

export interface TransactionalClient extends SqlClient {
  $transaction<R>(
    work: (tx: SqlClient) => Promise<R>,
    options?: { maxWait?: number; timeout?: number },
  ): Promise<R>
}

/** The chain key of a tenant's entries, or of the app's own (no tenant). */
export const chainKeyOf = (tenantId: string | null): string => tenantId ?? 'app'

/**
 * Runs `work` in one transaction of its own as `tenantId` (transaction-local, as tenancy sets it,
 * so nothing stays on the pooled connection); `null` runs with no tenant: the app's own chain.
 */
export function inTenant<R>(
  prisma: TransactionalClient,
  tenantId: string | null,
  work: (tx: SqlClient) => PromiseLike<R>,
): Promise<R> {
  return prisma.$transaction(
    async (tx) => {
      await tx.$queryRawUnsafe(
        `SELECT set_config('${RLS_SETTINGS.tenantId}', $1, true)::text AS ok`,
        tenantId ?? '',
      )
      return work(tx)
    },
    { maxWait: 5_000, timeout: 60_000 },
  )
}
