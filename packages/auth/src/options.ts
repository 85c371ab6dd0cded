import { maintenanceJobOptions } from '@acme/core'
import { z } from 'zod'
import type { Clock } from './clock.js'

const jwk = z.record(z.string(), z.unknown())

export const authOptionsSchema = z
  .object({
    /** Prefix of every auth route. */
    prefix: z
      .string()
      .regex(/^\/[A-Za-z0-9/_-]*$/)
      .default('/auth'),
    jwt: z
      .object({
        /** `iss` of every token; usually the API's public origin. */
        issuer: z.string().min(1),
        /** `aud`; defaults to the issuer. */
        audience: z.string().min(1).optional(),
        algorithm: z.enum(['EdDSA', 'ES256', 'RS256', 'HS256']).default('EdDSA'),
        /** Private JWKs with `kid`: the first signs, all verify. Generated at startup if absent. */
        privateKeys: z.array(jwk).optional(),
        /** Public JWKs of retired keys that still verify until their tokens expire. */
        verificationKeys: z.array(jwk).optional(),
        /** HS256 only: at least 32 bytes. */
        secret: z.string().optional(),
        accessTtlSeconds: z.number().int().min(60).max(3_600).default(900),
        clockToleranceSeconds: z.number().int().min(0).max(300).default(30),
      })
      .strict()
      .superRefine((jwt, ctx) => {
        if (jwt.algorithm === 'HS256' && Buffer.byteLength(jwt.secret ?? '') < 32) {
          ctx.addIssue({
            code: 'custom',
            path: ['secret'],
            message: 'HS256 needs a secret of at least 32 bytes',
          })
        }
      }),
    sessions: z
      .object({
        idleSeconds: z
          .number()
          .int()
          .positive()
          .default(7 * 24 * 3_600),
        absoluteSeconds: z
          .number()
          .int()
          .positive()
          .default(30 * 24 * 3_600),
        reuseGraceSeconds: z.number().int().min(0).max(60).default(2),
      })
      .strict()
      .prefault({}),
    passwords: z
      .object({
        memoryCost: z.number().int().min(19_456).default(19_456),
        timeCost: z.number().int().min(2).default(2),
        parallelism: z.number().int().min(1).default(1),
        minLength: z.number().int().min(8).max(128).default(12),
        maxBytes: z.number().int().min(64).max(4_096).default(1_024),
        isBreached: z
          .custom<(password: string) => boolean | Promise<boolean>>(
            (value) => typeof value === 'function',
            'must be a function',
          )
          .optional(),
      })
      .strict()
      .prefault({}),
    /** Pages of the web app that emails link to; default to the brand's base URL + path. */
    links: z
      .object({
        login: z.url().optional(),
        passwordReset: z.url().optional(),
        verifyEmail: z.url().optional(),
        /** Receives `?token=` from the mail sent to the new address of an email change. */
        confirmEmailChange: z.url().optional(),
      })
      .strict()
      .prefault({}),
    /** Lifetimes of the single-use tokens sent by email. */
    oneTimeTokens: z
      .object({
        resetTtlSeconds: z.number().int().min(60).max(86_400).default(1_800),
        verifyTtlSeconds: z
          .number()
          .int()
          .min(300)
          .max(7 * 86_400)
          .default(86_400),
      })
      .strict()
      .prefault({}),
    /**
     * Brute-force limits, shared across instances through Redis; login fails closed without it.
     * Failures lock an account only for the client address that made them; the account-wide
     * hourly ceiling delays, rather than refuses, addresses that have not failed.
     */
    throttle: z
      .object({
        /** Failures per account and client address, per `accountWindowSeconds`. */
        accountMax: z.number().int().positive().default(10),
        accountWindowSeconds: z.number().int().positive().default(900),
        /** Failures per account per hour from all addresses together (the ceiling). */
        accountHourlyCap: z.number().int().positive().default(100),
        /** Past the ceiling: the first delay before evaluating an attempt; doubles each time. */
        ceilingDelayMs: z.number().int().min(0).max(60_000).default(1_000),
        /** Past the ceiling: the longest delay. */
        ceilingMaxDelayMs: z.number().int().min(0).max(60_000).default(10_000),
        ipMax: z.number().int().positive().default(20),
        ipWindowSeconds: z.number().int().positive().default(60),
        resetTokenGuessMax: z.number().int().positive().default(10),
        /** Email-change requests per user per hour: each one mails an address the user chooses. */
        emailChangesPerHour: z.number().int().positive().default(5),
      })
      .strict()
      .prefault({}),
    /** Two-factor authentication (TOTP and recovery codes). */
    mfa: z
      .object({
        /**
         * Base64 of 32 random bytes: the AES-256-GCM key of the TOTP secrets at rest. Generated
         * at startup if absent (with a warning): secrets then stop decrypting after a restart.
         */
        encryptionKey: z
          .string()
          .refine(
            (value) => Buffer.from(value, 'base64').length === 32,
            'must be base64 of 32 bytes',
          )
          .optional(),
        /** Shown by authenticator apps; defaults to the brand name. */
        issuer: z.string().trim().min(1).max(100).optional(),
        /** Lifetime of the token between the password step and the code step of a login. */
        mfaTokenTtlSeconds: z.number().int().min(60).max(900).default(300),
        /** Wrong codes one MFA login token survives; the last one ends it (log in again). */
        maxCodeAttempts: z.number().int().min(1).max(20).default(5),
      })
      .strict()
      .prefault({}),
    /** Optional mails. */
    mail: z
      .object({
        /**
         * Mail the user when a login (password, or its MFA step) comes from a user agent none of
         * their sessions of the last 90 days had.
         */
        newSignInAlert: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
    /**
     * Browser apps: the refresh token travels in an httpOnly cookie instead of the JSON body.
     * See the README ("Refresh cookie") for the defaults and the CSRF header.
     */
    refreshCookie: z
      .object({
        enabled: z.boolean().default(false),
        /**
         * Default `__Host-acme_refresh` when secure with neither `domain` nor a `path` other than
         * `/`; `__Secure-acme_refresh` when secure otherwise; `acme_refresh` when not secure.
         */
        name: z
          .string()
          .regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$/, 'must be a cookie name token')
          .optional(),
        /** Default `/` for a `__Host-` cookie (the prefix requires it), else the auth prefix. */
        path: z
          .string()
          .regex(/^\/[A-Za-z0-9/_.~-]*$/)
          .optional(),
        sameSite: z.enum(['strict', 'lax']).default('strict'),
        secure: z.boolean().default(true),
        /** Shares the cookie with subdomains; none (host-only) by default. */
        domain: z
          .string()
          .regex(/^[A-Za-z0-9.-]{1,253}$/)
          .optional(),
      })
      .strict()
      .prefault({})
      .superRefine((cookie, ctx) => {
        const name = cookie.name ?? ''
        if (name.startsWith('__Host-')) {
          if (!cookie.secure || cookie.domain !== undefined || (cookie.path ?? '/') !== '/') {
            ctx.addIssue({
              code: 'custom',
              path: ['name'],
              message: 'a __Host- cookie needs secure: true, path "/" and no domain',
            })
          }
        } else if (name.startsWith('__Secure-') && !cookie.secure) {
          ctx.addIssue({
            code: 'custom',
            path: ['name'],
            message: 'a __Secure- cookie needs secure: true',
          })
        }
      }),
    /**
     * The `auth.cleanup` job, scheduled at startup: deletes sessions, refresh tokens, single-use
     * tokens and MFA leftovers that stopped serving. See the README ("Cleanup") for what it keeps.
     */
    cleanup: maintenanceJobOptions({ everySeconds: 3_600 }),
    /** How recent a password proof must be for sensitive changes (delete a session, …). */
    reauthenticationSeconds: z.number().int().min(60).max(3_600).default(300),
    /** Every route requires a valid access token unless its config says `auth: 'public'`. */
    requireAuthByDefault: z.boolean().default(false),
    /** Injectable time source (tests). */
    clock: z
      .custom<Clock>((value) => typeof value === 'function', 'must be a function returning a Date')
      .optional(),
  })
  .strict()

export type AuthOptions = z.input<typeof authOptionsSchema>
export type ResolvedAuthOptions = z.output<typeof authOptionsSchema>
