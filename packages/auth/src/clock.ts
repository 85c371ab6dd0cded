// The one clock type of every package is core's; re-exported for auth's existing imports.
export { type Clock, systemClock } from '@acme/core'
