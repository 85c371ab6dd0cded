import { once } from 'node:events'
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface Received {
  path: string
  headers: IncomingHttpHeaders
  body: string
}

/** What the receiver answers at a path: a status, headers and a body (default 204). */
export type Answer = (received: Received, response: ServerResponse) => void

/** A real HTTP server on 127.0.0.1 that records every request and answers per path. */
export interface Receiver {
  url(path: string): string
  received: Received[]
  at(path: string): Received[]
  answer(path: string, answer: Answer): void
  close(): Promise<void>
}

export async function startReceiver(): Promise<Receiver> {
  const received: Received[] = []
  const answers = new Map<string, Answer>()
  const server = createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      const entry = {
        path: request.url ?? '',
        headers: request.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      }
      received.push(entry)
      const answer = answers.get(entry.path) ?? ((_entry, res) => res.writeHead(204).end())
      answer(entry, response)
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  return {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    received,
    at: (path) => received.filter((entry) => entry.path === path),
    answer: (path, answer) => {
      answers.set(path, answer)
    },
    async close() {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}

/** Answers `status` with these headers. */
export const status =
  (code: number, headers: Record<string, string> = {}): Answer =>
  (_received, response) =>
    response.writeHead(code, headers).end(code === 204 ? undefined : `status ${code}`)
