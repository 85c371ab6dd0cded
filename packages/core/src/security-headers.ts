import type { IncomingMessage, ServerResponse } from 'node:http'
import helmet, { type HelmetOptions } from 'helmet'

export type SecurityHeaders = Readonly<Record<string, string>>

export interface SecurityHeaderSets {
  /** Helmet's whole set: for routes that serve a document (HTML), such as the docs UI. */
  document: SecurityHeaders
  /** What a browser honours on any other response (JSON, files, problem+json, 404s). */
  api: SecurityHeaders
}

/**
 * Helmet's headers a browser also applies to a response it does not render as a document. The
 * others (Cross-Origin-Opener-Policy and -Embedder-Policy, Origin-Agent-Cluster,
 * X-DNS-Prefetch-Control, X-Download-Options, X-Permitted-Cross-Domain-Policies, X-XSS-Protection)
 * only take effect on an HTML document, so a JSON response carries their bytes for nothing.
 */
const RESPONSE_WIDE = [
  'strict-transport-security',
  'x-content-type-options',
  'referrer-policy',
  'cross-origin-resource-policy',
] as const

/**
 * A response that is not a document loads nothing and is never meant to be framed, so it gets
 * the strictest policy there is, shorter than any document's (OWASP's REST security headers).
 */
const API_CONTENT_SECURITY_POLICY = "default-src 'none'; frame-ancestors 'none'"

/**
 * Runs helmet once at startup and returns the headers it sets, whole for documents and reduced
 * to what applies for every other response. The values do not depend on the request (dynamic CSP
 * directives are not supported), and computing them per request halved throughput in
 * docs/benchmarks.md.
 */
export function computeSecurityHeaders(options: HelmetOptions): SecurityHeaderSets {
  const document = runHelmet(options)
  const api: Record<string, string> = {}
  // A header turned off in the helmet options stays off for every response.
  if (document['content-security-policy'] !== undefined) {
    api['content-security-policy'] = API_CONTENT_SECURITY_POLICY
  }
  if (document['x-frame-options'] !== undefined) api['x-frame-options'] = 'DENY'
  for (const name of RESPONSE_WIDE) {
    const value = document[name]
    if (value !== undefined) api[name] = value
  }
  return { document, api }
}

function runHelmet(options: HelmetOptions): Record<string, string> {
  const headers: Record<string, string> = {}
  const recorder = {
    setHeader(name: string, value: string | number | readonly string[]) {
      headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value)
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()]
    },
  }
  let failure: unknown
  helmet(options)(
    {} as IncomingMessage,
    recorder as unknown as ServerResponse,
    (error?: unknown) => {
      failure = error
    },
  )
  if (failure) throw failure
  return headers
}
