import type { FastifyContextConfig, FastifyRequest } from 'fastify'

type WithContext = Record<symbol, { config?: FastifyContextConfig } | undefined>

/** Not looked up yet (undefined), not found (null), or Fastify's route context symbol. */
let contextSymbol: symbol | null | undefined

/**
 * The config of the route a request matched (an empty one for a 404), for hooks that run on
 * every request. `request.routeOptions.config` gives the same object, but its getter builds a
 * fresh twelve-field object on every call; this reads the route context Fastify already holds.
 * The context is found once, by its symbol's description, and trusted only when it leads to the
 * very object the public getter returns; otherwise (a Fastify that changed it) the getter is used.
 */
export function routeConfigOf(request: FastifyRequest): FastifyContextConfig | undefined {
  if (contextSymbol === undefined) contextSymbol = findContextSymbol(request)
  if (contextSymbol === null) return request.routeOptions.config
  return (request as unknown as WithContext)[contextSymbol]?.config
}

/** Which path routeConfigOf takes on this Fastify (for a test that pins the fast one). */
export function routeConfigAccess(): 'context' | 'routeOptions' | 'unknown' {
  return contextSymbol === undefined ? 'unknown' : contextSymbol ? 'context' : 'routeOptions'
}

function findContextSymbol(request: FastifyRequest): symbol | null {
  const found = Object.getOwnPropertySymbols(request).find(
    (symbol) => symbol.description === 'fastify.context',
  )
  if (found === undefined) return null
  const config = (request as unknown as WithContext)[found]?.config
  return config !== undefined && config === request.routeOptions.config ? found : null
}
