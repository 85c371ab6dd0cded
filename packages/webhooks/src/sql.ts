import { RLS_SETTINGS } from '@acme/core'

/**
 * What webhooks needs of a database client: parameterised raw SQL. `request.db`, an interactive
 * transaction's client and `app.prisma` all qualify, so an outbox row joins whatever transaction
 * the caller's client is in.
 */
export interface SqlClient {
  $queryRawUnsafe<T = unknown>(sql: string, ...values: unknown[]): PromiseLike<T>
}

export interface TransactionalClient extends SqlClient {
  $transaction<R>(
    work: (tx: SqlClient) => Promise<R>,
    options?: { maxWait?: number; timeout?: number },
  ): Promise<R>
}

/**
 * Runs `work` in one transaction of its own as `tenantId` (transaction-local, as tenancy sets it,
 * so nothing stays on the pooled connection).
 */
export function inTenant<R>(
  prisma: TransactionalClient,
  tenantId: string,
  work: (tx: SqlClient) => Promise<R>,
): Promise<R> {
  return prisma.$transaction(
    async (tx) => {
      await tx.$queryRawUnsafe(
        `SELECT set_config('${RLS_SETTINGS.tenantId}', $1, true)::text AS ok`,
        tenantId,
      )
      return work(tx)
    },
    { maxWait: 5_000, timeout: 60_000 },
  )
}
