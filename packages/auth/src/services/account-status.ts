import type { AuthDb } from '../db.js'
import type { AuthServices } from '../types.js'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export interface AccountStatusOptions {
  db: AuthDb
  sessions: Pick<AuthServices['sessions'], 'revokeAllForUser'>
  /** Drops the owner's keys from this instance's lookup cache. */
  forgetApiKeysOf(ownerId: string): void
  events?: {
    onSuspended?(info: { userId: string }): void | Promise<void>
    onReactivated?(info: { userId: string }): void | Promise<void>
  }
}

/**
 * `app.auth.accounts`: suspend and reactivate users (SES-01 "admin disabling the user"). A
 * suspension takes effect at once: every session is revoked (access tokens refused on the next
 * request on every instance, refresh tokens refused), login answers the same 401 as a wrong
 * password, and API keys stop working (at once on this instance, within the key cache's 30 s
 * on others).
 */
export class AccountStatusService {
  readonly #options: AccountStatusOptions

  constructor(options: AccountStatusOptions) {
    this.#options = options
  }

  /** True when the user exists (suspended now, or already). */
  async suspend(userId: string): Promise<boolean> {
    if (!(await this.#setStatus(userId, 'suspended'))) return false
    // After the status change: a refresh racing with it is refused by the status check, and a
    // session started just before is in the revocation below.
    await this.#options.sessions.revokeAllForUser(userId, 'suspended')
    this.#options.forgetApiKeysOf(userId)
    await this.#options.events?.onSuspended?.({ userId })
    return true
  }

  /** True when the user exists. Sessions ended by the suspension stay ended: log in again. */
  async reactivate(userId: string): Promise<boolean> {
    if (!(await this.#setStatus(userId, 'active'))) return false
    await this.#options.events?.onReactivated?.({ userId })
    return true
  }

  async #setStatus(userId: string, status: 'active' | 'suspended'): Promise<boolean> {
    if (!UUID.test(userId)) return false
    const updated = await this.#options.db.user.updateMany({
      where: { id: userId },
      data: { status },
    })
    return updated.count === 1
  }
}
