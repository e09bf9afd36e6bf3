/**
 * The cluster's PostgreSQL: Debian's server binaries, a project-local data directory, loopback only, its own port.
 * PostgreSQL refuses to run as root (initdb and postgres both exit), and sessions here often are root: then every
 * server-side command runs as the `postgres` user that Debian's package creates (`runuser -u postgres --`) and the
 * data directory is that user's; as anyone else they run as the current user. Clients (psql, temporal-sql-tool, the
 * server) connect over TCP with a password, so they run as whoever calls.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ClusterConfig } from './cluster-config';
import type { ClusterPaths } from './cluster-paths';
import { runCommand, type CommandResult } from './run-command';

/** Debian's PostgreSQL 15, when neither the section nor `pg_config` names another. */
const DEBIAN_BIN_DIR = '/usr/lib/postgresql/15/bin';
const SERVICE_USER = 'postgres';

export interface Postgres {
  binDir: string;
  /** Set when running as root: the user PostgreSQL runs as instead. */
  runAs?: { user: string; uid: number; gid: number };
  address: { host: string; port: number };
  user: string;
  password: string;
  dataDir: string;
  logFile: string;
}

/** Where initdb and pg_ctl are: the section's binDir, else `pg_config --bindir`, else Debian's 15. */
export function postgresBinDir(cluster: ClusterConfig): string {
  const candidates = [cluster.postgres.binDir, pgConfigBinDir(), DEBIAN_BIN_DIR].filter((d): d is string => !!d);
  const found = candidates.find((d) => existsSync(path.join(d, 'initdb')));
  if (!found) {
    throw new Error(
      `PostgreSQL's server programs (initdb, pg_ctl) are not in ${candidates.join(' or ')}: ` +
        'install them (apt-get install postgresql) or set cluster.postgres.binDir',
    );
  }
  return found;
}

