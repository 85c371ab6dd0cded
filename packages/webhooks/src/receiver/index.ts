// `@acme/webhooks/receiver`: what the product's customers run in their own Node apps to check
// deliveries. No Fastify, no @acme/core: only node:crypto.

export { PUBLIC_KEY_PREFIX } from './asymmetric.js'
export {
  handleOnce,
  type IdempotencyRedis,
  type IdempotencyStore,
  MemoryIdempotencyStore,
  redisIdempotencyStore,
} from './idempotency.js'
export { SECRET_PREFIX } from './signature.js'
export {
  type VerifiedWebhook,
  type VerifyWebhookInput,
  verifyWebhook,
  type WebhookHeaders,
  WebhookVerificationError,
  type WebhookVerificationReason,
} from './verify.js'
