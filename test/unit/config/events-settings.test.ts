/**
 * Where events go and the secret they are signed with: the dev stack's `events:` section (secret by reference, made
 * once on first start) and production's environment. Every refusal names the key or variable to fix.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError } from '../../../src/config/config-error';
import { eventsSettingsFromEnv, eventsSettingsFromSection, THREE_DAYS_MS } from '../../../src/config/events-settings';
import { DEFAULT_STACK_CONFIG_PATH, parseStackConfig } from '../../../src/config/stack-config';
import { REPO_ROOT } from '../../harness/paths';

const SECRET = 'a-long-enough-events-secret-0123';
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'wxrefund-events-settings-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const URL_ = 'https://orders.example.com/hooks/refund-events';

describe('the events: section of the stack file', () => {
  it('off unless enabled', () => {
    expect(eventsSettingsFromSection(undefined, dir)).toBeUndefined();
    expect(eventsSettingsFromSection({ url: URL_, secret: { env: 'X' } }, dir)).toBeUndefined();
  });

  it('an env secret, with the defaults: 10 s per attempt, backoff from 10 s to an hour, three days in all', () => {
    const settings = eventsSettingsFromSection(
      { enabled: true, url: URL_, secret: { env: 'ORDER_EVENTS_SECRET' } },
      dir,
      { ORDER_EVENTS_SECRET: `${SECRET}\n` },
    );
    expect(settings).toEqual({
      url: URL_,
      secret: SECRET,
      timeoutMs: 10_000,
      retry: {
        initialIntervalMs: 10_000,
        backoffCoefficient: 2,
        maximumIntervalMs: 3_600_000,
        giveUpAfterMs: THREE_DAYS_MS,
      },
    });
    expect(THREE_DAYS_MS).toBe(259_200_000);
  });

  it.each([
    [{ enabled: true, secret: { env: 'S' } }, /^events\.url: required when enabled/],
    [{ enabled: true, url: URL_ }, /^events\.secret: required when enabled/],
    [{ enabled: true, url: 'ftp://orders.example.com/', secret: { env: 'S' } }, /^events\.url: must be an http/],
    [
      { enabled: true, url: 'https://user:pw@orders.example.com/', secret: { env: 'S' } },
      /^events\.url: must not carry a user/,
    ],
    [{ enabled: true, url: URL_, secret: SECRET }, /^events\.secret: must be \{ env: NAME \} or \{ file: path \}/],
    [
      { enabled: true, url: URL_, secret: { value: SECRET } },
      /^events\.secret: Unrecognized key: "value".*must be \{ env: NAME \}/,
    ],
    [
      { enabled: true, url: URL_, secret: { env: 'lower' } },
      /^events\.secret\.env: must be an environment variable name/,
    ],
    [{ enabled: true, url: URL_, secret: { env: 'S' }, timeoutMs: 10 }, /^events\.timeoutMs/],
    [{ enabled: true, url: URL_, secret: { env: 'S' }, retry: { giveUpAfterMs: 10 } }, /^events\.retry\.giveUpAfterMs/],
    [
      {
        enabled: true,
        url: URL_,
        secret: { env: 'S' },
        retry: { initialIntervalMs: 60_000, maximumIntervalMs: 1_000 },
      },
      /^events\.retry\.maximumIntervalMs: must be at least initialIntervalMs/,
    ],
    [{ enabled: true, url: URL_, secret: { env: 'S' }, retries: 3 }, /retries/],
  ])('refuses %j, naming the key', (section, message) => {
    const run = () => eventsSettingsFromSection(section as never, dir, { S: SECRET });
    expect(run).toThrow(ConfigError);
    expect(run).toThrow(message);
  });

  it('names the env variable that is missing or too short, never its value', () => {
    const section = { enabled: true, url: URL_, secret: { env: 'ORDER_EVENTS_SECRET' } };
    expect(() => eventsSettingsFromSection(section, dir, {})).toThrow(
      /^events\.secret: environment variable ORDER_EVENTS_SECRET is not set/,
    );
    expect(() => eventsSettingsFromSection(section, dir, { ORDER_EVENTS_SECRET: 'short1' })).toThrow(
      /^events\.secret: the secret must be at least 16 characters/,
    );
    expect(() => eventsSettingsFromSection(section, dir, { ORDER_EVENTS_SECRET: 'short1' })).not.toThrow(/short1/);
  });

  it('names the stack file when told which it is', () => {
    expect(() => eventsSettingsFromSection({ enabled: true }, dir, {}, 'my-stack.yml')).toThrow(
      /^my-stack\.yml: events\.url: required when enabled/,
    );
  });

  it('a file secret missing on first start is made (32 random bytes, hex, mode 0600) and reused after', () => {
    const section = {
      enabled: true,
      url: 'http://127.0.0.1:18095/refund-events',
      secret: { file: '.data/events/key' },
    };
    const first = eventsSettingsFromSection(section, dir, {})!;
    const file = path.join(dir, '.data/events/key');
    expect(first.secret).toMatch(/^[0-9a-f]{64}$/);
    expect(readFileSync(file, 'utf8').trim()).toBe(first.secret);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(eventsSettingsFromSection(section, dir, {})!.secret).toBe(first.secret);

    const elsewhere = mkdtempSync(path.join(tmpdir(), 'wxrefund-events-settings-'));
    try {
      expect(eventsSettingsFromSection(section, elsewhere, {})!.secret).not.toBe(first.secret);
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }
  });

  it('processes starting together (worker, stand-in receiver) end up with one secret', async () => {
    const file = path.join(dir, 'shared', 'secret');
    const script = `process.stdout.write(require('./src/config/events-settings').ensureDevEventsSecret(${JSON.stringify(file)}).secret)`;
    const secrets = await Promise.all(
      [1, 2, 3, 4].map(
        () =>
          new Promise<string>((resolve, reject) =>
            execFile(
              process.execPath,
              ['-r', 'ts-node/register/transpile-only', '-e', script],
              { cwd: REPO_ROOT },
              (err, out) => (err ? reject(err) : resolve(out)),
            ),
          ),
      ),
    );
    expect(new Set(secrets)).toEqual(new Set([readFileSync(file, 'utf8').trim()]));
    expect(readdirSync(path.dirname(file))).toEqual(['secret']); // no files left aside
  });

  it('an existing file secret is used as it is; an empty one is refused', () => {
    writeFileSync(path.join(dir, 'mine'), `${SECRET}\n`);
    const section = { enabled: true, url: URL_, secret: { file: 'mine' } };
    expect(eventsSettingsFromSection(section, dir, {})!.secret).toBe(SECRET);
    writeFileSync(path.join(dir, 'mine'), '\n');
    expect(() => eventsSettingsFromSection(section, dir, {})).toThrow(
      /^events\.secret .*mine.*: the secret must be at least/,
    );
  });

  it('temporal-dev.yml sends events to the local stand-in receiver, secret in a file beside the stack file', () => {
    const cfg = parseStackConfig(readFileSync(DEFAULT_STACK_CONFIG_PATH, 'utf8'));
    expect(cfg.events).toMatchObject({
      enabled: true,
      url: 'http://127.0.0.1:18095/refund-events',
      secret: { file: path.join(path.dirname(DEFAULT_STACK_CONFIG_PATH), '.data/events/dev-signing-secret') },
    });
    expect(cfg.events.retry.giveUpAfterMs).toBeGreaterThanOrEqual(THREE_DAYS_MS);
  });

  it('the stack file names a bad events key with the file', () => {
    const text = readFileSync(DEFAULT_STACK_CONFIG_PATH, 'utf8').replace(
      'secret: { file: .data/events/dev-signing-secret }',
      'secret: inline-secret-0123456789',
    );
    expect(() => parseStackConfig(text, 'temporal-dev.yml')).toThrow(/^temporal-dev\.yml: events\.secret: must be/);
  });
});

describe('production: the environment', () => {
  it('off without WXREFUND_EVENTS_URL', () => {
    expect(eventsSettingsFromEnv({})).toBeUndefined();
  });

  it('URL and secret, or URL and a secret file; the retry policy keeps its three days', () => {
    expect(eventsSettingsFromEnv({ WXREFUND_EVENTS_URL: URL_, WXREFUND_EVENTS_SECRET: SECRET })).toEqual({
      url: URL_,
      secret: SECRET,
      timeoutMs: 10_000,
      retry: expect.objectContaining({ giveUpAfterMs: THREE_DAYS_MS }),
    });
    const file = path.join(dir, 'events-secret');
    writeFileSync(file, `${SECRET}\n`);
    expect(
      eventsSettingsFromEnv({
        WXREFUND_EVENTS_URL: URL_,
        WXREFUND_EVENTS_SECRET_FILE: file,
        WXREFUND_EVENTS_TIMEOUT_MS: '2500',
      }),
    ).toMatchObject({ secret: SECRET, timeoutMs: 2_500 });
  });

  it.each([
    [{ WXREFUND_EVENTS_SECRET: SECRET }, /^WXREFUND_EVENTS_URL: required when WXREFUND_EVENTS_SECRET is set/],
    [{ WXREFUND_EVENTS_URL: 'orders.example.com' }, /^WXREFUND_EVENTS_URL: must be an http/],
    [{ WXREFUND_EVENTS_URL: URL_ }, /^WXREFUND_EVENTS_SECRET: required when WXREFUND_EVENTS_URL is set/],
    [
      { WXREFUND_EVENTS_URL: URL_, WXREFUND_EVENTS_SECRET: SECRET, WXREFUND_EVENTS_SECRET_FILE: '/x' },
      /^WXREFUND_EVENTS_SECRET, WXREFUND_EVENTS_SECRET_FILE: set one of them, not both/,
    ],
    [
      { WXREFUND_EVENTS_URL: URL_, WXREFUND_EVENTS_SECRET: 'short' },
      /^WXREFUND_EVENTS_SECRET: the secret must be at least 16/,
    ],
    [
      { WXREFUND_EVENTS_URL: URL_, WXREFUND_EVENTS_SECRET_FILE: '/nonexistent/events-secret' },
      /^WXREFUND_EVENTS_SECRET_FILE: cannot read \/nonexistent\/events-secret: ENOENT/,
    ],
    [
      { WXREFUND_EVENTS_URL: URL_, WXREFUND_EVENTS_SECRET: SECRET, WXREFUND_EVENTS_TIMEOUT_MS: '10s' },
      /^WXREFUND_EVENTS_TIMEOUT_MS: must be whole milliseconds/,
    ],
  ])('refuses %j, naming the variable', (env, message) => {
    expect(() => eventsSettingsFromEnv(env)).toThrow(ConfigError);
    expect(() => eventsSettingsFromEnv(env)).toThrow(message);
  });

  it('never makes a secret file in production', () => {
    const file = path.join(dir, 'missing');
    expect(() => eventsSettingsFromEnv({ WXREFUND_EVENTS_URL: URL_, WXREFUND_EVENTS_SECRET_FILE: file })).toThrow(
      /ENOENT/,
    );
    expect(() => statSync(file)).toThrow();
  });
});
