import { AsyncLocalStorage } from 'node:async_hooks'
import { createHash } from 'node:crypto'
import { RLS_SETTINGS } from '@acme/core'
import type { TenantSettings } from './tenant-transaction.js'

/**
 * The fast path of row-level security: `request.db` runs on a Prisma client of its own whose
 * node-postgres pool sends, for every statement, the tenant settings and the statement together,
 * in one round trip ended by one Sync. PostgreSQL runs the messages before a Sync as one implicit
 * transaction, so the transaction-local settings (`set_config(..., true)`) apply to that statement
 * and end with it: nothing survives on the pooled connection, and a pooler in transaction mode
 * (PgBouncer) keeps the two on one server connection. The settings statement is prepared once per
 * connection, so PostgreSQL only binds and runs it. An error aborts the pair; the connection goes
 * back to the pool only if the server reported it idle, outside any transaction.
 *
 * The tenant reaches the driver bound to each operation: the scoped client enters `run` around
 * the one Prisma call it makes, and the driver reads the binding once, synchronously, when Prisma
 * hands it the statement. Prisma dispatches an operation's statements from that call, except for
 * the requests it batches (`findUnique` in one tick, across callers; transactions), which it runs
 * from the first caller's context: the scoped client therefore sends unique lookups as
 * `findFirst` on this client, and a transaction carries its settings on its own connection. A
 * statement that arrives unbound is refused. `app.prisma` never goes through this pool, so it
 * sees no tenant at all and fails closed.
 */

/** The settings statement, sent ahead of each statement (or after a transaction's BEGIN). */
export const SETTINGS_SQL = `SELECT set_config('${RLS_SETTINGS.tenantId}', $1, true), set_config('${RLS_SETTINGS.userId}', $2, true), set_config('${RLS_SETTINGS.invitationTokenHash}', $3, true)`

/**
 * The settings statement is prepared once per connection under this name (its text's hash in it,
 * so a connection a pooler shares with other versions of the app never binds another text).
 */
export const SETTINGS_STATEMENT = `acme_rls_${createHash('sha256').update(SETTINGS_SQL).digest('hex').slice(0, 12)}`

const settingsValues = (settings: TenantSettings): string[] => [
  settings.tenantId,
  settings.userId ?? '',
  settings.invitationTokenHash ?? '',
]

/** The per-operation binding of the tenant to the statements Prisma sends for it. */
export class TenantBinding {
  readonly #storage = new AsyncLocalStorage<TenantSettings>()

  /** Runs `work` (one Prisma call) with its statements bound to `settings`. */
  run<R>(settings: TenantSettings, work: () => R): R {
    return this.#storage.run(settings, work)
  }

  current(): TenantSettings | undefined {
    return this.#storage.getStore()
  }
}

/** A statement reached the tenant pool without a tenant: a bug, refused rather than run unscoped. */
export class UnboundStatementError extends Error {
  override name = 'UnboundStatementError'
  constructor() {
    super(
      'a statement reached the tenant-scoped connection pool without a tenant bound to it; it was not sent',
    )
  }
}

/** The statement left a transaction open (e.g. a raw `BEGIN`): the connection is discarded. */
export class OpenTransactionError extends Error {
  override name = 'OpenTransactionError'
  constructor() {
    super(
      'a statement through the tenant-scoped client left a transaction open; its connection was discarded. ' +
        'Use request.db.$transaction for transactions',
    )
  }
}

// --- the parts of node-postgres this module drives (the pool the app's adapter was built on) ---

interface PgMessage {
  status?: string
}

interface PgConnection {
  parse(config: { text: string; name: string; types: unknown[] }): void
  bind(config: { portal: string; statement: string; values: unknown[] }): void
  execute(config: { portal: string; rows: number }): void
  prependListener(event: 'readyForQuery', listener: (message: PgMessage) => void): void
  on(event: 'end', listener: () => void): void
}

interface PgQueryConfig {
  text: string
  values?: unknown[]
  name?: string
  rowMode?: string
  types?: unknown
}

export interface PgResult {
  command?: string
  rowCount: number | null
  rows: unknown[]
  fields: Array<{ name: string; dataTypeID: number }>
}

