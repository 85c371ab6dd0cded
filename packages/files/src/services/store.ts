import { FilesErrors } from '../errors.js'
import type { SqlClient } from '../sql.js'
import type { FileStatus, FileView } from '../types.js'

interface FileRow {
  id: string
  owner_id: string
  storage_key: string
  original_name: string
  size_bytes: bigint | number | string
  content_type: string
  sha256: string
  status: FileStatus
  created_at: Date
}

/** A row with its storage key: for the services, never sent to a client. */
export interface StoredFile extends FileView {
  storageKey: string
}

/** What an upload writes for one file. */
export interface NewFile {
  id: string
  ownerId: string
  storageKey: string
  name: string
  sizeBytes: number
  contentType: string
  sha256: string
  status: FileStatus
}

const COLUMNS =
  'id, owner_id, storage_key, original_name, size_bytes, content_type, sha256, status, created_at'

const toFile = (row: FileRow): StoredFile => ({
  id: row.id,
  ownerId: row.owner_id,
  storageKey: row.storage_key,
  name: row.original_name,
  sizeBytes: Number(row.size_bytes),
  contentType: row.content_type,
  sha256: row.sha256,
  status: row.status,
  createdAt: row.created_at,
})

export const toView = ({ storageKey: _key, ...view }: StoredFile): FileView => view

/**
 * The `files` and `file_usage` tables. Every statement runs on a tenant's client (row-level
 * security scopes it) and also names the tenant, so a mistake in one wall is caught by the other.
 */
export const fileStore = {
  async get(db: SqlClient, tenantId: string, fileId: string): Promise<StoredFile> {
    const rows = await db.$queryRawUnsafe<FileRow[]>(
      `SELECT ${COLUMNS} FROM files WHERE tenant_id = $1::uuid AND id = $2::uuid`,
      tenantId,
      fileId,
    )
    const row = rows[0]
    if (!row) throw new FilesErrors.FileNotFound()
    return toFile(row)
  },

  /** Newest first; `cursor` is the id of the last file of the previous page. */
  async list(
    db: SqlClient,
    tenantId: string,
    query: { limit: number; cursor?: string | undefined; ownerId?: string | undefined },
  ): Promise<{ items: StoredFile[]; nextCursor: string | null }> {
    const values: unknown[] = [tenantId, query.limit + 1]
    let where = 'tenant_id = $1::uuid'
    if (query.ownerId) {
      values.push(query.ownerId)
      where += ` AND owner_id = $${values.length}::uuid`
    }
    if (query.cursor) {
      values.push(query.cursor)
      const at = values.length
      where += ` AND (created_at, id) < (SELECT created_at, id FROM files WHERE tenant_id = $1::uuid AND id = $${at}::uuid)`
    }
    const rows = await db.$queryRawUnsafe<FileRow[]>(
      `SELECT ${COLUMNS} FROM files WHERE ${where} ORDER BY created_at DESC, id DESC LIMIT $2`,
      ...values,
    )
    const items = rows.slice(0, query.limit).map(toFile)
    return {
      items,
      nextCursor: rows.length > query.limit ? (items.at(-1)?.id ?? null) : null,
    }
  },

  /** Bytes the tenant's files take. */
  async usage(db: SqlClient, tenantId: string): Promise<number> {
    const rows = await db.$queryRawUnsafe<Array<{ used_bytes: bigint | string }>>(
      'SELECT used_bytes FROM file_usage WHERE tenant_id = $1::uuid',
      tenantId,
    )
    return rows[0] ? Number(rows[0].used_bytes) : 0
  },

  /**
   * Adds `bytes` to the tenant's usage unless that passes `limit` (null: unlimited), in one
   * conditional UPDATE: concurrent uploads wait on the row and re-check, so together they cannot
   * overshoot. Throws the 413 when it would. Call it inside the transaction that inserts the rows.
   */
  async reserve(db: SqlClient, tenantId: string, bytes: number, limit: number | null) {
    await db.$queryRawUnsafe(
      `INSERT INTO file_usage (tenant_id, used_bytes, updated_at) VALUES ($1::uuid, 0, now())
       ON CONFLICT (tenant_id) DO NOTHING`,
      tenantId,
    )
    const rows = await db.$queryRawUnsafe<Array<{ used_bytes: bigint }>>(
      `UPDATE file_usage SET used_bytes = used_bytes + $2::bigint, updated_at = now()
       WHERE tenant_id = $1::uuid AND ($3::bigint IS NULL OR used_bytes + $2::bigint <= $3::bigint)
       RETURNING used_bytes`,
      tenantId,
      bytes,
      limit,
    )
    if (rows.length === 0) throw new FilesErrors.QuotaExceeded()
  },

  async release(db: SqlClient, tenantId: string, bytes: number): Promise<void> {
    await db.$queryRawUnsafe(
      `UPDATE file_usage SET used_bytes = GREATEST(used_bytes - $2::bigint, 0), updated_at = now()
       WHERE tenant_id = $1::uuid`,
      tenantId,
      bytes,
    )
  },

  async insert(db: SqlClient, tenantId: string, file: NewFile): Promise<StoredFile> {
    const rows = await db.$queryRawUnsafe<FileRow[]>(
      `INSERT INTO files (id, tenant_id, owner_id, storage_key, original_name, size_bytes,
         content_type, sha256, status)
       VALUES ($1::uuid, $2::uuid, $3::uuid, $4, $5, $6::bigint, $7, $8, $9)
       RETURNING ${COLUMNS}`,
      file.id,
      tenantId,
      file.ownerId,
      file.storageKey,
      file.name,
      file.sizeBytes,
      file.contentType,
      file.sha256,
      file.status,
    )
    return toFile(rows[0] as FileRow)
  },

  /** Deletes the row; answers it (for its key and size), or throws the 404. */
  async remove(db: SqlClient, tenantId: string, fileId: string): Promise<StoredFile> {
    const rows = await db.$queryRawUnsafe<FileRow[]>(
      `DELETE FROM files WHERE tenant_id = $1::uuid AND id = $2::uuid RETURNING ${COLUMNS}`,
      tenantId,
      fileId,
    )
    const row = rows[0]
    if (!row) throw new FilesErrors.FileNotFound()
    return toFile(row)
  },

  async setStatus(db: SqlClient, tenantId: string, fileId: string, status: FileStatus) {
    await db.$queryRawUnsafe(
      'UPDATE files SET status = $3 WHERE tenant_id = $1::uuid AND id = $2::uuid',
      tenantId,
      fileId,
      status,
    )
  },

  /** Which of `keys` a file of the tenant is stored under. */
  async recordedKeys(
    db: SqlClient,
    tenantId: string,
    keys: readonly string[],
  ): Promise<Set<string>> {
    const rows = await db.$queryRawUnsafe<Array<{ storage_key: string }>>(
      'SELECT storage_key FROM files WHERE tenant_id = $1::uuid AND storage_key = ANY($2::text[])',
      tenantId,
      keys,
    )
    return new Set(rows.map((row) => row.storage_key))
  },

  async quarantined(db: SqlClient, tenantId: string): Promise<string[]> {
    const rows = await db.$queryRawUnsafe<Array<{ id: string }>>(
      `SELECT id FROM files WHERE tenant_id = $1::uuid AND status = 'quarantined'
       ORDER BY created_at LIMIT 1000`,
      tenantId,
    )
    return rows.map((row) => row.id)
  },
}
