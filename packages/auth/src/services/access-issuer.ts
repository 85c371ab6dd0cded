import type { AccessIssueReason, AuthExtensions, SessionSubject } from '../extensions.js'
import type { AccessIssuer } from './sessions.js'
import type { TokenService } from './tokens.js'

/** Signs a session's access tokens with the claims the extensions hold for it at that moment. */
export class ExtendedAccessIssuer implements AccessIssuer {
  readonly #tokens: TokenService
  readonly #extensions: AuthExtensions

  constructor(tokens: TokenService, extensions: AuthExtensions) {
    this.#tokens = tokens
    this.#extensions = extensions
  }

  async issue(
    subject: SessionSubject,
    reason: AccessIssueReason,
  ): Promise<{ token: string; expiresIn: number }> {
    const custom = await this.#extensions.claimsFor(subject, reason)
    return this.#tokens.signAccess({ sub: subject.userId, sid: subject.sessionId, custom })
  }
}
