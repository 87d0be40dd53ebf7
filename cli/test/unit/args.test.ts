import { describe, expect, it } from 'vitest';
import { parseArgs } from '../../src/args.ts';

describe('kubectl kmaint arguments', () => {
  it('reads open with its reason, duration, mode, selector and the global flags', () => {
    const { command, global } = parseArgs(
      [
        'open',
        'kafka-service',
        '--reason',
        'broker upgrade',
        '--for',
        '1h',
        '--mode=pause',
        '--selector',
        'app=kafka-service',
        '-n',
        'payments',
      ],
      { ETCD_ENDPOINTS: 'etcd-0:2379, etcd-1:2379' },
    );
    expect(command).toEqual({
      name: 'open',
      target: 'kafka-service',
      reason: 'broker upgrade',
      forMs: 3_600_000,
      mode: 'pause',
      selector: { app: 'kafka-service' },
      windowName: null,
    });
    expect(global).toMatchObject({
      namespace: 'payments',
      allNamespaces: false,
      etcdEndpoints: ['etcd-0:2379', 'etcd-1:2379'],
    });
  });

  it('reads close, status, watch and help', () => {
    expect(parseArgs(['close', 'x', '--wait=false']).command).toEqual({
      name: 'close',
      target: 'x',
      wait: false,
    });
    expect(parseArgs(['status', '-A']).global.allNamespaces).toBe(true);
    expect(parseArgs(['watch', 'x', '--interval', '500ms']).command).toEqual({
      name: 'watch',
      target: 'x',
      intervalMs: 500,
    });
    expect(parseArgs([]).command).toEqual({ name: 'help' });
    expect(parseArgs(['open', '--help']).command).toEqual({ name: 'help' });
  });

  it.each([
    [['open'], 'open needs a target'],
    [['open', 'Kafka_Service'], 'must be a DNS label'],
    [['open', 'x', '--for', 'an hour'], '--for must be a positive duration'],
    [['open', 'x', '--mode', 'stop'], '--mode must be drain or pause'],
    [['open', 'x', '--selector', 'app'], '--selector must be key=value'],
    [['open', 'x', '--forr', '1h'], 'unknown flag --forr for open'],
    [['open', 'x', '--reason'], '--reason needs a value'],
    [['drain', 'x'], 'unknown command "drain"'],
    [['close', 'x', '--wait=maybe'], '--wait must be true or false'],
  ])('refuses %j, saying what is wrong', (argv, message) => {
    expect(() => parseArgs(argv)).toThrow(message);
  });
});
