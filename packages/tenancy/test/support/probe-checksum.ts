import pg from 'pg'

export interface TableChecksum {
  rows: number
  md5: string | null
}

const quote = (identifier: string) => `"${identifier.replace(/"/g, '""')}"`

/**
 * For every table of the database (so a future plugin's tables are included without editing the
 * test), the rows that mention any of `ids` in a uuid column (`tenant_id`, `user_id`, `id`,
 * `owner_id`, `active_tenant_id`...), counted and checksummed as the migration owner sees them
 * (a superuser: no policy hides a row from it). A tenant's whole footprint: its tenant row, its
 * tenant-owned rows, its users with their sessions and keys, and any row of anyone else that
 * starts pointing at one of them.
 */
export async function checksumRowsMentioning(
  ownerUrl: string,
  ids: readonly string[],
): Promise<Record<string, TableChecksum>> {
  const client = new pg.Client({ connectionString: ownerUrl })
  await client.connect()
  try {
    const { rows: columns } = await client.query<{ table: string; column: string }>(
      `SELECT c.table_name AS table, c.column_name AS column
         FROM information_schema.columns c
         JOIN information_schema.tables t USING (table_schema, table_name)
        WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE' AND c.data_type = 'uuid'
          AND c.table_name NOT LIKE '\\_prisma%'
        ORDER BY c.table_name, c.ordinal_position`,
    )
    const byTable = new Map<string, string[]>()
    for (const { table, column } of columns) {
      byTable.set(table, [...(byTable.get(table) ?? []), column])
    }
    const out: Record<string, TableChecksum> = {}
    for (const [table, uuidColumns] of byTable) {
      const mentions = uuidColumns.map((column) => `t.${quote(column)} = ANY($1::uuid[])`)
      const { rows } = await client.query<{ rows: number; md5: string | null }>(
        `SELECT count(*)::int AS rows, md5(string_agg(t::text, ',' ORDER BY t::text)) AS md5
           FROM ${quote(table)} t WHERE ${mentions.join(' OR ')}`,
        [ids],
      )
      out[table] = rows[0] ?? { rows: 0, md5: null }
    }
    return out
  } finally {
    await client.end()
  }
}
