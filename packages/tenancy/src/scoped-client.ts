import type { AcmePrisma } from '@acme/core'
import type { ScopeRules } from './data-model.js'
import { TenancyErrors } from './errors.js'
import { scopeArgs } from './scope-args.js'
import type { RawCapable } from './tenant-transaction.js'
import { unbatched } from './unique-lookups.js'

/**
 * The request's client: the app's Prisma client with every tenant-owned model scoped to the
 * request's tenant. Connection management and extensions stay on `app.prisma`.
 */
export type TenantScopedClient = Omit<
  AcmePrisma,
  '$connect' | '$disconnect' | '$on' | '$extends' | '$use'
>

type Delegate = Record<string, (args?: Record<string, unknown>) => PromiseLike<unknown>>
type AnyClient = RawCapable & Record<string, unknown>

export interface ScopedClientOptions {
  rules: ScopeRules
  tenantId: string
  /** Where operations run: the request's transaction, or the plain client when RLS is off. */
  client: () => Promise<RawCapable>
  /** Runs `work` atomically on that client (a savepoint, or a transaction of its own). */
  transaction: <R>(work: (db: TenantScopedClient) => Promise<R>) => Promise<R>
  /** Raw SQL is scoped only by the database's policies: refused when they are off. */
  rawAllowed: boolean
  /**
   * Starts one Prisma call (the tenant client binds the tenant to it here); by default the call
   * as is.
   */
  invoke?: <R>(call: () => PromiseLike<R>) => Promise<R>
  /** Send unique lookups as `findFirst`, off Prisma's cross-caller batching (the tenant client). */
  unbatched?: boolean
}

const direct = <R>(call: () => PromiseLike<R>): Promise<R> => Promise.resolve(call())

const delegates = new WeakMap<ScopeRules, ReadonlyMap<string, string>>()

/** Model by delegate name (`note` -> `Note`): built once per set of rules, not per request. */
function delegatesOf(rules: ScopeRules): ReadonlyMap<string, string> {
  let map = delegates.get(rules)
  if (!map) {
    map = new Map([...rules.values()].map((rule) => [rule.delegate, rule.model]))
    delegates.set(rules, map)
  }
  return map
}

const REFUSED = new Set(['$connect', '$disconnect', '$on', '$extends', '$use'])
const RAW = new Set(['$queryRaw', '$executeRaw', '$queryRawUnsafe', '$executeRawUnsafe'])

/**
 * Operations start when awaited, like Prisma's own promises, so `$transaction([a, b])` can run
 * them inside its savepoint in order.
 */
class LazyOperation<T> implements PromiseLike<T> {
  readonly #start: () => Promise<T>
  #running: Promise<T> | null = null
  readonly [Symbol.toStringTag] = 'PrismaPromise'

  constructor(start: () => Promise<T>) {
    this.#start = start
  }

  #run(): Promise<T> {
    this.#running ??= this.#start()
    return this.#running
  }

  // biome-ignore lint/suspicious/noThenProperty: this object is a promise-like by design.
  then<A = T, B = never>(
    onFulfilled?: ((value: T) => A | PromiseLike<A>) | null,
    onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return this.#run().then(onFulfilled, onRejected)
  }

  catch<B = never>(onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<T | B> {
    return this.#run().catch(onRejected)
  }

  finally(onFinally?: (() => void) | null): Promise<T> {
    return this.#run().finally(onFinally)
  }
}