interface PgQuery {
  callback?: (error: Error | null, result?: PgResult) => void
  requiresPreparation(): boolean
  prepare(connection: PgConnection): void
  handleRowDescription(message: unknown): void
  handleDataRow(message: unknown): void
  handleCommandComplete(message: unknown, connection: PgConnection): void
  handleEmptyQuery(connection: PgConnection): void
  handleReadyForQuery(connection: PgConnection): void
  handleError(error: Error, connection: PgConnection): void
}

type PgQueryClass = new (config: PgQueryConfig) => PgQuery

export interface PgClient {
  connection: PgConnection
  query(query: unknown): unknown
  release(error?: Error | boolean): void
  on(event: string, listener: (...args: unknown[]) => void): unknown
  removeListener(event: string, listener: (...args: unknown[]) => void): unknown
}

export interface PgPool {
  connect(): Promise<PgClient>
  query(config: PgQueryConfig): Promise<PgResult>
  end(): Promise<void>
  Client?: { Query?: PgQueryClass }
  readonly idleCount?: number
  readonly waitingCount?: number
}

interface Prefixed {
  text: string
  values: string[]
  /** A named statement: bound, and parsed first only when `parse` says so. */
  name?: string
  parse?: boolean
}

/**
 * No connection came free within `transaction.maxWaitMs`: Prisma's own code for it (P2024), which
 * the app answers with 503 like any unavailable database.
 */
export class PoolTimeoutError extends Error {
  override name = 'PoolTimeoutError'
  readonly code = 'P2024'
  constructor(ms: number) {
    super(`Timed out fetching a new connection from the tenant connection pool (${ms} ms)`)
  }
}

/** The transaction status each connection last reported (ReadyForQuery): `I` idle, `T`, `E`. */
const kStatus = Symbol('acme.tenancy.pgStatus')
/** Who waits for the next ReadyForQuery (or the end of the connection). */
const kWaiters = Symbol('acme.tenancy.pgWaiters')
type Tracked = PgClient & { [kStatus]?: string | null; [kWaiters]?: Array<() => void> }

function track(client: Tracked): void {
  if (kStatus in client) return
  client[kStatus] = null
  client[kWaiters] = []
  const settle = () => {
    const waiters = client[kWaiters] ?? []
    client[kWaiters] = []
    for (const waiter of waiters) waiter()
  }
  // Before the client's own handler, which completes the active query: the status is known when
  // the query's callback runs.
  client.connection.prependListener('readyForQuery', (message) => {
    client[kStatus] = message.status ?? null
    settle()
  })
  client.connection.on('end', () => {
    client[kStatus] = null
    settle()
  })
}

/**
 * node-postgres fails a query on its ErrorResponse, before the ReadyForQuery that says what state
 * the connection is left in: wait for it (or for the connection's end) before deciding.
 */
function settled(client: Tracked): Promise<void> {
  if (client[kStatus] !== null) return Promise.resolve()
  return new Promise((resolve) => client[kWaiters]?.push(resolve))
}

const statementClasses = new WeakMap<
  PgQueryClass,
  new (
    config: PgQueryConfig,
    prefix: Prefixed[],
  ) => PgQuery
>()

/**
 * A node-postgres query that sends `prefix` (results skipped) and then the statement, all before
 * one Sync: Parse/Bind/Execute for each prefix statement, then the statement's own
 * Parse/Bind/Describe/Execute, then Sync. Built on the pool's own Query class, so rows are parsed
 * exactly as node-postgres (and Prisma's adapter, through `types`) would.
 */
