// Child process: starts one kernel benchmark server and tells the runner its port, route and
// request headers, so the load generator and the server under test never share an event loop.
import type { AddressInfo } from 'node:net'
import { answerWindowRequests } from './profile.js'
import { type KernelServerName, kernelServers } from './servers.js'
import type { ServerReady } from './types.js'

const name = process.argv[2] as KernelServerName
const server = await kernelServers[name].start()
await server.app.listen({ port: 0, host: '127.0.0.1' })
const ready: ServerReady = {
  port: (server.app.server.address() as AddressInfo).port,
  path: server.path,
  headers: server.headers,
  expectHeaders: server.expectHeaders,
}
answerWindowRequests(name)
process.send?.(ready)
process.on('disconnect', () => {
  server.app
    .close()
    .then(() => server.cleanup?.())
    .then(() => process.exit(0))
})
