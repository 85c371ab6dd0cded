import { deleteInBatches } from '@acme/core'
import type { Clock } from '../clock.js'
import type { AuthDb } from '../db.js'
import { KNOWN_DEVICE_DAYS } from './sign-in-alerts.js'

export interface AuthCleanupOptions {
  db: AuthDb
  clock: Clock
  /** Days a row is kept once it stopped serving (at least 1). */
  retentionDays: number
  /** Rows per DELETE statement. */
  batchSize: number
  /**
   * How long an access token of a session can still be presented: its lifetime plus the clock
   * tolerance. The revocation list loads the sessions revoked within it, so they always stay.
   */
  accessTokenSeconds: number
  /** New sign-in alerts read the sessions of the last 90 days: keep those. */
  keepKnownDevices: boolean
}

/** Rows deleted by one run, per table. */
export interface AuthCleanupReport {
  refreshTokens: number
  sessions: number
  oneTimeTokens: number
  totpEnrolments: number
  recoveryCodes: number
}

const DAY_MS = 86_400_000

/**
 * Deletes what no longer serves, in bounded batches (each DELETE takes at most `batchSize` rows
 * and skips rows a request holds locked), so it never locks a table or holds a long transaction.
 * Every rule keeps what a code path still reads:
 *
 * - A session goes once it ended (revoked, or past its idle or absolute expiry) more than the
 *   retention ago, and never while it was revoked within an access token's lifetime: the
 *   revocation list (`recentlyRevokedSessions`) loads those at startup and after a reconnect.
 *   With new sign-in alerts on, sessions created within the last 90 days stay too.
 * - A refresh token goes only with its ended session (the same rule, before the session, so the
 *   session's own DELETE cascades to nothing). The rotated tokens of a live session stay, however
 *   old: presenting one is how reuse detection notices a stolen copy.
 * - A single-use token (reset, verification, email change, MFA login step) goes once it expired
 *   or was used (or superseded) more than the retention ago; either way it can no longer be spent.
 * - An MFA enrolment never confirmed goes when it started more than the retention ago (the user
 *   runs setup again); a recovery code goes when it was used more than the retention ago.
 */
export class AuthCleanup {
  readonly #options: AuthCleanupOptions

  constructor(options: AuthCleanupOptions) {
    this.#options = options
  }

  async run(): Promise<AuthCleanupReport> {
    const { db, retentionDays, batchSize, accessTokenSeconds, keepKnownDevices } = this.#options
    const now = this.#options.clock().getTime()
    const retentionMs = retentionDays * DAY_MS
    const accessMs = accessTokenSeconds * 1_000
    // One "now" for the whole run, as UTC timestamps: Prisma stores DateTime as UTC in
    // `timestamp(3)` columns, and a text parameter cast this way cannot be shifted by a time zone.
    const at = (ms: number) => new Date(ms).toISOString()
    const endedBefore = at(now - Math.max(retentionMs, accessMs))
    const revokedBefore = at(now - accessMs)
    const createdBefore = keepKnownDevices
      ? at(Math.min(now - Math.max(retentionMs, accessMs), now - KNOWN_DEVICE_DAYS * DAY_MS))
      : endedBefore
    const spentBefore = at(now - retentionMs)

    const refreshTokens = await deleteInBatches(
      batchSize,
      (limit) => db.$executeRaw`
        DELETE FROM "refresh_tokens" WHERE "id" IN (
          SELECT t."id" FROM "refresh_tokens" AS t
          JOIN "auth_sessions" AS s ON s."id" = t."session_id"
          WHERE LEAST(s."revoked_at", s."idle_expires_at", s."absolute_expires_at")
                  < (${endedBefore}::timestamptz AT TIME ZONE 'UTC')
            AND (s."revoked_at" IS NULL
                 OR s."revoked_at" < (${revokedBefore}::timestamptz AT TIME ZONE 'UTC'))
          LIMIT ${limit}::int
          FOR UPDATE OF t SKIP LOCKED)`,
    )
    const sessions = await deleteInBatches(
      batchSize,
      (limit) => db.$executeRaw`
        DELETE FROM "auth_sessions" WHERE "id" IN (
          SELECT "id" FROM "auth_sessions"
          WHERE LEAST("revoked_at", "idle_expires_at", "absolute_expires_at")
                  < (${endedBefore}::timestamptz AT TIME ZONE 'UTC')
            AND ("revoked_at" IS NULL
                 OR "revoked_at" < (${revokedBefore}::timestamptz AT TIME ZONE 'UTC'))
            AND "created_at" < (${createdBefore}::timestamptz AT TIME ZONE 'UTC')
          LIMIT ${limit}::int
          FOR UPDATE SKIP LOCKED)`,
    )
    const oneTimeTokens = await deleteInBatches(
      batchSize,
      (limit) => db.$executeRaw`
        DELETE FROM "one_time_tokens" WHERE "id" IN (
          SELECT "id" FROM "one_time_tokens"
          WHERE "expires_at" < (${spentBefore}::timestamptz AT TIME ZONE 'UTC')
             OR "used_at" < (${spentBefore}::timestamptz AT TIME ZONE 'UTC')
          LIMIT ${limit}::int
          FOR UPDATE SKIP LOCKED)`,
    )
    const totpEnrolments = await deleteInBatches(
      batchSize,
      (limit) => db.$executeRaw`
        DELETE FROM "totp_secrets" WHERE "user_id" IN (
          SELECT "user_id" FROM "totp_secrets"
          WHERE "confirmed_at" IS NULL
            AND "created_at" < (${spentBefore}::timestamptz AT TIME ZONE 'UTC')
          LIMIT ${limit}::int
          FOR UPDATE SKIP LOCKED)`,
    )
    const recoveryCodes = await deleteInBatches(
      batchSize,
      (limit) => db.$executeRaw`
        DELETE FROM "recovery_codes" WHERE "id" IN (
          SELECT "id" FROM "recovery_codes"
          WHERE "used_at" < (${spentBefore}::timestamptz AT TIME ZONE 'UTC')
          LIMIT ${limit}::int
          FOR UPDATE SKIP LOCKED)`,
    )
    return { refreshTokens, sessions, oneTimeTokens, totpEnrolments, recoveryCodes }
  }
}