function pgConfigBinDir(): string | undefined {
  try {
    return execFileSync('pg_config', ['--bindir'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

function serviceUser(): Postgres['runAs'] {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const id = (flag: string) =>
      Number(execFileSync('id', [flag, SERVICE_USER], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
    return { user: SERVICE_USER, uid: id('-u'), gid: id('-g') };
  } catch {
    throw new Error(
      `running as root, and PostgreSQL refuses to run as root: no user "${SERVICE_USER}" to run it as ` +
        "(Debian's postgresql package creates it), or run `npm run stack:cluster` as an unprivileged user",
    );
  }
}

/** The superuser's password: made once by `up` (32 random bytes, hex, mode 0600), then read; '' before that. */
function password(file: string, make: boolean): string {
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  if (!make) return '';
  mkdirSync(path.dirname(file), { recursive: true });
  const made = randomBytes(32).toString('hex');
  writeFileSync(file, `${made}\n`, { mode: 0o600, flag: 'wx' });
  return made;
}

/** `makePassword`: only `up` makes one (status and down on a cluster never started must not write anything). */
export function postgresFor(cluster: ClusterConfig, paths: ClusterPaths, { makePassword = false } = {}): Postgres {
  return {
    binDir: postgresBinDir(cluster),
    runAs: serviceUser(),
    address: { host: cluster.ip, port: cluster.postgres.port },
    user: cluster.postgres.user,
    password: password(paths.pgPasswordFile, makePassword),
    dataDir: paths.pgData,
    logFile: paths.logFile('postgres'),
  };
}

/** Runs a server-side program (initdb, pg_ctl) as the user PostgreSQL runs as. */
function asServiceUser(pg: Postgres, program: string, args: string[], opts: Parameters<typeof runCommand>[2] = {}) {
  const bin = path.join(pg.binDir, program);
  return pg.runAs
    ? runCommand('runuser', ['-u', pg.runAs.user, '--', bin, ...args], opts)
    : runCommand(bin, args, opts);
}

/** A path the service user must own (its data directory, its log file). */
function giveToServiceUser(pg: Postgres, p: string): void {
  if (pg.runAs) chownSync(p, pg.runAs.uid, pg.runAs.gid);
}

/** initdb on first use: password authentication over TCP, UTF-8, C collation (Temporal's schema assumes nothing). */
export async function initIfNeeded(pg: Postgres): Promise<boolean> {
  if (existsSync(path.join(pg.dataDir, 'PG_VERSION'))) return false;
  mkdirSync(pg.dataDir, { recursive: true, mode: 0o700 });
  giveToServiceUser(pg, pg.dataDir);
  // initdb reads the password from a file. Not /dev/stdin: as root, runuser's pipe is root's, and the postgres user
  // may not reopen it. A file of the service user's, mode 0600, removed at once.
  const pwfile = path.join(path.dirname(pg.dataDir), '.initdb-password');
  writeFileSync(pwfile, `${pg.password}\n`, { mode: 0o600 });
  try {
    giveToServiceUser(pg, pwfile);
    const args = ['-D', pg.dataDir, '-U', pg.user, `--pwfile=${pwfile}`, '--auth-host=scram-sha-256'];
    await asServiceUser(pg, 'initdb', [...args, '--auth-local=peer', '-E', 'UTF8', '--locale=C']);
  } finally {
    rmSync(pwfile, { force: true });
  }
  return true;
}

export async function isRunning(pg: Postgres): Promise<boolean> {
  if (!existsSync(path.join(pg.dataDir, 'PG_VERSION'))) return false;
  return (await asServiceUser(pg, 'pg_ctl', ['-D', pg.dataDir, 'status'], { allowFailure: true })).code === 0;
}

/** The postmaster's pid (first line of postmaster.pid), for status and memory figures. */
export function postmasterPid(pg: Postgres): number | undefined {
  try {
    const pid = Number(readFileSync(path.join(pg.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Starts the server unless it runs; waits until it accepts connections. Settings are passed at each start (not
 * written into the data directory), so a changed port in the stack file takes effect on the next `up`. No Unix
 * socket: a project-local socket path can exceed the 107-byte limit, and every client here uses TCP.
 */
export async function start(pg: Postgres, maxConnections: number): Promise<void> {
  if (await isRunning(pg)) return;
  mkdirSync(path.dirname(pg.logFile), { recursive: true });
  closeSync(openSync(pg.logFile, 'a'));
  giveToServiceUser(pg, pg.logFile);
  const options = [
    `-c listen_addresses=${pg.address.host}`,
    `-p ${pg.address.port}`,
    "-c unix_socket_directories=''",
    `-c max_connections=${maxConnections}`,
  ].join(' ');
  await asServiceUser(pg, 'pg_ctl', ['-D', pg.dataDir, '-l', pg.logFile, '-o', options, '-w', '-t', '60', 'start']);
}

/** Fast shutdown: open transactions are rolled back, the server checkpoints and exits. */
export async function stop(pg: Postgres): Promise<void> {
  if (!(await isRunning(pg))) return;
  await asServiceUser(pg, 'pg_ctl', ['-D', pg.dataDir, '-m', 'fast', '-w', '-t', '60', 'stop']);
}

/** One SQL statement through psql over TCP; its rows as lines of unaligned text. */
export async function query(pg: Postgres, database: string, sql: string): Promise<string[]> {
  const { stdout }: CommandResult = await runCommand(
    path.join(pg.binDir, 'psql'),
    ['-h', pg.address.host, '-p', String(pg.address.port), '-U', pg.user, '-d', database, '-X', '-tAc', sql],
    { env: { PGPASSWORD: pg.password, PGCONNECT_TIMEOUT: '5' } },
  );
  return stdout.split('\n').filter((l) => l.length > 0);
}

/** Whether a database exists (asked of the `postgres` database, which initdb always makes). */
export async function databaseExists(pg: Postgres, name: string): Promise<boolean> {
  const rows = await query(pg, 'postgres', `SELECT 1 FROM pg_database WHERE datname = '${name.replace(/'/g, "''")}'`);
  return rows.length > 0;
}

/** Size on disk of each database, in bytes (docs/cluster.md and the benchmarks quote these). */
export async function databaseSizes(pg: Postgres, names: string[]): Promise<Record<string, number>> {
  const list = names.map((n) => `'${n.replace(/'/g, "''")}'`).join(',');
  const rows = await query(
    pg,
    'postgres',
    `SELECT datname, pg_database_size(datname) FROM pg_database WHERE datname IN (${list})`,
  );
  return Object.fromEntries(rows.map((r) => r.split('|')).map(([n, size]) => [n, Number(size)]));
}
