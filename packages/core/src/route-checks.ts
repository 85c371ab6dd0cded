import type {
  FastifyContextConfig,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  HookHandlerDoneFunction,
  onRequestHookHandler,
} from 'fastify'

/** The order checks run in on a route, whichever plugin registered first. */
export const ROUTE_CHECK_PHASES = ['authenticate', 'tenant', 'authorize'] as const
export type RouteCheckPhase = (typeof ROUTE_CHECK_PHASES)[number]

/**
 * What a check runs per request; it refuses by throwing (or rejecting). A check that can decide
 * at once (from a warm cache) should return nothing rather than a promise: a route whose checks
 * all do so runs them without a microtask.
 */
export type RouteCheck = (request: FastifyRequest, reply: FastifyReply) => Promise<void> | void

/** A route as a check factory sees it. */
export interface RouteDescription {
  method: string
  url: string
  config: FastifyContextConfig
}

/**
 * Reads a route's options once, at `ready()`, and answers the check it needs, or null when the
 * route declares nothing this plugin enforces (a public route pays nothing for authentication).
 */
export type RouteCheckFactory = (route: RouteDescription) => RouteCheck | null

interface Slot {
  route: RouteDescription
  checks: RouteCheck[]
}

/**
 * `app.routeChecks`: per-route checks (authentication, tenant, permission) attached when a route
 * is declared, instead of global hooks reading `routeOptions.config` on every request. Every
 * route gets one `onRequest` hook, ahead of the
 * route's own hooks; what it runs is built at `ready()`, when every plugin has declared its
 * factory, so a route declared before a plugin still gets that plugin's check.
 */
export class RouteChecks {
  readonly #factories = new Map<RouteCheckPhase, RouteCheckFactory[]>(
    ROUTE_CHECK_PHASES.map((phase) => [phase, []]),
  )
  readonly #slots: Slot[] = []
  #built = false

  /** Call while registering: a factory added after `ready()` would never run, so it throws. */
  add(phase: RouteCheckPhase, factory: RouteCheckFactory): void {
    if (this.#built) throw new Error(`routeChecks.add('${phase}') after ready()`)
    const factories = this.#factories.get(phase)
    if (!factories) throw new TypeError(`unknown route check phase "${phase}"`)
    factories.push(factory)
  }

  /** The checks a route runs, in order (for tests and diagnostics). */
  checksOf(method: string, url: string): readonly RouteCheck[] {
    const slot = this.#slots.find(
      (candidate) => candidate.route.method === method && candidate.route.url === url,
    )
    return slot?.checks ?? []
  }

  /** @internal */
  install(app: FastifyInstance): void {
    app.addHook('onRoute', (route) => {
      const methods = Array.isArray(route.method) ? route.method : [route.method]
      const slot: Slot = {
        route: {
          method: methods.join(','),
          url: route.url,
          config: (route.config ?? {}) as FastifyContextConfig,
        },
        checks: [],
      }
      this.#slots.push(slot)
      const own = route.onRequest
      // A new array: Fastify's HEAD twin of a GET route shares the original one.
      route.onRequest = [slotHook(slot), ...(own === undefined ? [] : [own].flat())]
    })
    app.addHook('onReady', async () => this.#build())
  }

  #build(): void {
    this.#built = true
    for (const slot of this.#slots) {
      slot.checks = []
      for (const phase of ROUTE_CHECK_PHASES) {
        for (const factory of this.#factories.get(phase) ?? []) {
          const check = factory(slot.route)
          if (check) slot.checks.push(check)
        }
      }
    }
  }
}

function slotHook(slot: Slot): onRequestHookHandler {
  // Callback style: a route without checks, or whose checks answer at once (warm caches), costs
  // no promise; the first check that returns one switches the rest of the route to awaiting.
  return function routeChecks(
    request: FastifyRequest,
    reply: FastifyReply,
    done: HookHandlerDoneFunction,
  ) {
    runFrom(slot.checks, 0, request, reply, done)
  }
}

function runFrom(
  checks: readonly RouteCheck[],
  first: number,
  request: FastifyRequest,
  reply: FastifyReply,
  done: HookHandlerDoneFunction,
): void {
  for (let index = first; index < checks.length; index++) {
    let pending: Promise<void> | void
    try {
      pending = (checks[index] as RouteCheck)(request, reply)
    } catch (error) {
      done(error as Error)
      return
    }
    if (pending !== undefined) {
      pending.then(
        () => {
          if (!reply.sent) runFrom(checks, index + 1, request, reply, done)
        },
        (error: Error) => done(error),
      )
      return
    }
    if (reply.sent) return
  }
  done()
}
