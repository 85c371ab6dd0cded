import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { ScopeRules } from './data-model.js'
import { TenancyErrors } from './errors.js'
import { createScopedClient, type TenantScopedClient } from './scoped-client.js'
import {
  type RawCapable,
  RequestTransaction,
  type TransactionCapable,
  type TransactionLimits,
} from './tenant-transaction.js'

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
 * A scoped client for `tenantId`. With RLS, every operation runs in `transaction` (opened on first
 * use) after the tenant setting; without, operations run on the plain client, filtered.
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

function nestedUnsupported(_work: unknown): Error {
  return new TypeError('nested $transaction is not supported without row-level security')
}

/** `request.db` and the hooks that settle its transaction with the response. */
export function installRequestDb(app: FastifyInstance, options: RequestDbOptions): void {
  app.decorateRequest('db', {
    getter(this: FastifyRequest): TenantScopedClient {
      const request = this as WithState
      const existing = request[kRequestDb]
      if (existing) return existing.client
      const tenant = request.tenant
      if (!tenant) throw new TenancyErrors.TenantRequired()
      const transaction = options.rls
        ? new RequestTransaction(
            options.prisma,
            { tenantId: tenant.id, userId: request.principal?.userId ?? null },
            options.limits,
          )
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
