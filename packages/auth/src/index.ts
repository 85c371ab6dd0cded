import { parseOptions } from '@acme/core'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { authenticationCheck } from './authenticate.js'
import { systemClock } from './clock.js'
import type { AuthDb } from './db.js'
import { AuthExtensions } from './extensions.js'
import { defineCleanupJob } from './jobs/cleanup.js'
import { registerAuthTemplates } from './mail.js'
import { registerAccountTemplates } from './mail-templates-account.js'
import { registerPasswordTemplates } from './mail-templates-password.js'
import { type AuthOptions, authOptionsSchema } from './options.js'
import { RefreshCookie, resolveRefreshCookie } from './refresh-cookie.js'
import { mailOnRefreshReuse } from './reuse-alert.js'
import { apiKeyRoutes } from './routes/api-keys.js'
import { credentialRoutes } from './routes/credentials.js'
import { emailRoutes } from './routes/email.js'
import { jwksRoute } from './routes/jwks.js'
import { meRoutes } from './routes/me.js'
import { createMfa, mfaRoutes } from './routes/mfa.js'
import { passwordRoutes } from './routes/password.js'
import { sessionRoutes } from './routes/sessions.js'
import { ExtendedAccessIssuer } from './services/access-issuer.js'
import { AccountStatusService } from './services/account-status.js'
import { ApiKeyService } from './services/api-keys.js'
import { AuthCleanup } from './services/cleanup.js'
import { PasswordService } from './services/passwords.js'
import { RevocationList } from './services/revocations.js'
import { SessionService } from './services/sessions.js'
import { SignInAlerts } from './services/sign-in-alerts.js'
import { LoginThrottle } from './services/throttle.js'
import { TokenService } from './services/tokens.js'
import type { AuthServices } from './types.js'

