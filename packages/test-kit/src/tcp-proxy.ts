import { connect, createServer, type Server, type Socket } from 'node:net'

/**
 * A TCP forwarder in front of PostgreSQL or Redis, so a test can cut the connection (outage)
 * and restore it on the same port without touching the real service.
 */
export interface TcpProxy {
  readonly port: number
  readonly url: (template: string) => string
  /** Drops every open connection and refuses new ones. */
  cut(): Promise<void>
  /** Accepts connections again on the same port. */
  restore(): Promise<void>
  close(): Promise<void>
}

export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<Socket>()
  let server: Server
  let port = 0

  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server = createServer((client) => {
        const upstream = connect(targetPort, targetHost)
        sockets.add(client)
        sockets.add(upstream)
        const drop = () => {
          client.destroy()
          upstream.destroy()
          sockets.delete(client)
          sockets.delete(upstream)
        }
        client.on('error', drop).on('close', drop)
        upstream.on('error', drop).on('close', drop)
        client.pipe(upstream).pipe(client)
      })
      server.once('error', reject)
      server.listen(port, '127.0.0.1', () => {
        const address = server.address()
        if (address && typeof address === 'object') port = address.port
        resolve()
      })
    })

  const stop = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy()
      sockets.clear()
      server.close(() => resolve())
    })

  await listen()
  return {
    get port() {
      return port
    },
    url: (template) => template.replace(/:(\d+)(?=\/|$)/, `:${port}`),
    cut: stop,
    restore: listen,
    close: stop,
  }
}
