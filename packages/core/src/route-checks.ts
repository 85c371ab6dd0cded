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

/** What a check runs per request; it refuses by throwing. */
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
 * is declared, as `@fastify/rate-limit` attaches its hook, instead of global hooks reading
 * `routeOptions.config` on every request. Every route gets one `onRequest` hook, ahead of the
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
  // Callback style, so a route without checks costs no promise.
  return function routeChecks(
    request: FastifyRequest,
    reply: FastifyReply,
    done: HookHandlerDoneFunction,
  ) {
    if (slot.checks.length === 0) {
      done()
      return
    }
    runInOrder(slot.checks, request, reply).then(
      () => {
        if (!reply.sent) done()
      },
      (error: Error) => done(error),
    )
  }
}

async function runInOrder(
  checks: readonly RouteCheck[],
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<void> {
  for (const check of checks) {
    await check(request, reply)
    if (reply.sent) return
  }
}
