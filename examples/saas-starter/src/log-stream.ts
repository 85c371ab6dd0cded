import pretty from 'pino-pretty'
import type { Env } from './env.js'

/**
 * Where the server's log lines go: readable lines for a person at a terminal, JSON (one object
 * per line, for a log shipper) when stdout is a pipe or a file, unless LOG_FORMAT says otherwise.
 * Undefined leaves Fastify's default, JSON on stdout.
 */
export function logStreamFor(
  env: Pick<Env, 'LOG_FORMAT'>,
  stdout: NodeJS.WritableStream & { isTTY?: boolean },
): NodeJS.WritableStream | undefined {
  const format = env.LOG_FORMAT ?? (stdout.isTTY ? 'pretty' : 'json')
  if (format === 'json') return undefined
  // Synchronous, in this process: a worker-thread transport would lose the last lines on Ctrl-C.
  return pretty({
    destination: stdout,
    colorize: Boolean(stdout.isTTY),
    translateTime: 'HH:MM:ss',
    ignore: 'pid,hostname',
    sync: true,
  })
}
