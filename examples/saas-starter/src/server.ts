import { closeOnSignals } from '@acme/core'
import { buildApp } from './app.js'
import { loadEnv } from './env.js'

const env = loadEnv()
const app = await buildApp(env)
closeOnSignals(app)
await app.listen({ host: env.HOST, port: env.PORT })
app.log.info(`API docs at ${env.PUBLIC_BASE_URL}/docs`)
