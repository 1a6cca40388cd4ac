import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CENSOR, createLogger, isLogLevel, type LogLevel, REDACT_PATHS } from '../../src/log.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** A logger whose lines are captured instead of written to stderr. */
function capture(level: LogLevel, base?: Record<string, unknown>) {
  const lines: string[] = [];
  const logger = createLogger(level, base, { destination: { write: (line: string) => void lines.push(line) } });
  const entries = () => lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  return { logger, lines, entries };
}

describe('logger', () => {
  it('writes one JSON line per entry: level as its name, time as an ISO string, the message before the fields', () => {
    const { logger, lines, entries } = capture('info', { group: 'g1' });
    logger.info('http listening', { url: 'http://127.0.0.1:4000/graphql' });
    expect(lines).toHaveLength(1);
    expect(lines[0]!.endsWith('}\n')).toBe(true);
    expect(lines[0]!.split('\n')).toHaveLength(2);
    const [entry] = entries();
    expect(entry).toEqual({ level: 'info', time: expect.any(String), group: 'g1', msg: 'http listening', url: 'http://127.0.0.1:4000/graphql' });
    expect(new Date(entry!.time as string).toISOString()).toBe(entry!.time);
    // What test/support/process.ts and the benches match on.
    expect(lines[0]).toMatch(/"level":"info"/);
    expect(lines[0]).toMatch(/"msg":"http listening".*"url":"(http:\/\/[^"]+)\/graphql"/);
    expect(Object.keys(entry!)).toEqual(['level', 'time', 'msg', 'group', 'url']);
  });

  it('filters by level', () => {
    const written = (level: LogLevel) => {
      const { logger, entries } = capture(level);
      logger.debug('d');
      logger.info('i');
      logger.warn('w');
      logger.error('e');
      return entries().map((entry) => `${entry.level}:${entry.msg}`);
    };
    expect(written('debug')).toEqual(['debug:d', 'info:i', 'warn:w', 'error:e']);
    expect(written('info')).toEqual(['info:i', 'warn:w', 'error:e']);
    expect(written('warn')).toEqual(['warn:w', 'error:e']);
    expect(written('error')).toEqual(['error:e']);
    expect(written('silent')).toEqual([]);
  });

  it('knows its levels', () => {
    for (const level of ['debug', 'info', 'warn', 'error', 'silent']) expect(isLogLevel(level)).toBe(true);
    for (const level of ['trace', 'fatal', 'INFO', '', 'toString', '__proto__']) expect(isLogLevel(level)).toBe(false);
  });

  it('children add their fields to every line, nested children keep their parents', () => {
    const { logger, lines, entries } = capture('debug', { group: 'g1' });
    const child = logger.child({ component: 'ingest' });
    const grandchild = child.child({ topic: 'orders' });
    child.info('one', { partition: 1 });
    grandchild.warn('two');
    logger.info('three');
    expect(entries()).toEqual([
      { level: 'info', time: expect.any(String), group: 'g1', component: 'ingest', msg: 'one', partition: 1 },
      { level: 'warn', time: expect.any(String), group: 'g1', component: 'ingest', topic: 'orders', msg: 'two' },
      { level: 'info', time: expect.any(String), group: 'g1', msg: 'three' },
    ]);
    // A call's field of the same name wins when the line is parsed.
    child.info('four', { component: 'override' });
    expect(entries()[3]!.component).toBe('override');
    expect(lines[3]!.match(/"component"/g)).toHaveLength(1);
  });

  it('redacts every secret path, in call fields and in bound fields', () => {
    const { logger, lines, entries } = capture('info');
    const cases: Array<[string, Record<string, unknown>, (entry: Record<string, unknown>) => unknown]> = [
      ['authorization', { authorization: 'Bearer s3cr3t-1' }, (e) => e.authorization],
      ['*.authorization', { request: { authorization: 'Bearer s3cr3t-2' } }, (e) => (e.request as Record<string, unknown>).authorization],
      ['headers.authorization', { headers: { authorization: 'Bearer s3cr3t-3' } }, (e) => (e.headers as Record<string, unknown>).authorization],
      [
        '*.headers.authorization',
        { request: { headers: { authorization: 'Bearer s3cr3t-4' } } },
        (e) => ((e.request as Record<string, unknown>).headers as Record<string, unknown>).authorization,
      ],
      ['token', { token: 's3cr3t-5' }, (e) => e.token],
      ['*.token', { auth: { token: 's3cr3t-6' } }, (e) => (e.auth as Record<string, unknown>).token],
      ['password', { password: 's3cr3t-7' }, (e) => e.password],
      ['*.password', { user: { password: 's3cr3t-8' } }, (e) => (e.user as Record<string, unknown>).password],
      ['secret', { secret: 's3cr3t-9' }, (e) => e.secret],
      ['*.secret', { jwt: { secret: 's3cr3t-10' } }, (e) => (e.jwt as Record<string, unknown>).secret],
      ['sasl.*', { sasl: { mechanism: 'plain', username: 's3cr3t-11', password: 's3cr3t-12' } }, (e) => e.sasl],
      ['peerSecret', { peerSecret: 's3cr3t-13' }, (e) => e.peerSecret],
      ['*.peerSecret', { config: { peerSecret: 's3cr3t-14' } }, (e) => (e.config as Record<string, unknown>).peerSecret],
      ['clientAuth.secret', { clientAuth: { secret: 's3cr3t-15', audience: 'aud' } }, (e) => e.clientAuth],
      [
        '*.clientAuth.secret',
        { config: { clientAuth: { secret: 's3cr3t-16', audience: 'aud' } } },
        (e) => (e.config as Record<string, unknown>).clientAuth,
      ],
      ['cookie', { cookie: 'session=s3cr3t-17' }, (e) => e.cookie],
      ['headers.cookie', { headers: { cookie: 'session=s3cr3t-18' } }, (e) => (e.headers as Record<string, unknown>).cookie],
      ['headers["set-cookie"]', { headers: { 'set-cookie': ['session=s3cr3t-19'] } }, (e) => (e.headers as Record<string, unknown>)['set-cookie']],
      ['cookies', { cookies: { session: 's3cr3t-20' } }, (e) => e.cookies],
      [
        'headers["proxy-authorization"]',
        { headers: { 'proxy-authorization': 'Basic s3cr3t-22' } },
        (e) => (e.headers as Record<string, unknown>)['proxy-authorization'],
      ],
      ['*.cookie', { request: { cookie: 'session=s3cr3t-23' } }, (e) => (e.request as Record<string, unknown>).cookie],
      ['*.cookies', { request: { cookies: ['session=s3cr3t-24'] } }, (e) => (e.request as Record<string, unknown>).cookies],
      ['*["set-cookie"]', { response: { 'set-cookie': 'session=s3cr3t-25' } }, (e) => (e.response as Record<string, unknown>)['set-cookie']],
      ['*.sasl.*', { kafka: { sasl: { mechanism: 'scram-sha-512', password: 's3cr3t-26' } } }, (e) => (e.kafka as Record<string, unknown>).sasl],
      [
        '*.headers.cookie',
        { request: { headers: { cookie: 'session=s3cr3t-21' } } },
        (e) => ((e.request as Record<string, unknown>).headers as Record<string, unknown>).cookie,
      ],
    ];
    for (const [, fields] of cases) logger.info('request', fields);
    const written = entries();
    cases.forEach(([name, , pick], index) => {
      const value = pick(written[index]!);
      if (name === 'sasl.*') expect(value, name).toEqual({ mechanism: CENSOR, username: CENSOR, password: CENSOR });
      else if (name === '*.sasl.*') expect(value, name).toEqual({ mechanism: CENSOR, password: CENSOR });
      else if (name.endsWith('clientAuth.secret')) expect(value, name).toEqual({ secret: CENSOR, audience: 'aud' });
      else expect(value, name).toBe(CENSOR);
    });
    expect(lines.join('')).not.toContain('s3cr3t');
    // Every path the logger redacts is exercised above, by name.
    const tested = new Set(cases.map(([name]) => name));
    const untested = REDACT_PATHS.filter((p) => !tested.has(p));
    expect(untested).toEqual([]);

    // Bound fields (createLogger's base and child fields) are redacted too; other fields are kept.
    const bound = capture('info', { peerSecret: 'b0und-1', group: 'g1' });
    bound.logger.child({ clientAuth: { secret: 'b0und-2' }, component: 'http' }).info('bound', { ok: true });
    expect(bound.lines.join('')).not.toContain('b0und');
    expect(bound.entries()[0]).toMatchObject({ peerSecret: CENSOR, group: 'g1', clientAuth: { secret: CENSOR }, component: 'http', ok: true });
    // The caller's objects are not modified.
    const fields = { headers: { authorization: 'Bearer keep' } };
    logger.info('again', fields);
    expect(fields.headers.authorization).toBe('Bearer keep');
  });

  it('serializes Error fields with name, message, code and causes', () => {
    const { logger, entries } = capture('info');
    const root = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9092'), { code: 'ECONNREFUSED' });
    const middle = new TypeError('broker unreachable', { cause: root });
    const top = Object.assign(new Error('start failed', { cause: middle }), { name: 'GatewayError', code: 'GW_INTERNAL_ERROR' });
    logger.error('stop failed', { error: top, attempt: 2 });
    expect(entries()[0]).toEqual({
      level: 'error',
      time: expect.any(String),
      msg: 'stop failed',
      attempt: 2,
      error: {
        name: 'GatewayError',
        message: 'start failed',
        code: 'GW_INTERNAL_ERROR',
        cause: {
          name: 'TypeError',
          message: 'broker unreachable',
          cause: { name: 'Error', message: 'connect ECONNREFUSED 127.0.0.1:9092', code: 'ECONNREFUSED' },
        },
      },
    });

    // A non-Error cause is kept as it is; a cause cycle is cut.
    const cyclic = new Error('a');
    const other = new Error('b', { cause: cyclic });
    cyclic.cause = other;
    logger.warn('odd causes', { plain: new Error('x', { cause: 'a string' }), cyclic });
    const [, odd] = entries();
    expect(odd!.plain).toEqual({ name: 'Error', message: 'x', cause: 'a string' });
    expect(odd!.cyclic).toEqual({ name: 'Error', message: 'a', cause: { name: 'Error', message: 'b', cause: '[Circular]' } });

    // An Error bound to a child is serialized the same way.
    logger.child({ lastError: new RangeError('r') }).info('child');
    expect(entries()[2]!.lastError).toEqual({ name: 'RangeError', message: 'r' });
  });

  it('never throws: circular objects, BigInts, functions, symbols and throwing getters', () => {
    const { logger, lines, entries } = capture('debug');
    const circular: Record<string, unknown> = { name: 'loop', password: 'c1rcular' };
    circular.self = circular;
    const list: unknown[] = [1];
    list.push(list);
    expect(() => logger.info('circular', { circular, list })).not.toThrow();
    expect(() => logger.info('bigint', { offset: 12345678901234567890n, nested: { lag: 7n } })).not.toThrow();
    expect(() => logger.info('odd values', { fn: () => 1, sym: Symbol('s'), undef: undefined, nan: Number.NaN })).not.toThrow();
    const throwing = {
      get boom(): never {
        throw new Error('getter failed');
      },
    };
    expect(() => logger.warn('throwing getter', { throwing })).not.toThrow();
    expect(() => logger.child({ offset: 1n, circular }).info('bound odd values')).not.toThrow();

    expect(lines).toHaveLength(5);
    const [circularEntry, bigintEntry, oddEntry, throwingEntry, boundEntry] = entries();
    expect(circularEntry).toMatchObject({ msg: 'circular', circular: { name: 'loop', password: CENSOR } });
    expect(JSON.stringify(circularEntry)).toContain('[Circular]');
    // The path `*.password` is one level deep: the top-level object's password is redacted.
    expect((circularEntry!.circular as Record<string, unknown>).password).toBe(CENSOR);
    expect(lines[1]).toContain('"offset":12345678901234567890');
    expect(bigintEntry).toMatchObject({ msg: 'bigint', nested: { lag: 7 } });
    expect(oddEntry).toMatchObject({ msg: 'odd values', nan: null });
    expect(oddEntry).not.toHaveProperty('fn');
    expect(throwingEntry).toMatchObject({ level: 'warn', msg: 'throwing getter', logError: 'getter failed' });
    expect(boundEntry).toMatchObject({ msg: 'bound odd values', offset: 1 });
  });

  it('writes to stderr synchronously, so the lines before process.exit are kept, and nothing to stdout', () => {
    const script = [
      `import { createLogger } from ${JSON.stringify(path.join(ROOT, 'src/log.ts'))};`,
      "const logger = createLogger('info', { group: 'exit-test' });",
      "for (let i = 0; i < 2000; i += 1) logger.info('line', { i, pad: 'x'.repeat(200) });",
      "logger.error('last line before exit', { secret: 'never-printed' });",
      'process.exit(3);',
    ].join('\n');
    const child = spawnSync(process.execPath, ['--input-type=module', '--eval', script], { encoding: 'utf8', maxBuffer: 64 << 20 });
    expect(child.status).toBe(3);
    expect(child.stdout).toBe('');
    const lines = child.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(2001);
    expect(JSON.parse(lines.at(-1)!)).toMatchObject({ level: 'error', group: 'exit-test', msg: 'last line before exit', secret: CENSOR });
  });

  it('has written every line when the process is killed right after logging (no buffer to flush)', () => {
    const script = [
      `import { createLogger } from ${JSON.stringify(path.join(ROOT, 'src/log.ts'))};`,
      "const logger = createLogger('info');",
      "for (let i = 0; i < 50; i += 1) logger.info('line', { i });",
      "logger.error('last line before SIGKILL');",
      "process.kill(process.pid, 'SIGKILL');",
    ].join('\n');
    const child = spawnSync(process.execPath, ['--input-type=module', '--eval', script], { encoding: 'utf8' });
    expect(child.signal).toBe('SIGKILL');
    const lines = child.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(51);
    expect(JSON.parse(lines.at(-1)!)).toMatchObject({ msg: 'last line before SIGKILL' });
  });
});