function statementClass(Query: PgQueryClass) {
  let Statement = statementClasses.get(Query)
  if (Statement) return Statement
  Statement = class TenantStatement extends Query {
    readonly #prefix: Prefixed[]
    #skipping: number

    constructor(config: PgQueryConfig, prefix: Prefixed[]) {
      super(config)
      this.#prefix = prefix
      this.#skipping = prefix.length
    }

    override requiresPreparation(): boolean {
      return true
    }

    override prepare(connection: PgConnection): void {
      for (const statement of this.#prefix) {
        const name = statement.name ?? ''
        if (!name || statement.parse) connection.parse({ text: statement.text, name, types: [] })
        connection.bind({ portal: '', statement: name, values: statement.values })
        connection.execute({ portal: '', rows: 0 })
      }
      super.prepare(connection)
    }

    // The prefix statements are not described, so their rows arrive without a RowDescription,
    // each followed by its CommandComplete: skipped until the last one.
    override handleRowDescription(message: unknown): void {
      if (this.#skipping === 0) super.handleRowDescription(message)
    }

    override handleDataRow(message: unknown): void {
      if (this.#skipping === 0) super.handleDataRow(message)
    }

    override handleCommandComplete(message: unknown, connection: PgConnection): void {
      if (this.#skipping > 0) {
        this.#skipping -= 1
        return
      }
      super.handleCommandComplete(message, connection)
    }
  }
  statementClasses.set(Query, Statement)
  return Statement
}

function submit(
  client: Tracked,
  Query: PgQueryClass,
  config: PgQueryConfig,
  prefix: Prefixed[],
): Promise<PgResult> {
  const Statement = statementClass(Query)
  return new Promise((resolve, reject) => {
    const statement = new Statement(
      { text: config.text, values: config.values ?? [], ...pick(config) },
      prefix,
    )
    statement.callback = (error, result) => {
      if (!error) resolve(result as PgResult)
      // A message from the server is followed by ReadyForQuery (or, when FATAL, by the end of the
      // connection); a connection that was lost already says nothing more.
      else if (typeof (error as { severity?: unknown }).severity === 'string') {
        settled(client).then(() => reject(error))
      } else reject(error)
    }
    client[kStatus] = null
    client.query(statement)
  })
}

function pick(config: PgQueryConfig): Partial<PgQueryConfig> {
  const picked: Partial<PgQueryConfig> = {}
  if (config.name !== undefined) picked.name = config.name
  if (config.rowMode !== undefined) picked.rowMode = config.rowMode
  if (config.types !== undefined) picked.types = config.types
  return picked
}

const idle = (client: Tracked) => client[kStatus] === 'I'

/** The connections (as this process sees them) the settings statement was prepared on. */
const prepared = new WeakSet<object>()
const MISSING = '26000' // invalid_sql_statement_name: Bind named a statement the server lacks
const DUPLICATE = '42P05' // duplicate_prepared_statement: Parse named one it has

/**
 * Runs `send` with the settings as the named statement: Bind only, once the connection has it.
 * Behind a transaction-mode pooler the server connection can change between statements (PgBouncer
 * before 1.21 does not follow named statements): a Bind the server refuses (missing) or a Parse
 * it refuses (already there, prepared by another client) aborts the pipeline before anything ran,
 * so it is sent again with the other choice, and the last try uses an unnamed statement.
 */
function withPreparedSettings(
  client: Tracked,
  settings: TenantSettings,
  send: (prefix: Prefixed[]) => Promise<PgResult>,
): Promise<PgResult> {
  // The common case, prepared on this connection already: no retry machinery.
  if (prepared.has(client.connection)) {
    const values = settingsValues(settings)
    return send([{ text: SETTINGS_SQL, values, name: SETTINGS_STATEMENT, parse: false }]).catch(
      (error: unknown) => {
        const code = (error as { code?: unknown }).code
        if (code !== MISSING || !idle(client)) throw error
        prepared.delete(client.connection)
        return retryPreparedSettings(client, settings, send, 1)
      },
    )
  }
  return retryPreparedSettings(client, settings, send, 0)
}

/**
 * Tries from `first`: 0 and 1 with the named statement (parsed unless this connection is known to
 * have it), 2 with an unnamed one, which always works.
 */
async function retryPreparedSettings(
  client: Tracked,
  settings: TenantSettings,
  send: (prefix: Prefixed[]) => Promise<PgResult>,
  first: number,
): Promise<PgResult> {
  const connection = client.connection
  for (let attempt = first; ; attempt++) {
    const named = attempt < 2
    const parse = named && !prepared.has(connection)
    try {
      const result = await send([
        {
          text: SETTINGS_SQL,
          values: settingsValues(settings),
          ...(named ? { name: SETTINGS_STATEMENT, parse } : {}),
        },
      ])
      if (named) prepared.add(connection)
      return result
    } catch (error) {
      const code = (error as { code?: unknown }).code
      // Parsed, or there already, unless the server said it lacks it.
      if (named && code === MISSING) prepared.delete(connection)
      else if (named) prepared.add(connection)
      if (!named || !idle(client) || (code !== MISSING && code !== DUPLICATE)) throw error
    }
  }
}

const BEGIN = /^\s*begin\b/i
const SET_TRANSACTION = /^\s*set\s+transaction\b/i
const END = /^\s*(commit|rollback)\b/i

const emptyResult = (command: string): PgResult => ({ command, rowCount: 0, rows: [], fields: [] })

/**
 * What the app's `PrismaPg` adapter gets instead of its pool: statements outside transactions
 * borrow a connection, run with the bound tenant's settings in one round trip, and give it back;
 * a transaction (Prisma's own, for a write of several statements, or `$transaction`) borrows one
 * for its lifetime, with BEGIN and the settings sent ahead of its first statement.
 */
export function tenantPool(pool: PgPool, binding: TenantBinding, maxWaitMs: number): PgPool {
  const Query = pool.Client?.Query
  if (typeof Query !== 'function') {
    throw new TypeError('the pool of the app’s @prisma/adapter-pg adapter has no Client.Query')
  }

  /** A connection within `maxWaitMs`; one that comes later goes straight back. */
  function borrow(): Promise<Tracked> {
    // More idle connections than callers already waiting: one is handed over on the next tick
    // (node-postgres serves waiters in order), so there is no deadline to arm.
    const immediate = (pool.idleCount ?? 0) > (pool.waitingCount ?? 0)
    const borrowing = pool.connect() as Promise<Tracked>
    if (immediate) {
      return borrowing.then((client) => {
        track(client)
        return client
      })
    }
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        borrowing.then(
          (client) => client.release(),
          () => undefined,
        )
        reject(new PoolTimeoutError(maxWaitMs))
      }, maxWaitMs)
      timer.unref?.()
    })
    return Promise.race([borrowing, late]).then(
      (client) => {
        clearTimeout(timer)
        track(client)
        return client
      },
      (error: unknown) => {
        clearTimeout(timer)
        throw error
      },
    )
  }

  async function query(input: PgQueryConfig | string): Promise<PgResult> {
    const config = typeof input === 'string' ? { text: input } : input
    const settings = binding.current()
    if (!settings) throw new UnboundStatementError()
    const client = await borrow()
    let result: PgResult
    try {
      result = await withPreparedSettings(client, settings, (prefix) =>
        submit(client, Query as PgQueryClass, config, prefix),
      )
    } catch (error) {
      // A refused statement (constraint, policy, syntax) leaves the connection idle and reusable;
      // anything else (a lost connection, no ReadyForQuery) discards it.
      const reusable = idle(client)
      client.release(reusable ? undefined : (error as Error))
      throw error
    }
    if (!idle(client)) {
      const open = new OpenTransactionError()
      client.release(open)
      throw open
    }
    client.release()
    return result
  }

  async function connect(): Promise<PgClient> {
    const settings = binding.current()
    if (!settings) throw new UnboundStatementError()
    // Prisma bounds the wait for a transaction's connection itself (P2028) and hands back one that
    // comes late.
    const client = (await pool.connect()) as Tracked
    track(client)
    return transactionClient(client, Query as PgQueryClass, settings)
  }

  // Everything else (events, options, counts) is the app adapter's pool itself; only what the
  // adapter calls to run statements is replaced, and ending stays with whoever owns the pool.
  return Object.create(pool, {
    query: { value: query },
    connect: { value: connect },
    end: { value: async () => undefined },
  }) as PgPool
}

