import type { EndpointConfiguration, WebhookEndpointView } from '../types.js'

export function configurationOf(endpoint: WebhookEndpointView): EndpointConfiguration {
  const { headers, failingSince: _failingSince, ...rest } = endpoint
  return { ...rest, headers: Object.keys(headers).sort() }
}