export function createScopedClient(options: ScopedClientOptions): TenantScopedClient {
  const { rules, tenantId } = options
  const invoke = options.invoke ?? direct
  const modelByDelegate = delegatesOf(rules)

  const delegateProxy = (name: string, model: string): Delegate =>
    new Proxy({} as Delegate, {
      get(_target, operation) {
        if (typeof operation !== 'string') return undefined
        return (args?: Record<string, unknown>) =>
          new LazyOperation(async () => {
            const client = (await options.client()) as AnyClient
            const target = client[name] as Delegate | undefined
            if (typeof target?.[operation] !== 'function') {
              throw new TypeError(`${model}.${operation} is not a Prisma operation`)
            }
            const scoped = scopeArgs(rules, model, operation, args, tenantId)
            const rule = rules.get(model)
            const call =
              options.unbatched && rule
                ? unbatched(rule, operation, scoped)
                : { operation, args: scoped }
            const method = target[call.operation]
            if (typeof method !== 'function') {
              throw new TypeError(`${model}.${call.operation} is not a Prisma operation`)
            }
            try {
              return await invoke(() => method.call(target, call.args))
            } catch (error) {
              throw asTenancyError(error)
            }
          })
      },
    })

  const cache = new Map<string, unknown>()
  const scoped = new Proxy({} as Record<string, unknown>, {
    get(_target, property) {
      if (typeof property !== 'string') return undefined
      const cached = cache.get(property)
      if (cached !== undefined) return cached
      let value: unknown
      const model = modelByDelegate.get(property)
      if (model) value = delegateProxy(property, model)
      else if (property === '$transaction') value = transaction
      else if (RAW.has(property)) value = raw(property)
      else if (REFUSED.has(property)) value = refused(property)
      // Anything else (including `then`, so the client is not mistaken for a promise) is absent.
      else return undefined
      cache.set(property, value)
      return value
    },
  })

  function transaction(work: unknown): Promise<unknown> {
    if (typeof work === 'function') {
      return options.transaction(work as (db: TenantScopedClient) => Promise<unknown>)
    }
    if (Array.isArray(work)) {
      return options.transaction(async () => {
        const results: unknown[] = []
        for (const operation of work) results.push(await operation)
        return results
      })
    }
    return Promise.reject(new TypeError('$transaction takes a function or an array of operations'))
  }

  function raw(method: string) {
    return (...args: unknown[]) =>
      new LazyOperation(async () => {
        if (!options.rawAllowed) throw rawSqlRefused(method)
        const client = (await options.client()) as AnyClient
        const fn = client[method] as ((...values: unknown[]) => PromiseLike<unknown>) | undefined
        if (typeof fn !== 'function') throw new TypeError(`${method} is not available`)
        return invoke(() => fn.apply(client, args))
      })
  }

  function rawSqlRefused(method: string) {
    return new TenancyErrors.RawSqlUnscoped({
      cause: new Error(
        `${method} through the tenant-scoped client is refused: row-level security is off ` +
          '(rls: false), so nothing would keep the query to its tenant. Use model operations, ' +
          'or app.prisma with an explicit tenant filter.',
      ),
    })
  }

  function refused(method: string) {
    return () => {
      throw new TypeError(`${method} is not available on the tenant-scoped client: use app.prisma`)
    }
  }

  return scoped as unknown as TenantScopedClient
}

/**
 * Another tenant's row is, to this client, a row that does not exist: Prisma's "record not found"
 * and the database's row-level security refusal both become the same 404 as a missing id.
 */
function asTenancyError(error: unknown): unknown {
  const candidate = error as { code?: unknown; message?: unknown; cause?: unknown } | null
  if (candidate?.code === 'P2025') return new TenancyErrors.NotFound({ cause: error })
  if (isRowSecurityViolation(error)) return new TenancyErrors.CrossTenantWrite({ cause: error })
  return error
}

function isRowSecurityViolation(error: unknown): boolean {
  for (let current = error, depth = 0; current && depth < 5; depth++) {
    const candidate = current as {
      code?: unknown
      originalCode?: unknown
      message?: unknown
      cause?: unknown
    }
    if (candidate.originalCode === '42501' || candidate.code === '42501') return true
    if (typeof candidate.message === 'string' && candidate.message.includes('row-level security')) {
      return true
    }
    current = candidate.cause
  }
  return false
}