/**
 * One connection for one transaction. BEGIN (and SET TRANSACTION) wait for the first statement
 * and go with it and the settings in one round trip; a transaction that ran nothing ends without
 * one. Released to the pool only when the server reports it idle.
 */
function transactionClient(
  client: Tracked,
  Query: PgQueryClass,
  settings: TenantSettings,
): PgClient {
  const pending: Prefixed[] = []
  let started = false
  return {
    connection: client.connection,
    async query(config: unknown): Promise<PgResult> {
      const statement = config as PgQueryConfig
      if (!started) {
        if (BEGIN.test(statement.text) || SET_TRANSACTION.test(statement.text)) {
          if (statement.values?.length)
            throw new TypeError('BEGIN with parameters is not supported')
          pending.push({ text: statement.text, values: [] })
          return emptyResult(BEGIN.test(statement.text) ? 'BEGIN' : 'SET')
        }
        if (END.test(statement.text) && pending.length > 0) {
          pending.length = 0
          return emptyResult(statement.text.trim().split(/\s+/)[0]?.toUpperCase() ?? 'COMMIT')
        }
        started = true
        return submit(client, Query, statement, [
          ...pending,
          { text: SETTINGS_SQL, values: settingsValues(settings) },
        ])
      }
      client[kStatus] = null
      return client.query(statement) as Promise<PgResult>
    },
    release(error?: Error | boolean) {
      // Committed or rolled back: idle. Anything else (an error, a transaction left open) is not
      // handed to another request.
      const reusable = !error && (!started || idle(client))
      client.release(reusable ? undefined : error || new OpenTransactionError())
    },
    on: (event, listener) => client.on(event, listener),
    removeListener: (event, listener) => client.removeListener(event, listener),
  }
}

