import { PassThrough } from 'node:stream'
import Fastify, { type FastifyInstance } from 'fastify'
import { acmeCore, type CoreOptions, serverOptions } from '../../src/index.js'

export const TEST_BRAND = {
  name: 'Initech',
  baseUrl: 'https://api.initech.test',
  supportEmail: 'help@initech.test',
  mailFrom: 'no-reply@initech.test',
} as const

export interface TestApp {
  app: FastifyInstance
  /** Every log line the app wrote, parsed. */
  logs: Array<Record<string, unknown>>
  /** The raw log text, for "never appears anywhere" assertions. */
  rawLogs: () => string
}

/** An app with core registered (memory mail, no Redis unless given) and the caller's routes. */
export async function buildTestApp(
  options: Partial<CoreOptions> = {},
  routes: (app: FastifyInstance) => void | Promise<void> = () => {},
): Promise<TestApp> {
  const stream = new PassThrough()
  const lines: string[] = []
  stream.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean)))
  const app = Fastify(serverOptions({ logger: { stream }, level: 'debug' }))
  await app.register(acmeCore, { brand: TEST_BRAND, mail: { transport: 'memory' }, ...options })
  await routes(app)
  await app.ready()
  return {
    app,
    get logs() {
      return lines.map((line) => JSON.parse(line) as Record<string, unknown>)
    },
    rawLogs: () => lines.join('\n'),
  }
}
