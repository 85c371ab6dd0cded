import type { FastifyInstance } from 'fastify'
import type { AuthDb } from './db.js'

/**
 * Tells the account's owner when a refresh token was presented after it had been replaced (the
 * session family was ended for it): only someone holding a copy does that, and only the owner
 * can tell whether the copy was theirs.
 */
export function mailOnRefreshReuse(
  app: FastifyInstance,
  db: AuthDb,
  links: { passwordReset: string },
): void {
  app.events.on('auth.refresh_reuse_detected', async ({ payload }) => {
    const user = await db.user.findUnique({
      where: { id: payload.userId },
      select: { email: true },
    })
    if (!user) return
    await app.mailer.sendTemplate('auth.refresh-reuse', user.email, {
      resetUrl: links.passwordReset,
      supportEmail: app.brand.supportEmail ?? null,
    })
  })
}
