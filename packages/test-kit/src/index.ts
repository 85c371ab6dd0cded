export { type ManualClock, manualClock } from './clock.js'
export { freePort } from './port.js'
export { startTcpProxy, type TcpProxy } from './tcp-proxy.js'
export {
  createDeferred,
  type Deferred,
  sleep,
  timeUntil,
  type WaitOptions,
  waitFor,
} from './wait.js'
