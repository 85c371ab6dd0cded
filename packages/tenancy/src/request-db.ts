import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { ScopeRules } from './data-model.js'
import { TenancyErrors } from './errors.js'
import { createTenantClient, type TenantClient } from './pg-tenant-driver.js'
import { createScopedClient, type TenantScopedClient } from './scoped-client.js'
import {
  type RawCapable,
  RequestTransaction,
  type TenantSettings,
  type TransactionCapable,
  type TransactionLimits,
} from './tenant-transaction.js'

/**
 * How much of a request's work one transaction covers, with row-level security on.
 * `statement` (default): every statement is its own transaction, the tenant sent with it;
 * `request.db.$transaction` groups statements. `request`: the whole request is one transaction,
 * committed before a successful response.
 */
export type TransactionScope = 'statement' | 'request'

const kRequestDb = Symbol('acme.tenancy.requestDb')

interface RequestDbState {
  client: TenantScopedClient
  transaction: RequestTransaction | null
}

type WithState = FastifyRequest & { [kRequestDb]?: RequestDbState }

export interface RequestDbOptions {
  prisma: TransactionCapable
  rules: ScopeRules
  rls: boolean
  limits: TransactionLimits
  /** The default of routes that do not set `config.tenantTransaction`. */
  scope?: TransactionScope
  /** The client of its own `statement` scope runs on (built by `installRequestDb`). */
  tenantClient?: TenantClient | null
}

let savepoints = 0

/** Runs `work` inside a savepoint of `tx`: a nested transaction that rolls back on its own. */
export async function inSavepoint<R>(tx: RawCapable, work: () => Promise<R>): Promise<R> {
  savepoints = (savepoints + 1) % 1_000_000
  const name = `acme_sp_${savepoints}`
  await tx.$executeRawUnsafe(`SAVEPOINT ${name}`)
  try {
    const result = await work()
    await tx.$executeRawUnsafe(`RELEASE SAVEPOINT ${name}`)
    return result
  } catch (error) {
    await tx.$executeRawUnsafe(`ROLLBACK TO SAVEPOINT ${name}`)
    throw error
  }
}

/**
 * A scoped client for `tenantId`. With a request transaction (RLS in the `request` scope, jobs,
 * `withTenant`), every operation runs in `transaction` (opened on first use) after the tenant
 * setting; without (RLS off), operations run on the plain client, filtered.
 */
export function scopedClientFor(
  options: RequestDbOptions,
  tenantId: string,
  transaction: RequestTransaction | null,
): TenantScopedClient {
  if (transaction) {
    const client: TenantScopedClient = createScopedClient({
      rules: options.rules,
      tenantId,
      client: () => transaction.client(),
      transaction: async (work) => {
        const tx = await transaction.client()
        return inSavepoint(tx, () => work(client))
      },
      rawAllowed: true,
    })
    return client
  }
  const plain = options.prisma as unknown as RawCapable
  return createScopedClient({
    rules: options.rules,
    tenantId,
    client: async () => plain,
    transaction: (work) =>
      options.prisma.$transaction(
        (tx) =>
          work(
            createScopedClient({
              rules: options.rules,
              tenantId,
              client: async () => tx,
              transaction: (nested) => Promise.reject(nestedUnsupported(nested)),
              rawAllowed: false,
            }),
          ),
        { maxWait: options.limits.maxWaitMs, timeout: options.limits.timeoutMs },
      ),
    rawAllowed: false,
  })
}

const same = <T>(value: T): T => value

/**
 * A scoped client for `settings.tenantId` on the tenant client: each operation is one Prisma call
 * bound to the settings, its statements sent each with the tenant, in one round trip. `$transaction`
 * runs on one connection (BEGIN and the settings go with its first statement); inside it, a nested
 * `$transaction` is a savepoint.
 */
