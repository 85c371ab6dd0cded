import type { FastifyContextConfig, FastifyInstance, FastifyRequest } from 'fastify'
import { routeConfigOf } from './route-config.js'
import type { SecurityHeaderSets, SecurityHeaders } from './security-headers.js'

/** Header names and values side by side, so the request hook sets them without allocating. */
export interface HeaderList {
  names: readonly string[]
  values: readonly string[]
}

export type HeadersOf = (request: FastifyRequest) => HeaderList

export type SecurityHeaderScope = 'applicable' | 'all'

const kDocumentRoute = Symbol('acme.core.documentRoute')
type MarkedConfig = FastifyContextConfig & { [kDocumentRoute]?: true }

const listOf = (headers: SecurityHeaders): HeaderList => ({
  names: Object.keys(headers),
  values: Object.values(headers),
})

/**
 * Decides, when each route is declared, which header set its responses get: helmet's whole set
 * for a route that serves a document (`config.document: true`, and the docs UI under
 * `docsPrefix`), the set that applies to any other response elsewhere (404s included). With
 * `scope: 'all'` every response gets the whole set and no route is looked at.
 */
export function installSecurityHeaders(
  app: FastifyInstance,
  sets: SecurityHeaderSets,
  scope: SecurityHeaderScope,
  docsPrefix: string | null,
): HeadersOf {
  const document = listOf(sets.document)
  if (scope === 'all') return () => document
  const api = listOf(sets.api)
  const docsRoot = docsPrefix?.replace(/\/$/, '') ?? null
  const isDocs = (url: string) =>
    docsRoot !== null && (url === docsRoot || url.startsWith(`${docsRoot}/`))

  app.addHook('onRoute', (route) => {
    if (route.config?.document !== true && !isDocs(route.url)) return
    route.config = { ...route.config, [kDocumentRoute]: true } as MarkedConfig
  })
  return (request) =>
    (routeConfigOf(request) as MarkedConfig | undefined)?.[kDocumentRoute] ? document : api
}
