// Child process: starts one benchmark server and tells the parent its port, so the load
// generator and the server under test never share an event loop.
import type { AddressInfo } from 'node:net'
import { type ServerName, servers } from './servers.js'

const name = process.argv[2] as ServerName
const app = await servers[name]()
await app.listen({ port: 0, host: '127.0.0.1' })
process.send?.({ port: (app.server.address() as AddressInfo).port })
process.on('disconnect', () => {
  app.close().then(() => process.exit(0))
})