// --- the client of its own ---

interface AdapterFactoryLike {
  adapterName?: unknown
  config?: unknown
  externalPool?: unknown
  options?: Record<string, unknown>
  connect(): Promise<{ underlyingDriver?(): unknown; dispose(): Promise<void> }>
}

type AdapterFactoryClass = new (pool: unknown, options?: Record<string, unknown>) => unknown

interface PrismaInternals {
  _originalClient?: unknown
  _engineConfig?: { adapter?: unknown }
  _globalOmit?: unknown
  _extensions?: { isEmpty?(): boolean }
}

export interface TenantClient {
  /** A PrismaClient of the app's generated class, on the tenant pool: only the scoped client uses it. */
  prisma: unknown
  binding: TenantBinding
  /** app.prisma carries client extensions, which this client does not. */
  extended: boolean
  close(): Promise<void>
}

/**
 * Builds the client of its own for `request.db` from `app.prisma`: the same generated class and
 * the same `@prisma/adapter-pg` settings, on a pool whose statements carry the bound tenant. The
 * pool is app.prisma's own when the app gave `PrismaPg` a `pg.Pool` (one budget of connections),
 * otherwise one more pool with the same settings (and the same `max`). Null when app.prisma does
 * not run on `@prisma/adapter-pg` (an embedded PGlite, say): requests then keep one transaction
 * each.
 */
export async function createTenantClient(
  prisma: unknown,
  limits: { maxWaitMs: number; timeoutMs: number },
): Promise<TenantClient | null> {
  const internals = prisma as PrismaInternals
  const factory = internals._engineConfig?.adapter as AdapterFactoryLike | undefined
  if (factory?.adapterName !== '@prisma/adapter-pg') return null
  const original = (internals._originalClient ?? prisma) as { constructor: unknown }
  const PrismaClient = original.constructor as new (
    options: Record<string, unknown>,
  ) => {
    $disconnect(): Promise<void>
  }
  const Factory = (factory as unknown as { constructor: AdapterFactoryClass }).constructor

  // The app's pool when it handed one to PrismaPg; otherwise a pool of our own, built by the
  // app's factory itself (so with its node-postgres and its settings).
  let own: { dispose(): Promise<void> } | null = null
  let pool = factory.externalPool as PgPool | null | undefined
  if (!pool) {
    const adapter = await factory.connect()
    own = adapter
    pool = adapter.underlyingDriver?.() as PgPool | undefined
    if (!pool) {
      await adapter.dispose()
      return null
    }
  }
  const binding = new TenantBinding()
  const adapter = new Factory(tenantPool(pool, binding, limits.maxWaitMs), {
    ...factory.options,
    disposeExternalPool: false,
  })
  const client = new PrismaClient({
    adapter,
    transactionOptions: { maxWait: limits.maxWaitMs, timeout: limits.timeoutMs },
    // Prisma otherwise captures a stack trace (new Error) per operation, to point its error
    // messages at the caller: here that is always the scoped client, inside this package.
    errorFormat: 'minimal',
    ...(internals._globalOmit ? { omit: internals._globalOmit } : {}),
  })
  return {
    prisma: client,
    binding,
    extended: internals._extensions?.isEmpty?.() === false,
    async close() {
      await client.$disconnect()
      await own?.dispose()
    },
  }
}
