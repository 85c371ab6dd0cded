export { type ManualClock, manualClock } from './clock.js'
export { type PgBouncer, type PgBouncerOptions, startPgBouncer } from './pgbouncer.js'
export { freePort } from './port.js'
export { acceptsConnections, isRunning, processTree } from './processes.js'
export { checkPublishedTypes, type PublishedTypesOptions } from './published-types.js'
export { type ParsedMail, parseRawMail } from './raw-mail.js'
export {
  type RedisCluster,
  type RedisClusterOptions,
  startRedisCluster,
} from './redis-cluster.js'
export { startTcpProxy, type TcpProxy } from './tcp-proxy.js'
export {
  createDeferred,
  type Deferred,
  sleep,
  timeUntil,
  type WaitOptions,
  waitFor,
} from './wait.js'
