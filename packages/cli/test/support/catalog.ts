import type pg from 'pg'

/**
 * What a migrated database's schema consists of, read from the catalogs in a stable order:
 * comparing two of these shows drift without asking the schema engine to read a database
 * (which its WebAssembly build cannot do against PostgreSQL here).
 */
export async function describeSchema(client: pg.Client): Promise<Record<string, unknown[]>> {
  const read = async (sql: string) => (await client.query(sql)).rows
  return {
    columns: await read(`
      SELECT table_name, column_name, data_type, udt_name, character_maximum_length,
             is_nullable, column_default
        FROM information_schema.columns
       WHERE table_schema = 'public'
       ORDER BY table_name, column_name`),
    indexes: await read(`
      SELECT tablename, indexname, indexdef FROM pg_indexes
       WHERE schemaname = 'public' ORDER BY tablename, indexname`),
    constraints: await read(`
      SELECT rel.relname AS table_name, con.conname, con.contype,
             pg_get_constraintdef(con.oid) AS definition
        FROM pg_constraint con
        JOIN pg_class rel ON rel.oid = con.conrelid
        JOIN pg_namespace ns ON ns.oid = rel.relnamespace
       WHERE ns.nspname = 'public'
       ORDER BY rel.relname, con.conname`),
    enums: await read(`
      SELECT t.typname, array_agg(e.enumlabel ORDER BY e.enumsortorder)::text AS labels
        FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid
       GROUP BY t.typname ORDER BY t.typname`),
    policies: await read(`
      SELECT tablename, policyname, cmd, qual, with_check FROM pg_policies
       WHERE schemaname = 'public' ORDER BY tablename, policyname`),
    rowLevelSecurity: await read(`
      SELECT relname FROM pg_class
       WHERE relrowsecurity AND relnamespace = 'public'::regnamespace ORDER BY relname`),
    extensions: await read('SELECT extname FROM pg_extension ORDER BY extname'),
  }
}
