/** The port an app listens on when `PORT` says nothing usable, and the one in the default URL. */
export const DEFAULT_PORT = 3000

/**
 * The public origin an app has when it names none: `http://localhost:<PORT>`. It follows `PORT`
 * because the base URL ends up in every public link (the OpenAPI server, problem `type` URIs,
 * mail links, a JWT issuer taken from it): a server moved to another port must not keep sending
 * clients to 3000. A `PORT` that is not a port number (or 0, "any free port", which is unknown
 * until listen) falls back to 3000.
 */
export function defaultBaseUrl(env: Readonly<Record<string, string | undefined>>): string {
  const raw = env.PORT?.trim() ?? ''
  const port = /^\d{1,5}$/.test(raw) ? Number(raw) : Number.NaN
  const usable = Number.isInteger(port) && port > 0 && port <= 65_535
  return `http://localhost:${usable ? port : DEFAULT_PORT}`
}
