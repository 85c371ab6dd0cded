import type { FastifyContextConfig, FastifyInstance } from 'fastify'

export interface RouteEntry {
  method: string
  url: string
  config: FastifyContextConfig
}

/**
 * `app.routeTable`: every route of the app with its config, collected from core's registration
 * on, so plugins can check them all at startup (e.g. an authorization plugin refusing routes that
 * declare no permission). Fastify offers no structured route list of its own.
 */
export class RouteTable {
  readonly #entries: RouteEntry[] = []

  list(): readonly RouteEntry[] {
    return this.#entries
  }

  /** @internal */
  collect(app: FastifyInstance): void {
    app.addHook('onRoute', (route) => {
      const methods = Array.isArray(route.method) ? route.method : [route.method]
      for (const method of methods) {
        // HEAD twins of GET routes run the same hooks: nothing more to check.
        if (method === 'HEAD') continue
        this.#entries.push({
          method,
          url: route.url,
          config: (route.config ?? {}) as FastifyContextConfig,
        })
      }
    })
  }
}
