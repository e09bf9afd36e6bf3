/**
 * The `cluster:` section of the stack file: a production-shaped Temporal cluster on this machine (docs/cluster.md).
 * The same server version as the dev server, but its four services as separate processes and PostgreSQL for both the
 * history store and visibility. Validated here, where it is used (stack-config.ts plugs it in), so a bad key is named
 * at start-up; ports must all differ, since the four services, the Web UI and PostgreSQL share one loopback address.
 */
import { z } from 'zod';

const port = z.number().int().min(1).max(65535);

/** The four services of a Temporal server, in the order `up` starts them (see services.ts for why). */
export const CLUSTER_SERVICES = ['history', 'matching', 'frontend', 'worker'] as const;
export type ClusterService = (typeof CLUSTER_SERVICES)[number];

const servicePortsSchema = z
  .object({
    /** gRPC: the frontend's is the address clients use; the others are internal. */
    grpcPort: port,
    /** Ringpop membership gossip between the services. */
    membershipPort: port,
    /** Prometheus metrics of this process (each process has its own). */
    metricsPort: port,
  })
  .strict();

/** A duration in whole days (`3d`): the namespace's retention of closed workflows. */
const days = z
  .string()
  .regex(/^[1-9][0-9]*d$/, 'must be a whole number of days, e.g. 3d')
  .transform((s) => Number.parseInt(s, 10));

export const clusterConfigSchema = z
  .object({
    ip: z.string().min(1).default('127.0.0.1'),
    namespace: z.string().min(1).default('default'),
    namespaceRetention: days.default(3),
    /**
     * Fixed for the life of the cluster's database (Temporal cannot re-shard). See temporal-dev.yml for the choice.
     */
    numHistoryShards: z.number().int().min(1).max(16384),
    /** Everything the cluster writes: PostgreSQL's data, rendered configs, logs, pid files. */
    dataDir: z.string().min(1).default('.data/cluster'),
    logLevel: z.enum(['debug', 'info', 'warn', 'error']).default('warn'),
    services: z
      .object({
        frontend: servicePortsSchema.extend({ httpPort: port }).strict(),
        history: servicePortsSchema,
        matching: servicePortsSchema,
        worker: servicePortsSchema,
      })
      .strict(),
    /** The Temporal Web UI (its own server, github.com/temporalio/ui-server), attached to the frontend. */
    uiPort: port,
    postgres: z
      .object({
        port,
        /** Where initdb, pg_ctl, postgres and psql are; absent: `pg_config --bindir`, else Debian's 15. */
        binDir: z.string().min(1).optional(),
        /** The superuser initdb creates; its password is made on first start (dataDir/postgres-password, 0600). */
        user: z
          .string()
          .regex(/^[a-z_][a-z0-9_]*$/, 'must be a lower-case PostgreSQL role name')
          .default('temporal'),
        /** Connections each server process may hold to the history database (visibility gets a quarter). */
        maxConns: z.number().int().min(2).max(500).default(20),
      })
      .strict(),
    /** Written to the server's dynamic config file (each value as `- value: …`). */
    dynamicConfig: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
  })
  .strict()
  .refine((c) => c.dynamicConfig['frontend.enableServerVersionCheck'] === false, {
    message: 'must set frontend.enableServerVersionCheck: false (the version check calls out to the internet)',
    path: ['dynamicConfig', 'frontend.enableServerVersionCheck'],
  })
  .superRefine((c, ctx) => {
    const seen = new Map<number, string>();
    for (const [key, value] of portsOf(c)) {
      const first = seen.get(value);
      if (first) ctx.addIssue({ code: 'custom', path: key.split('.'), message: `port ${value} is also ${first}` });
      else seen.set(value, `cluster.${key}`);
    }
  });

export type ClusterConfig = z.infer<typeof clusterConfigSchema>;

/** Every port the cluster listens on, by its key in the section. */
export function portsOf(c: Pick<ClusterConfig, 'services' | 'uiPort' | 'postgres'>): Array<[string, number]> {
  const ports: Array<[string, number]> = [];
  for (const [service, p] of Object.entries(c.services)) {
    for (const [name, value] of Object.entries(p)) ports.push([`services.${service}.${name}`, value]);
  }
  ports.push(['uiPort', c.uiPort], ['postgres.port', c.postgres.port]);
  return ports;
}

/** The address clients use (TEMPORAL_ADDRESS). */
export const frontendAddress = (c: Pick<ClusterConfig, 'ip' | 'services'>): string =>
  `${c.ip}:${c.services.frontend.grpcPort}`;
