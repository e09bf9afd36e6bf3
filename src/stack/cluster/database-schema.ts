/**
 * The cluster's two databases, made and brought to the server's schema version with the server's own SQL tool:
 * `create-database`, then `setup-schema -v 0.0` (the version table) once, then `update-schema -d <versioned dir>`,
 * which applies only the versions past the one recorded. Safe to run on every `up`: what exists is left alone, and a
 * server upgrade's new schema versions are applied by the same call.
 */
import { temporalSqlToolPath, versionedSchemaDir } from './cluster-tools';
import { databaseExists, query, type Postgres } from './postgres';
import { HISTORY_DATABASE, SQL_PLUGIN, VISIBILITY_DATABASE } from './render-config';
import { runCommand } from './run-command';

export const CLUSTER_DATABASES = [
  { name: HISTORY_DATABASE, schema: 'temporal' },
  { name: VISIBILITY_DATABASE, schema: 'visibility' },
] as const;

export interface SchemaReport {
  database: string;
  created: boolean;
  version: string;
}

/** The tool reads its connection from SQL_* variables: the password never shows in `ps`. */
function sqlTool(pg: Postgres, database: string, args: string[]) {
  return runCommand(temporalSqlToolPath(), args, {
    env: {
      SQL_PLUGIN,
      SQL_HOST: pg.address.host,
      SQL_PORT: String(pg.address.port),
      SQL_USER: pg.user,
      SQL_PASSWORD: pg.password,
      SQL_DATABASE: database,
    },
  });
}

async function hasVersionTable(pg: Postgres, database: string): Promise<boolean> {
  const rows = await query(pg, database, "SELECT 1 FROM information_schema.tables WHERE table_name = 'schema_version'");
  return rows.length > 0;
}

async function schemaVersion(pg: Postgres, database: string): Promise<string> {
  const rows = await query(pg, database, 'SELECT curr_version FROM schema_version LIMIT 1');
  return rows[0] ?? 'none';
}

export async function ensureSchemas(pg: Postgres): Promise<SchemaReport[]> {
  const reports: SchemaReport[] = [];
  for (const { name, schema } of CLUSTER_DATABASES) {
    const created = !(await databaseExists(pg, name));
    if (created) await sqlTool(pg, name, ['create-database']);
    if (!(await hasVersionTable(pg, name))) await sqlTool(pg, name, ['setup-schema', '-v', '0.0']);
    await sqlTool(pg, name, ['update-schema', '-d', versionedSchemaDir(schema)]);
    reports.push({ database: name, created, version: await schemaVersion(pg, name) });
  }
  return reports;
}
