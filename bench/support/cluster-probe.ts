/**
 * What the scale benchmark reads from the PostgreSQL cluster (src/stack/cluster) while refunds are in flight: each
 * server process's memory and the databases' sizes (the `status` of `npm run stack:cluster`), and the rows and bytes
 * of the tables that grow with the number of workflows. Read-only: psql over TCP, /proc.
 */
import type { ClusterConfig } from '../../src/stack/cluster/cluster-config';
import { clusterPaths } from '../../src/stack/cluster/cluster-paths';
import { status } from '../../src/stack/cluster/cluster';
import { HISTORY_DATABASE, VISIBILITY_DATABASE } from '../../src/stack/cluster/render-config';
import * as postgres from '../../src/stack/cluster/postgres';
import { round } from './util';

const MiB = 2 ** 20;

export interface ClusterMemory {
  /** MiB per process: history, matching, frontend, worker (VmRSS), ui, postgres (Pss of all its processes). */
  processMiB: Record<string, number | undefined>;
  databaseMiB: Record<string, number>;
}

/** Memory of every cluster process and the size of both databases, as `stack:cluster status` reports them. */
export async function clusterMemory(cluster: ClusterConfig): Promise<ClusterMemory> {
  const s = await status(cluster);
  return {
    processMiB: Object.fromEntries(
      s.processes.map((p) => [p.name, p.memoryBytes === undefined ? undefined : round(p.memoryBytes / MiB, 1)]),
    ),
    databaseMiB: Object.fromEntries(Object.entries(s.databaseBytes ?? {}).map(([db, b]) => [db, round(b / MiB, 1)])),
  };
}

export interface TableFigure {
  database: string;
  table: string;
  rows: number;
  /** pg_total_relation_size: heap, TOAST and indexes. */
  bytes: number;
}

const sqlDatabase = (cluster: ClusterConfig) => postgres.postgresFor(cluster, clusterPaths(cluster.dataDir));

/**
 * Exact row counts and total size of every table of both databases that holds at least `minRows` rows (small
 * metadata tables are left out). Counting is a sequential scan: at 10,000 refunds a second or two, so it is done at
 * the snapshots, not in the 10 s timeline.
 */
export async function tableFigures(cluster: ClusterConfig, minRows = 1): Promise<TableFigure[]> {
  const pg = sqlDatabase(cluster);
  const out: TableFigure[] = [];
  for (const database of [HISTORY_DATABASE, VISIBILITY_DATABASE]) {
    const tables = await postgres.query(
      pg,
      database,
      `SELECT relname FROM pg_stat_user_tables WHERE schemaname = 'public' ORDER BY relname`,
    );
    if (tables.length === 0) continue;
    // One statement for all tables: each count and size as a row "table|rows|bytes".
    const sql = tables
      .map(
        (t) => `SELECT '${t}', (SELECT count(*) FROM public."${t}"), pg_total_relation_size('public."${t}"'::regclass)`,
      )
      .join(' UNION ALL ');
    for (const line of await postgres.query(pg, database, sql)) {
      const [table, rows, bytes] = line.split('|');
      if (Number(rows) >= minRows) out.push({ database, table, rows: Number(rows), bytes: Number(bytes) });
    }
  }
  return out.sort((a, b) => b.bytes - a.bytes);
}

/** Bytes of the history events themselves (the encoded batches in history_node.data, before TOAST compression). */
export async function historyPayloadBytes(cluster: ClusterConfig): Promise<number> {
  const [line] = await postgres.query(
    sqlDatabase(cluster),
    HISTORY_DATABASE,
    'SELECT coalesce(sum(octet_length(data)), 0) FROM history_node',
  );
  return Number(line ?? 0);
}

/** Cheap estimates for the 10 s timeline: live rows of the history and execution tables (statistics collector). */
export async function estimatedRows(cluster: ClusterConfig): Promise<Record<string, number>> {
  const rows = await postgres.query(
    sqlDatabase(cluster),
    HISTORY_DATABASE,
    `SELECT relname, n_live_tup FROM pg_stat_user_tables WHERE relname IN ` +
      `('history_node', 'executions', 'timer_tasks', 'transfer_tasks', 'history_immediate_tasks', 'tasks')`,
  );
  return Object.fromEntries(rows.map((r) => r.split('|')).map(([t, n]) => [t, Number(n)]));
}

/**
 * Dead row versions per table (both databases), from the statistics collector: a table that is updated in place
 * (visibility rows on every search-attribute change, mutable state on every workflow task) holds old versions
 * until autovacuum frees them, and its size on disk includes them.
 */
export async function deadRows(
  cluster: ClusterConfig,
  minDead = 100,
): Promise<Record<string, { live: number; dead: number }>> {
  const pg = sqlDatabase(cluster);
  const out: Record<string, { live: number; dead: number }> = {};
  for (const database of [HISTORY_DATABASE, VISIBILITY_DATABASE]) {
    const rows = await postgres.query(
      pg,
      database,
      `SELECT relname, n_live_tup, n_dead_tup FROM pg_stat_user_tables WHERE n_dead_tup >= ${minDead}`,
    );
    for (const [table, live, dead] of rows.map((r) => r.split('|'))) {
      out[`${database}.${table}`] = { live: Number(live), dead: Number(dead) };
    }
  }
  return out;
}
