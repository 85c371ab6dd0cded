/**
 * What files needs of a database client: parameterised raw SQL. `request.db` and the client of a
 * tenant's transaction both qualify, and carry the tenant to PostgreSQL's row-level security.
 */
export interface SqlClient {
  $queryRawUnsafe<T = unknown>(sql: string, ...values: unknown[]): PromiseLike<T>
}

export interface TransactionalClient extends SqlClient {
  $transaction<R>(work: (tx: SqlClient) => Promise<R>): Promise<R>
}