async function registerAuth(app: FastifyInstance, rawOptions: AuthOptions): Promise<void> {
  const options = parseOptions('@acme/auth', authOptionsSchema, rawOptions)
  const clock = options.clock ?? systemClock
  const db = app.prisma as unknown as AuthDb
  const { jwt } = options
  const extensions = new AuthExtensions()

  const passwords = new PasswordService({
    hashing: {
      memoryCost: options.passwords.memoryCost,
      timeCost: options.passwords.timeCost,
      parallelism: options.passwords.parallelism,
    },
    policy: {
      minLength: options.passwords.minLength,
      maxBytes: options.passwords.maxBytes,
      ...(options.passwords.isBreached ? { isBreached: options.passwords.isBreached } : {}),
    },
  })
  const tokens = await TokenService.create({
    issuer: jwt.issuer,
    audience: jwt.audience ?? jwt.issuer,
    algorithm: jwt.algorithm,
    accessTtlSeconds: jwt.accessTtlSeconds,
    clockToleranceSeconds: jwt.clockToleranceSeconds,
    ...(jwt.privateKeys ? { privateKeys: jwt.privateKeys } : {}),
    ...(jwt.verificationKeys ? { verificationKeys: jwt.verificationKeys } : {}),
    ...(jwt.secret ? { secret: jwt.secret } : {}),
    clock,
    customClaims: () => extensions.claimSchemas(),
  })
  const issuer = new ExtendedAccessIssuer(tokens, extensions)
  const revocations = new RevocationList({
    broadcast: app.broadcast,
    ttlSeconds: jwt.accessTtlSeconds + jwt.clockToleranceSeconds,
    clock,
    loadRecent: async (since) => {
      const rows = await db.authSession.findMany({
        where: { revokedAt: { gte: since } },
        select: { id: true },
      })
      return rows.map((row) => row.id)
    },
    logger: app.log,
  })
  const sessions = new SessionService({
    db,
    clock,
    lifetimes: options.sessions,
    revocations,
    issuer,
    events: {
      onReuseDetected: (info) => app.events.emit('auth.refresh_reuse_detected', info),
      onRevoked: (info) => app.events.emit('session.revoked', info),
    },
  })
  const throttle = new LoginThrottle({
    redis: app.redis,
    // One hash tag for every throttle key: the admission script touches an account's and an IP's
    // keys at once, which Redis Cluster allows only within one slot.
    keyPrefix: `${app.redisKeyPrefix}auth:{throttle}:`,
    clock,
    limits: options.throttle,
    logger: app.log,
  })
  const mfa = createMfa(app, { db, clock, options: options.mfa })
  const refreshCookie = await RefreshCookie.install(
    app,
    resolveRefreshCookie(options.refreshCookie, options.prefix),
    clock,
  )
  const apiKeys = new ApiKeyService({
    db,
    clock,
    columns: () => extensions.apiKeyColumns(),
    events: {
      onCreated: (info) => app.events.emit('api_key.created', info),
      onRevoked: (info) => app.events.emit('api_key.revoked', info),
    },
  })
  const accounts = new AccountStatusService({
    db,
    sessions,
    forgetApiKeysOf: (ownerId) => apiKeys.forgetOwner(ownerId),
    events: {
      onSuspended: (info) => app.events.emit('user.suspended', info),
      onReactivated: (info) => app.events.emit('user.reactivated', info),
    },
  })
  const services: AuthServices = {
    passwords,
    tokens,
    sessions,
    revocations,
    accounts,
    apiKeys,
    extend: (extension) => extensions.add(extension),
  }

  app.decorate('auth', services)
  app.decorateRequest('user', null)
  app.decorateRequest('session', null)
  app.decorateRequest('principal', null)
  app.routeChecks.add(
    'authenticate',
    authenticationCheck({
      tokens,
      revocations,
      requireByDefault: options.requireAuthByDefault,
      apiKeys,
      extensions,
    }),
  )
  app.addHook('onReady', () => {
    extensions.seal()
    return revocations.start()
  })
  app.addHook('onClose', () => revocations.close())
  defineCleanupJob(app, {
    cleanup: new AuthCleanup({
      db,
      clock,
      retentionDays: options.cleanup.retentionDays,
      batchSize: options.cleanup.batchSize,
      accessTokenSeconds: jwt.accessTtlSeconds + jwt.clockToleranceSeconds,
      keepKnownDevices: options.mail.newSignInAlert,
    }),
    when: options.cleanup.enabled ? options.cleanup.schedule : null,
  })

  registerAuthTemplates(app.mailer)
  registerPasswordTemplates(app.mailer)
  registerAccountTemplates(app.mailer)
  app.openapi.addTag({ name: 'auth', description: 'Accounts, sessions and tokens.' })
  app.openapi.addSecurityScheme('bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description: 'An access token from POST /auth/login or /auth/refresh.',
  })
  app.openapi.addSecurityScheme('apiKeyAuth', {
    type: 'apiKey',
    in: 'header',
    name: 'x-api-key',
    description:
      'An API key (also accepted as a Bearer token); only on routes marked x-api-keys: allow.',
  })

  const links = {
    login: options.links.login ?? `${app.brand.baseUrl}/login`,
    passwordReset: options.links.passwordReset ?? `${app.brand.baseUrl}/reset-password`,
    verifyEmail: options.links.verifyEmail ?? `${app.brand.baseUrl}/verify-email`,
    confirmEmailChange:
      options.links.confirmEmailChange ?? `${app.brand.baseUrl}/confirm-email-change`,
  }
  mailOnRefreshReuse(app, db, links)
  await app.register(
    async (scope) => {
      await scope.register(credentialRoutes, {
        db,
        services,
        issuer,
        links,
        throttle,
        mfa,
        refreshCookie,
        signInAlerts: options.mail.newSignInAlert ? new SignInAlerts({ db, clock }) : null,
        verification: { links, clock, oneTimeTokens: options.oneTimeTokens },
      })
      await scope.register(mfaRoutes, { db, services, mfa, throttle, links })
      await scope.register(sessionRoutes, {
        db,
        services,
        clock,
        reauthenticationSeconds: options.reauthenticationSeconds,
      })
      await scope.register(meRoutes, { db })
      await scope.register(apiKeyRoutes, { apiKeys, clock })
      await scope.register(passwordRoutes, {
        db,
        services,
        links,
        clock,
        oneTimeTokens: options.oneTimeTokens,
        throttle: options.throttle,
      })
      await scope.register(emailRoutes, {
        db,
        services,
        links,
        clock,
        oneTimeTokens: options.oneTimeTokens,
        throttle,
        emailChangesPerHour: options.throttle.emailChangesPerHour,
        reauthenticationSeconds: options.reauthenticationSeconds,
      })
    },
    { prefix: options.prefix },
  )
  await app.register(jwksRoute, { tokens })
}

/** Authentication: register after `@acme/core`. */
export const acmeAuth = fp(registerAuth, {
  name: '@acme/auth',
  fastify: '5.x',
  dependencies: ['@acme/core'],
})

export default acmeAuth

export type { Clock } from './clock.js'
export { AuthErrors } from './errors.js'
export type {
  AccessIssueReason,
  AuthExtension,
  PrincipalSource,
  SessionSubject,
} from './extensions.js'
export type { AuthOptions, ResolvedAuthOptions } from './options.js'
export type { PublicUser } from './services/accounts.js'
export type { ApiKeyColumns, ApiKeyIdentity, ApiKeyRecord, NewApiKey } from './services/api-keys.js'
export type {
  ActiveSession,
  DeviceInfo,
  IssuedRefresh,
  ReissuedAccess,
} from './services/sessions.js'
export type { AccessClaims } from './services/tokens.js'
export type {
  ApiKeyPrincipal,
  AuthServices,
  AuthSessionRef,
  AuthUser,
  Principal,
  UserPrincipal,
} from './types.js'
