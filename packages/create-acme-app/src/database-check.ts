import pg from 'pg'
import { CreateAppError } from './errors.js'

/** Refuses a PostgreSQL URL that is malformed or does not answer, before anything is written. */
export async function checkDatabaseUrl(url: string): Promise<void> {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new CreateAppError('ACME_CREATE_DATABASE_URL_INVALID', 'The database URL is not a URL.')
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new CreateAppError(
      'ACME_CREATE_DATABASE_URL_INVALID',
      'The database URL must start with postgresql://',
    )
  }
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 })
  try {
    await client.connect()
    await client.query('SELECT 1')
  } catch (error) {
    // The reason, never the URL: it may carry a password.
    const reason = error instanceof Error ? error.message : String(error)
    throw new CreateAppError(
      'ACME_CREATE_DATABASE_UNREACHABLE',
      `PostgreSQL at ${parsed.hostname}:${parsed.port || '5432'} did not answer (${reason}). Start it, fix the URL, or leave it empty for the embedded database.`,
    )
  } finally {
    await client.end().catch(() => {})
  }
}
