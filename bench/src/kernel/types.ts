import type { FastifyInstance } from 'fastify'

/** One server of the kernel benchmark, started in a child process of its own. */
export interface BenchServer {
  app: FastifyInstance
  /** The route the load generator requests. */
  path: string
  /** Sent with every request: a bearer token or a session cookie. */
  headers: Record<string, string>
  /**
   * Response headers the route must carry, checked before it is measured: a faster kernel that
   * dropped a security header or the rate limit would otherwise look like a win.
   */
  expectHeaders: string[]
  /** Releases what the server created outside itself (a database, Redis keys). */
  cleanup?: () => Promise<void>
}

/** What a child tells the runner once its server listens. */
export interface ServerReady {
  port: number
  path: string
  headers: Record<string, string>
  expectHeaders: string[]
}

/** The small JSON object every server answers with. */
export const BODY = { id: '8d3c1c9e-3c1f-4a52-9f0e-2b8f6d1f4a11', name: 'Initech', plan: 'pro' }
export const PATH = '/projects/current'
