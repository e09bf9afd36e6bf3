import { readFileSync } from 'node:fs';
import { DEFAULT_STACK_CONFIG_PATH, parseStackConfig, ConfigError } from '../../../src/config/stack-config';
import { devServerArgs } from '../../../src/stack/dev-server';

const shipped = readFileSync(DEFAULT_STACK_CONFIG_PATH, 'utf8');

describe('temporal-dev.yml', () => {
  it('the shipped file parses and describes the local stack', () => {
    const cfg = parseStackConfig(shipped);
    expect(cfg.temporal).toMatchObject({ ip: '127.0.0.1', port: 7233, uiPort: 8233 });
    expect(cfg.temporal.searchAttributes).toEqual({
      RefundStatus: 'Keyword',
      OutTradeNo: 'Keyword',
      OutRefundNo: 'Keyword',
      RefundChannel: 'Keyword',
      RefundAmountFen: 'Int',
    });
  });

  it('turns the file into dev-server flags with the version check off and a SQLite file', () => {
    const args = devServerArgs(parseStackConfig(shipped).temporal).join(' ');
    expect(args).toContain('--dynamic-config-value frontend.enableServerVersionCheck=false');
    expect(args).toContain('--search-attribute RefundAmountFen=Int');
    expect(args).toMatch(/--db-filename \S*\.data\/temporal\.sqlite/);
    expect(args).toContain('--ui-port 8233');
  });

  it('names the key that holds a bad value', () => {
    const bad = shipped.replace('port: 7233', 'port: "seven"');
    expect(() => parseStackConfig(bad)).toThrow(ConfigError);
    expect(() => parseStackConfig(bad)).toThrow(/temporal\.port/);
  });

  it('refuses to run with the server version check on (it would call out to the internet)', () => {
    const bad = shipped.replace('frontend.enableServerVersionCheck: false', 'frontend.enableServerVersionCheck: true');
    expect(() => parseStackConfig(bad)).toThrow(/frontend\.enableServerVersionCheck/);
  });

  it('rejects unknown search attribute types and unknown top-level keys, naming them', () => {
    expect(() => parseStackConfig(shipped.replace('RefundAmountFen: Int', 'RefundAmountFen: Money'))).toThrow(
      /temporal\.searchAttributes\.RefundAmountFen/,
    );
    expect(() => parseStackConfig(`${shipped}\nworkerz: {}\n`)).toThrow(/workerz/);
  });

  it('reports YAML syntax errors with the file name', () => {
    expect(() => parseStackConfig('temporal: [unclosed', 'my.yml')).toThrow(/^my\.yml: not valid YAML/);
  });
});
