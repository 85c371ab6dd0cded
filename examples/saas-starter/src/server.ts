import { closeOnSignals } from '@acme/core'
import { buildApp } from './app.js'
import { loadEnv } from './env.js'
import { logStreamFor } from './log-stream.js'

const env = loadEnv()
const app = await buildApp(env, { logStream: logStreamFor(env, process.stdout) })
closeOnSignals(app)
await app.listen({ host: env.HOST, port: env.PORT })
app.log.info(`ready at ${env.PUBLIC_BASE_URL} (API docs at ${env.PUBLIC_BASE_URL}/docs)`)