export function statementScopedClient(
  options: RequestDbOptions,
  tenant: TenantClient,
  settings: TenantSettings,
): TenantScopedClient {
  const db = tenant.prisma as TransactionCapable
  // Prisma's operations start when `then` is called: here, inside the binding.
  const invoke = <R>(call: () => PromiseLike<R>): Promise<R> =>
    tenant.binding.run(settings, () => Promise.resolve(call().then(same)))
  return createScopedClient({
    rules: options.rules,
    tenantId: settings.tenantId,
    client: async () => db as unknown as RawCapable,
    invoke,
    unbatched: true,
    rawAllowed: true,
    transaction: (work) =>
      invoke(() =>
        db.$transaction(
          (tx) => {
            const client: TenantScopedClient = createScopedClient({
              rules: options.rules,
              tenantId: settings.tenantId,
              client: async () => tx,
              transaction: (nested) => inSavepoint(tx, () => nested(client)),
              rawAllowed: true,
            })
            return work(client)
          },
          { maxWait: options.limits.maxWaitMs, timeout: options.limits.timeoutMs },
        ),
      ),
  })
}

function nestedUnsupported(_work: unknown): Error {
  return new TypeError('nested $transaction is not supported without row-level security')
}

/**
 * `request.db` and the hooks that settle a request transaction with the response. With RLS and
 * the `statement` scope, builds the tenant client (when app.prisma runs on `@prisma/adapter-pg`;
 * otherwise every request keeps one transaction, and the log says so).
 */
export async function installRequestDb(
  app: FastifyInstance,
  options: RequestDbOptions,
): Promise<void> {
  const defaultScope = options.scope ?? 'statement'
  let tenantClient = options.tenantClient ?? null
  if (options.rls && options.tenantClient === undefined) {
    tenantClient = await createTenantClient(options.prisma, options.limits)
    const built = tenantClient
    if (built) {
      // Loads the client's query compiler at startup rather than in the first request.
      app.addHook('onReady', async () => {
        await (built.prisma as { $connect(): Promise<void> }).$connect()
      })
      app.addHook('onClose', async () => {
        await built.close()
      })
      if (built.extended) {
        app.log.warn(
          'tenancy: app.prisma has client extensions ($extends); request.db runs on a client of its own that does not apply them',
        )
      }
    } else if (defaultScope === 'statement') {
      app.log.info(
        'tenancy: app.prisma does not run on @prisma/adapter-pg: each request that uses request.db runs in one transaction',
      )
    }
  }
  const scoped: RequestDbOptions = { ...options, tenantClient }

  app.decorateRequest('db', {
    getter(this: FastifyRequest): TenantScopedClient {
      const request = this as WithState
      const existing = request[kRequestDb]
      if (existing) return existing.client
      const tenant = request.tenant
      if (!tenant) throw new TenancyErrors.TenantRequired()
      const settings = { tenantId: tenant.id, userId: request.principal?.userId ?? null }
      const scope = request.routeOptions.config.tenantTransaction ?? defaultScope
      if (options.rls && scope === 'statement' && tenantClient) {
        const state: RequestDbState = {
          client: statementScopedClient(scoped, tenantClient, settings),
          transaction: null,
        }
        request[kRequestDb] = state
        return state.client
      }
      const transaction = options.rls
        ? new RequestTransaction(options.prisma, settings, options.limits)
        : null
      const state: RequestDbState = {
        client: scopedClientFor(options, tenant.id, transaction),
        transaction,
      }
      request[kRequestDb] = state
      return state.client
    },
  })

  // Committed before the response leaves, so a client never reads a success that did not persist;
  // a failed commit becomes the response (503 for a lost connection, through core's handler).
  app.addHook('onSend', async (request, reply, payload) => {
    const transaction = (request as WithState)[kRequestDb]?.transaction
    if (transaction?.started) {
      if (reply.statusCode < 400) await transaction.commit()
      else await transaction.rollback()
    }
    return payload
  })
  const rollback = async (request: FastifyRequest) => {
    await (request as WithState)[kRequestDb]?.transaction?.rollback()
  }
  app.addHook('onError', rollback)
  app.addHook('onResponse', rollback)
  app.addHook('onRequestAbort', rollback)
}
