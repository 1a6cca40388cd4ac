/**
 * Keeps the deployment files true to the code: deploy/Dockerfile, .dockerignore,
 * deploy/compose.yaml with deploy/compose/haproxy.cfg, and the Kubernetes manifests in
 * deploy/k8s. They are parsed (YAML with the `yaml` package, the Dockerfile instruction by
 * instruction) and checked against src/config.ts (the variables it reads and requires, by
 * running loadConfig over what they set), package.json's start script, the server's health
 * paths and each other. Linters run on them too: dockerfile-utils on the Dockerfile, dclint
 * (with the Compose specification's schema) on the compose file, the Kubernetes API schemas of
 * kubernetes-models on the manifests (strict: unknown fields fail), and `haproxy -c` on the
 * HAProxy config when HAProxy is installed (deploy/gw setup installs it).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { DCLinter } from 'dclint';
import { validate as lintDockerfile } from 'dockerfile-utils';
import { validate as validateConfigMap } from 'kubernetes-models/_schemas/IoK8sApiCoreV1ConfigMap';
import { validate as validateService } from 'kubernetes-models/_schemas/IoK8sApiCoreV1Service';
import { validate as validateStatefulSet } from 'kubernetes-models/_schemas/IoK8sApiAppsV1StatefulSet';
import { validate as validatePdb } from 'kubernetes-models/_schemas/IoK8sApiPolicyV1PodDisruptionBudget';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { loadConfig } from '../../src/config.ts';
import { configVariables, requiredVariables } from '../support/config-variables.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');
const yamlFile = (file: string) => parseYaml(read(file), { merge: true }) as Record<string, unknown>;

type Json = Record<string, unknown>;
const obj = (value: unknown, what: string): Json => {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${what} is not a mapping`);
  return value as Json;
};
const list = (value: unknown, what: string): unknown[] => {
  if (!Array.isArray(value)) throw new Error(`${what} is not a list`);
  return value;
};

// ---- Dockerfile --------------------------------------------------------------------------

interface Instruction {
  readonly keyword: string;
  readonly args: string;
  readonly line: number;
}

/** Instructions of a Dockerfile: comments dropped, continuation lines joined. */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending: { keyword: string; args: string; line: number } | undefined;
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (line.startsWith('#') || (line === '' && !pending)) return;
    const continues = line.endsWith('\\');
    const body = continues ? line.slice(0, -1).trim() : line;
    if (pending) pending.args = `${pending.args} ${body}`.trim();
    else {
      const match = /^(\S+)\s*(.*)$/.exec(body)!;
      pending = { keyword: match[1]!.toUpperCase(), args: match[2]!, line: index + 1 };
    }
    if (!continues) {
      out.push(pending);
      pending = undefined;
    }
  });
  if (pending) out.push(pending);
  return out;
}

/** `KEY=value` pairs of an ENV instruction (values optionally quoted). */
function envPairs(args: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const match of args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("([^"]*)"|'([^']*)'|(\S*))/g)) out[match[1]!] = match[3] ?? match[4] ?? match[5] ?? '';
  return out;
}

interface Stage {
  readonly from: string;
  readonly name: string | undefined;
  readonly instructions: Instruction[];
}

function stages(instructions: readonly Instruction[]): Stage[] {
  const out: Stage[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const match = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(instruction.args);
      if (!match) throw new Error(`FROM line ${instruction.line}: ${instruction.args}`);
      out.push({ from: match[1]!, name: match[2], instructions: [] });
    } else out.at(-1)?.instructions.push(instruction);
  }
  return out;
}

/** Options (`--name=value`) and the rest of an instruction's arguments. */
function options(args: string): { options: Record<string, string>; rest: string } {
  const found: Record<string, string> = {};
  let rest = args;
  for (;;) {
    const match = /^--([a-z-]+)(?:=(\S+))?\s*/.exec(rest);
    if (!match) return { options: found, rest };
    found[match[1]!] = match[2] ?? 'true';
    rest = rest.slice(match[0].length);
  }
}

function dockerfile() {
  const text = read('deploy/Dockerfile');
  const all = stages(parseDockerfile(text));
  const runtime = all.at(-1)!;
  const inRuntime = (keyword: string) => runtime.instructions.filter((instruction) => instruction.keyword === keyword);
  const env: Record<string, string> = {};
  for (const instruction of inRuntime('ENV')) Object.assign(env, envPairs(instruction.args));
  const one = (keyword: string) => {
    const found = inRuntime(keyword);
    expect(found, `the runtime stage has one ${keyword}`).toHaveLength(1);
    return found[0]!.args;
  };
  return { text, stages: all, runtime, inRuntime, env, one };
}

/** Whether a .dockerignore pattern list leaves `file` (a path in the context) in the context. */
function inContext(patterns: readonly string[], file: string): boolean {
  const toRegExp = (pattern: string) => {
    let source = '';
    const text = pattern.replace(/^\//, '');
    for (let i = 0; i < text.length; i++) {
      if (text.startsWith('**/', i)) {
        source += '(?:.*/)?';
        i += 2;
      } else if (text.startsWith('**', i)) {
        source += '.*';
        i += 1;
      } else if (text[i] === '*') source += '[^/]*';
      else if (text[i] === '?') source += '[^/]';
      else source += text[i]!.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }
    return new RegExp(`^${source}(?:/.*)?$`);
  };
  let included = true;
  for (const pattern of patterns) {
    const negated = pattern.startsWith('!');
    if (toRegExp(negated ? pattern.slice(1) : pattern).test(file)) included = negated;
  }
  return included;
}

// ---- compose -------------------------------------------------------------------------------

/** A compose value with `${NAME:-default}` / `${NAME-default}` resolved to its default. */
function composeValue(value: unknown, variable: string): string {
  const text = String(value);
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}/g, (whole: string, name: string, fallback: string | undefined) => {
    if (fallback === undefined) throw new Error(`${variable}: ${whole} (${name}) has no default, so the file does not run as it is`);
    return fallback;
  });
}

function composeFile() {
  const compose = yamlFile('deploy/compose.yaml');
  const services = obj(compose.services, 'services');
  const dockerfileStages = stages(parseDockerfile(read('deploy/Dockerfile')));
  const gateways = Object.entries(services)
    .map(([name, service]) => [name, obj(service, name)] as const)
    .filter(([, service]) => obj(service.build ?? {}, 'build').dockerfile === 'deploy/Dockerfile');
  const environment = (service: Json, name: string) => {
    const raw = service.environment ?? {};
    const pairs = Array.isArray(raw)
      ? raw.map((entry) => String(entry).split(/=(.*)/s).slice(0, 2))
      : Object.entries(obj(raw, `${name}.environment`));
    return Object.fromEntries(pairs.map(([key, value]) => [String(key), composeValue(value, `${name}: ${key}`)]));
  };
  return { compose, services, gateways, environment, dockerfileStages };
}

// ---- Kubernetes ------------------------------------------------------------------------------

function k8sDocuments(): Map<string, Json> {
  const kustomization = yamlFile('deploy/k8s/kustomization.yaml');
  const documents = new Map<string, Json>();
  for (const file of list(kustomization.resources, 'resources')) {
    const text = read(path.join('deploy/k8s', String(file)));
    for (const document of text.split(/^---$/m)) {
      const parsed = parseYaml(document) as Json | null;
      if (parsed) documents.set(`${parsed.kind}/${obj(parsed.metadata, 'metadata').name}`, parsed);
    }
  }
  return documents;
}

function k8s() {
  const documents = k8sDocuments();
  const byKind = (kind: string) => [...documents.values()].filter((document) => document.kind === kind);
  const statefulSet = byKind('StatefulSet');
  expect(statefulSet).toHaveLength(1);
  const sts = statefulSet[0]!;
  const stsSpec = obj(sts.spec, 'spec');
  const podTemplate = obj(stsSpec.template, 'template');
  const pod = obj(podTemplate.spec, 'pod spec');
  const containers = list(pod.containers, 'containers').map((container) => obj(container, 'container'));
  expect(containers).toHaveLength(1);
  const container = containers[0]!;
  const ports = list(container.ports, 'ports').map((port) => obj(port, 'port'));
  /** A container port given by name or number, as a number. */
  const portNumber = (port: unknown): number => {
    if (typeof port === 'number') return port;
    const named = ports.find((candidate) => candidate.name === port);
    if (!named) throw new Error(`no container port named ${String(port)}`);
    return Number(named.containerPort);
  };
  const configMaps = new Map(byKind('ConfigMap').map((map) => [String(obj(map.metadata, 'metadata').name), obj(map.data ?? {}, 'data')]));
  return { documents, byKind, sts, stsSpec, podTemplate, pod, container, ports, portNumber, configMaps };
}

/**
 * Kubernetes API schema validation that also fails on unknown fields: the compiled validator
 * reads every property its schema knows (and every entry of free-form maps), so a field it
 * never reads is not part of the API (a typo such as `readinesProbe`).
 */
function validateStrict(document: Json, validate: (data: unknown) => boolean): string[] {
  const reads = new WeakMap<object, Set<string>>();
  const proxies = new WeakMap<object, object>();
  const wrap = (value: unknown): unknown => {
    if (typeof value !== 'object' || value === null) return value;
    const cached = proxies.get(value);
    if (cached) return cached;
    reads.set(value, new Set());
    const proxy = new Proxy(value, {
      get(target, key, receiver) {
        if (typeof key === 'string') reads.get(target)!.add(key);
        return wrap(Reflect.get(target, key, receiver));
      },
    });
    proxies.set(value, proxy);
    return proxy;
  };
  const problems: string[] = [];
  const valid = validate(wrap(document));
  if (!valid) {
    for (const error of (validate as unknown as { errors: Array<{ instancePath: string; message?: string; keyword: string; params: unknown }> })
      .errors ?? []) {
      problems.push(`${error.instancePath || '/'} ${error.message ?? error.keyword} ${JSON.stringify(error.params)}`);
    }
  }
  const walk = (value: unknown, at: string) => {
    if (typeof value !== 'object' || value === null) return;
    if (Array.isArray(value)) {
      for (const [index, item] of value.entries()) walk(item, `${at}/${index}`);
      return;
    }
    const seen = reads.get(value) ?? new Set<string>();
    for (const [key, child] of Object.entries(value)) {
      if (!seen.has(key)) problems.push(`${at}/${key}: unknown field`);
      else walk(child, `${at}/${key}`);
    }
  };
  walk(document, '');
  return problems;
}

const VALIDATORS: Record<string, (data: unknown) => boolean> = {
  StatefulSet: validateStatefulSet,
  Service: validateService,
  ConfigMap: validateConfigMap,
  PodDisruptionBudget: validatePdb,
};

/** Kubernetes quantities (`768Mi`, `1536Mi`, `2`, `500m`) in bytes or cores. */
function quantity(value: unknown): number {
  const match = /^(\d+(?:\.\d+)?)(m|Ki|Mi|Gi|Ti|k|M|G)?$/.exec(String(value));
  if (!match) throw new Error(`not a quantity: ${String(value)}`);
  const factor: Record<string, number> = { m: 1e-3, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, k: 1e3, M: 1e6, G: 1e9 };
  return Number(match[1]) * (match[2] ? factor[match[2]]! : 1);
}

// ---- shared facts ------------------------------------------------------------------------------

/**
 * The start script without its Node version check (`node deploy/node-check.cjs … || exit 1;`):
 * the image's Node is the one the check asks for by construction.
 */
const startScript = () =>
  (JSON.parse(read('package.json')) as { scripts: { start: string } }).scripts.start.replace(/^node deploy\/node-check\.cjs [^;]*\|\| exit 1; /, '');
/** The V8 flags of the start script, in MiB: `--max-old-space-size` and `--max-semi-space-size`. */
function heapFlags(): { oldSpaceMb: number; semiSpaceMb: number } {
  const script = startScript();
  const oldSpace = /--max-old-space-size=(\d+)/.exec(script);
  const semiSpace = /--max-semi-space-size=(\d+)/.exec(script);
  expect(oldSpace, 'the start script caps the old space').not.toBeNull();
  return { oldSpaceMb: Number(oldSpace![1]), semiSpaceMb: Number(semiSpace?.[1] ?? 16) };
}

/** Variables the files may set that src/config.ts does not read, each with the reason. */
const NOT_CONFIG: Readonly<Record<string, string>> = {
  POD_NAME: 'the pod name from the downward API, only referenced as $(POD_NAME) in ADVERTISED_URL',
  POD_NAMESPACE: 'the namespace from the downward API, only referenced as $(POD_NAMESPACE) in ADVERTISED_URL',
};

const HEALTH_PATH = '/healthz';
const READY_PATH = '/readyz';

describe('deployment files', () => {
  const variables = configVariables();
  const required = requiredVariables();

  it('finds the variables loadConfig reads and requires', () => {
    expect(variables.size).toBeGreaterThan(20);
    expect([...required]).toEqual(['KAFKA_BROKERS']);
  });

  it('the server answers the health paths the files probe', () => {
    const sources = readdirSync(path.join(ROOT, 'src/server'))
      .filter((file) => file.endsWith('.ts'))
      .map((file) => read(path.join('src/server', file)))
      .join('\n');
    for (const probe of [HEALTH_PATH, READY_PATH]) expect(sources, `src/server handles ${probe}`).toContain(`'${probe}'`);
  });

  describe('deploy/Dockerfile', () => {
    it('passes dockerfile-utils without a diagnostic', () => {
      const { text } = dockerfile();
      expect(lintDockerfile(text).map((d) => `line ${d.range.start.line + 1}: ${d.message}`)).toEqual([]);
      // The linter does find problems (so a clean result means something).
      expect(lintDockerfile('FROM node:24\nEXPOSE abc\nCOPY a\n').length).toBeGreaterThanOrEqual(2);
    });

    it('builds in one stage and runs on node 24 slim in another, with production dependencies only', () => {
      const { stages: all, runtime } = dockerfile();
      expect(all.length).toBeGreaterThanOrEqual(2);
      const build = all[0]!;
      expect(build.from).toMatch(/^node:24(\.|-|$)/);
      const buildRuns = build.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
      expect(buildRuns.some((run) => /\bnpm ci\b/.test(run))).toBe(true);
      expect(buildRuns.some((run) => /npm prune --omit=dev/.test(run))).toBe(true);
      expect(
        buildRuns.some((run) => /require\('@nxtedition\/rocksdb'\)/.test(run)),
        'the build checks the RocksDB binding loads',
      ).toBe(true);
      expect(runtime.from).toMatch(/^node:24(\.\d+)*-bookworm-slim$/);
      const copies = runtime.instructions.filter((i) => i.keyword === 'COPY').map((i) => options(i.args));
      expect(copies.length).toBeGreaterThan(0);
      for (const copy of copies) expect(copy.options.from, 'the runtime stage copies only from the build stage').toBe(build.name);
      const runtimeRuns = runtime.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
      expect(runtimeRuns.some((run) => /apt-get install.*\blibjemalloc2\b/.test(run))).toBe(true);
      expect(
        runtimeRuns.some((run) => /\bnpm (ci|install)\b/.test(run)),
        'no dependency install in the runtime stage',
      ).toBe(false);
    });

    it('starts exactly as npm start does', () => {
      const { one } = dockerfile();
      const entrypoint = JSON.parse(one('ENTRYPOINT')) as string[];
      expect(entrypoint).toEqual(['/bin/sh', '-c', startScript()]);
      expect(startScript()).toMatch(/exec node .*src\/main\.ts$/);
      expect(startScript()).toMatch(/LD_PRELOAD=\$J/);
      // The relative src/main.ts and the default VIEWS_DIR resolve under WORKDIR, where the build
      // stage put src/ and views/.
      expect(one('WORKDIR')).toBe('/app');
      const build = dockerfile().stages[0]!;
      const copied = build.instructions.filter((i) => i.keyword === 'COPY').map((i) => options(i.args).rest.split(/\s+/));
      expect(copied.flatMap((parts) => parts.slice(0, -1))).toEqual(expect.arrayContaining(['package.json', 'package-lock.json', 'src', 'views']));
      expect(loadConfig({ KAFKA_BROKERS: 'k:9092' }).viewsDir.endsWith(`${path.sep}views`)).toBe(true);
      expect(build.instructions.find((i) => i.keyword === 'WORKDIR')?.args).toBe('/app');
    });

    it('sets only variables config.ts reads, with values it accepts; the port, volume and health check agree', () => {
      const { env, one, inRuntime } = dockerfile();
      expect(Object.keys(env).filter((name) => !variables.has(name))).toEqual([]);
      expect(env.HOST).toBe('0.0.0.0');
      const config = loadConfig({ ...env, KAFKA_BROKERS: 'kafka:9092' });
      expect(one('EXPOSE')).toBe(String(config.port));
      expect(config.port).toBe(4000);
      expect(JSON.parse(one('VOLUME').startsWith('[') ? one('VOLUME') : JSON.stringify([one('VOLUME')]))).toEqual([config.dataDir]);
      // The volume's directory is created and handed to the unprivileged user before VOLUME.
      const user = one('USER');
      expect(user).toMatch(/^[1-9]\d*(:\d+)?$/);
      expect(inRuntime('RUN').some((i) => i.args.includes(`chown ${user} ${config.dataDir}`))).toBe(true);
      const healthcheck = options(one('HEALTHCHECK'));
      expect(healthcheck.rest.startsWith('CMD ')).toBe(true);
      const command = JSON.parse(healthcheck.rest.slice(4)) as string[];
      expect(command.join(' ')).toContain(HEALTH_PATH);
      expect(command.join(' ')).toContain('process.env.PORT');
    });

    it('.dockerignore keeps what the image copies and leaves out the rest', () => {
      const patterns = read('.dockerignore')
        .split('\n')
        .map((line) => line.trim())
        .filter((line) => line && !line.startsWith('#'));
      const { stages: all } = dockerfile();
      const sources = all
        .flatMap((stage) => stage.instructions)
        .filter((i) => i.keyword === 'COPY' && !options(i.args).options.from)
        .flatMap((i) => options(i.args).rest.split(/\s+/).slice(0, -1));
      for (const source of sources) {
        expect(existsSync(path.join(ROOT, source)), `${source} exists`).toBe(true);
        expect(inContext(patterns, source), `${source} is in the build context`).toBe(true);
      }
      for (const file of ['src/main.ts', 'src/log.ts', 'views/orders.ts']) expect(inContext(patterns, file), file).toBe(true);
      for (const file of [
        'node_modules/pino/package.json',
        '.git/HEAD',
        '.data/x/CURRENT',
        'test/unit/log.test.ts',
        '.kafka/data',
        'deploy/k8s/pdb.yaml',
      ]) {
        expect(inContext(patterns, file), `${file} stays out`).toBe(false);
      }
    });
  });

  describe('deploy/compose.yaml', () => {
    it('passes dclint (Compose specification schema and its rules) without a message', () => {
      const linter = new DCLinter({
        // The merge key of the shared gateway settings comes first in a service.
        rules: { 'service-keys-order': [2, { groups: { 'Core Definitions': ['<<', 'image', 'build', 'container_name'] } }] },
        quiet: true,
        debug: false,
        exclude: [],
      });
      const results = linter.lintFiles([path.join(ROOT, 'deploy/compose.yaml')], false);
      expect(results).toHaveLength(1);
      expect(results[0]!.messages.map((m: { line: number; rule: string; message: string }) => `${m.line}: ${m.rule} ${m.message}`)).toEqual([]);
    });

    it('runs three gateway instances of one group, each with its own URL and volume', () => {
      const { compose, services, gateways, environment } = composeFile();
      expect(gateways.map(([name]) => name)).toEqual(['gateway-1', 'gateway-2', 'gateway-3']);
      const { env: imageEnv } = dockerfile();
      const declaredVolumes = Object.keys(obj(compose.volumes, 'volumes'));
      const groups = new Set<string>();
      const urls = new Set<string>();
      const volumes = new Set<string>();
      for (const [name, service] of gateways) {
        const env = environment(service, name);
        expect(
          Object.keys(env).filter((variable) => !variables.has(variable)),
          `${name} sets only config variables`,
        ).toEqual([]);
        for (const variable of required) expect(env[variable], `${name} sets ${variable}`).toBeTruthy();
        const config = loadConfig({ ...imageEnv, ...env });
        groups.add(config.groupId);
        expect(config.peerSecret, `${name} has a PEER_SECRET`).toBeDefined();
        const url = new URL(config.advertisedUrl!);
        expect(url.hostname, `${name} advertises its service name`).toBe(name);
        expect(Number(url.port), `${name} advertises its port`).toBe(config.port);
        urls.add(url.origin);
        // KAFKA_BROKERS names the broker service's advertised PLAINTEXT listener.
        for (const broker of config.kafkaBrokers) {
          const [host] = broker.split(':');
          const brokerService = obj(services[host!], `service ${host}`);
          expect(String(obj(brokerService.environment, 'kafka environment').KAFKA_ADVERTISED_LISTENERS)).toContain(`PLAINTEXT://${broker}`);
          expect(obj(obj(service.depends_on, 'depends_on')[host!], 'depends_on').condition).toBe('service_healthy');
        }
        const mounts = list(service.volumes, `${name}.volumes`).map((mount) => String(mount).split(':'));
        const data = mounts.find(([, target]) => target === config.dataDir);
        expect(data, `${name} mounts a volume at DATA_DIR`).toBeDefined();
        expect(declaredVolumes).toContain(data![0]);
        volumes.add(data![0]!);
        expect(service.read_only).toBe(true);
        expect(String(service.stop_grace_period)).toBe(`${terminationGraceSeconds()}s`);
      }
      expect([...groups], 'one GROUP_ID').toHaveLength(1);
      expect(urls.size, 'one ADVERTISED_URL each').toBe(gateways.length);
      expect(volumes.size, 'one volume each').toBe(gateways.length);
    });

    it('puts HAProxy in front of exactly those instances, checked on /readyz, WebSocket-friendly', () => {
      const { services, gateways } = composeFile();
      const haproxy = obj(services.haproxy, 'haproxy');
      const mount = list(haproxy.volumes, 'haproxy.volumes')
        .map(String)
        .find((entry) => entry.includes('haproxy.cfg'));
      expect(mount).toBeDefined();
      const [source, target] = mount!.split(':');
      expect(path.resolve(ROOT, 'deploy', source!)).toBe(path.join(ROOT, 'deploy/compose/haproxy.cfg'));
      expect(target).toBe('/usr/local/etc/haproxy/haproxy.cfg');
      const cfg = read('deploy/compose/haproxy.cfg');
      const servers = [...cfg.matchAll(/^\s*server\s+(\S+)\s+(\S+):(\d+)/gm)].map((m) => ({ name: m[1], host: m[2], port: Number(m[3]) }));
      const port = loadConfig({ ...dockerfile().env, KAFKA_BROKERS: 'k:1' }).port;
      expect(servers).toEqual(gateways.map(([name]) => ({ name, host: name, port })));
      expect(cfg).toMatch(/^\s*option httpchk GET \/readyz$/m);
      expect(cfg).toMatch(/^\s*http-check expect status 200$/m);
      expect(cfg).toMatch(/^\s*timeout tunnel \d+[smh]$/m);
      expect(cfg).toMatch(/^\s*bind :(\d+)$/m);
      const bound = Number(/^\s*bind :(\d+)$/m.exec(cfg)![1]);
      expect(list(haproxy.ports, 'haproxy.ports').map(String)).toContain(`127.0.0.1:${bound}:${bound}`);
      // The same timeouts and checks as the local cluster's template.
      const template = read('deploy/cluster/haproxy.cfg.template');
      for (const setting of ['timeout tunnel', 'timeout client ', 'timeout server ', 'option httpchk', 'option redispatch', 'retry-on']) {
        const line = (text: string) =>
          text
            .split('\n')
            .find((candidate) => candidate.trim().startsWith(setting))
            ?.trim();
        expect(line(cfg), setting).toBe(line(template));
      }
    });

    it('HAProxy accepts the config (haproxy -c), where HAProxy is installed', (context) => {
      const haproxy = process.env.HAPROXY_BIN ?? '/usr/sbin/haproxy';
      if (!existsSync(haproxy)) context.skip();
      let output: string;
      try {
        output = execFileSync(haproxy, ['-c', '-f', path.join(ROOT, 'deploy/compose/haproxy.cfg')], {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'pipe'],
        });
      } catch (error) {
        throw new Error(`haproxy -c failed: ${String((error as { stderr?: string }).stderr ?? error)}`);
      }
      expect(output).toContain('Configuration file is valid');
    });

    it('runs a single-node KRaft broker with listeners for the compose network', () => {
      const { services } = composeFile();
      const kafka = obj(services.kafka, 'kafka');
      expect(String(kafka.image)).toMatch(/^apache\/kafka:\d+\.\d+\.\d+$/);
      // The version the local launcher pins.
      const pinned = /<kafka\.version>([^<]+)</.exec(read('deploy/kafka/pom.xml'))![1];
      expect(String(kafka.image)).toBe(`apache/kafka:${pinned}`);
      const env = obj(kafka.environment, 'kafka.environment');
      expect(String(env.KAFKA_PROCESS_ROLES).split(',').sort()).toEqual(['broker', 'controller']);
      expect(String(env.KAFKA_CONTROLLER_QUORUM_VOTERS)).toBe(`${env.KAFKA_NODE_ID}@kafka:9093`);
      const listeners = Object.fromEntries(
        String(env.KAFKA_LISTENERS)
          .split(',')
          .map((entry) => entry.split('://')),
      );
      const protocols = Object.fromEntries(
        String(env.KAFKA_LISTENER_SECURITY_PROTOCOL_MAP)
          .split(',')
          .map((entry) => entry.split(':')),
      );
      for (const name of Object.keys(listeners)) expect(protocols[name!], `${name} has a protocol`).toBeDefined();
      expect(listeners[String(env.KAFKA_CONTROLLER_LISTENER_NAMES)]).toBe(':9093');
      for (const advertised of String(env.KAFKA_ADVERTISED_LISTENERS).split(',')) {
        const [name, address] = advertised.split('://');
        expect(listeners[name!], `advertised ${name} is a listener`).toBe(`:${address!.split(':')[1]}`);
      }
      expect(Number(env.KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR)).toBe(1);
      const mounts = list(kafka.volumes, 'kafka.volumes').map(String);
      expect(mounts).toContain(`kafka-data:${env.KAFKA_LOG_DIRS}`);
    });
  });

  describe('deploy/k8s', () => {
    it('lists every manifest in kustomization.yaml, and each is a valid Kubernetes object (unknown fields fail)', () => {
      const files = readdirSync(path.join(ROOT, 'deploy/k8s')).filter((file) => /\.ya?ml$/.test(file) && file !== 'kustomization.yaml');
      const kustomization = yamlFile('deploy/k8s/kustomization.yaml');
      expect(kustomization.kind).toBe('Kustomization');
      expect(list(kustomization.resources, 'resources').map(String).sort()).toEqual(files.sort());
      const { documents } = k8s();
      expect([...documents.keys()].sort()).toEqual(
        ['ConfigMap/gateway-config', 'PodDisruptionBudget/gateway', 'Service/gateway', 'Service/gateway-peers', 'StatefulSet/gateway'].sort(),
      );
      for (const [name, document] of documents) {
        const validate = VALIDATORS[String(document.kind)];
        expect(validate, `a validator for ${name}`).toBeDefined();
        expect(validateStrict(document, validate!), name).toEqual([]);
      }
      // The strict validation does fail on a misspelled field and on a wrong type.
      const broken = structuredClone(k8s().sts) as Json;
      const container = obj(list(obj(obj(obj(broken.spec, 'spec').template, 'template').spec, 'spec').containers, 'c')[0], 'container');
      container.readinesProbe = container.readinessProbe;
      obj(broken.spec, 'spec').replicas = 'three';
      const problems = validateStrict(broken, validateStatefulSet);
      expect(problems.some((problem) => problem.includes('readinesProbe: unknown field'))).toBe(true);
      expect(problems.some((problem) => problem.includes('/spec/replicas'))).toBe(true);
    });

    it('sets only variables config.ts reads, every one it requires, with values it accepts', () => {
      const { container, configMaps } = k8s();
      const envFrom = list(container.envFrom ?? [], 'envFrom').map((entry) => obj(obj(entry, 'envFrom').configMapRef, 'configMapRef').name);
      const fromMaps: Record<string, string> = {};
      for (const name of envFrom) {
        const data = configMaps.get(String(name));
        expect(data, `ConfigMap ${String(name)} is in the manifests`).toBeDefined();
        for (const [key, value] of Object.entries(data!)) {
          expect(typeof value, `${key} is a string in the ConfigMap`).toBe('string');
          fromMaps[key] = String(value);
        }
      }
      const env = list(container.env, 'env').map((entry) => obj(entry, 'env'));
      const names = [...Object.keys(fromMaps), ...env.map((entry) => String(entry.name))];
      expect(names.filter((name) => !variables.has(name) && !Object.hasOwn(NOT_CONFIG, name)).sort(), 'not read by src/config.ts').toEqual([]);
      for (const name of required) expect(names, `sets ${name}`).toContain(name);
      // Resolve as the kubelet would for pod gateway-0 in namespace ns1, secrets with samples.
      const resolved: Record<string, string> = { ...fromMaps };
      const secrets: string[] = [];
      for (const entry of env) {
        const name = String(entry.name);
        if (entry.value !== undefined) {
          resolved[name] = String(entry.value).replace(/\$\(([A-Z_][A-Z0-9_]*)\)/g, (_whole: string, ref: string) => {
            if (resolved[ref] === undefined) throw new Error(`${name} refers to ${ref}, which is not defined before it`);
            return resolved[ref];
          });
          continue;
        }
        const from = obj(entry.valueFrom, `${name}.valueFrom`);
        if (from.fieldRef) {
          const field = obj(from.fieldRef, 'fieldRef').fieldPath;
          resolved[name] = field === 'metadata.name' ? 'gateway-0' : field === 'metadata.namespace' ? 'ns1' : `(${String(field)})`;
        } else if (from.secretKeyRef) {
          const ref = obj(from.secretKeyRef, 'secretKeyRef');
          secrets.push(`${name}<-${String(ref.name)}/${String(ref.key)}${ref.optional ? '?' : ''}`);
          resolved[name] = 's'.repeat(40);
        }
      }
      for (const helper of Object.keys(NOT_CONFIG)) {
        if (!names.includes(helper)) continue;
        const users = env.filter((entry) => String(entry.value ?? '').includes(`$(${helper})`));
        expect(users.length, `${helper} is used`).toBeGreaterThan(0);
      }
      expect(secrets).toEqual(['PEER_SECRET<-gateway-secrets/PEER_SECRET', 'CLIENT_JWT_SECRET<-gateway-secrets/CLIENT_JWT_SECRET?']);
      expect(
        Object.keys(fromMaps).filter((key) => /SECRET|PASSWORD|TOKEN/.test(key)),
        'no secret in the ConfigMap',
      ).toEqual([]);
      const config = loadConfig({ ...dockerfile().env, ...resolved });
      expect(config.advertisedUrl).toBe(`http://gateway-0.gateway-peers.ns1.svc.cluster.local:${config.port}`);
      expect(config.host).toBe('0.0.0.0');
      expect(config.peerSecret).toBeDefined();
      expect(config.dataDir).toBe(dockerfile().env.DATA_DIR);
    });

    it('agrees on the port everywhere: PORT, EXPOSE, container port, probes, services, ADVERTISED_URL', () => {
      const { container, ports, portNumber, byKind, configMaps, pod } = k8s();
      const port = loadConfig({ ...dockerfile().env, ...configMaps.get('gateway-config')! } as Record<string, string>).port;
      expect(String(dockerfile().one('EXPOSE'))).toBe(String(port));
      expect(ports.map((p) => Number(p.containerPort))).toEqual([port]);
      for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
        const httpGet = obj(obj(container[probe], probe).httpGet, `${probe}.httpGet`);
        expect(portNumber(httpGet.port), `${probe} port`).toBe(port);
      }
      for (const service of byKind('Service')) {
        for (const servicePort of list(obj(service.spec, 'spec').ports, 'ports').map((p) => obj(p, 'port'))) {
          expect(portNumber(servicePort.targetPort), `${String(obj(service.metadata, 'm').name)} targetPort`).toBe(port);
          expect(Number(servicePort.port)).toBe(port);
        }
      }
      const advertised = list(container.env, 'env')
        .map((entry) => obj(entry, 'env'))
        .find((entry) => entry.name === 'ADVERTISED_URL');
      expect(String(advertised?.value)).toMatch(new RegExp(`:${port}$`));
      expect(pod.enableServiceLinks, 'no service variables (they would collide with names like KAFKA_PORT)').toBe(false);
    });

    it('probes /healthz for liveness and /readyz for readiness, with a startup allowance for a restore', () => {
      const { container } = k8s();
      const probe = (name: string) => obj(container[name], name);
      const pathOf = (name: string) => obj(probe(name).httpGet, 'httpGet').path;
      expect(pathOf('livenessProbe')).toBe(HEALTH_PATH);
      expect(pathOf('readinessProbe')).toBe(READY_PATH);
      expect(pathOf('startupProbe')).toBe(READY_PATH);
      const startup = probe('startupProbe');
      const allowanceSeconds = Number(startup.periodSeconds) * Number(startup.failureThreshold);
      // A restore from an empty volume of 2.07M records (1M orders) took 110 s in the bench; allow
      // at least 30 times that.
      expect(allowanceSeconds).toBeGreaterThanOrEqual(3300);
      expect(Number(probe('livenessProbe').timeoutSeconds)).toBeGreaterThanOrEqual(2);
    });

    it('runs a StatefulSet of 3 behind its headless service, a volume per pod at DATA_DIR, and a PDB of 1', () => {
      const { sts, stsSpec, podTemplate, pod, container, byKind, configMaps } = k8s();
      const labels = obj(obj(podTemplate.metadata, 'metadata').labels, 'labels');
      const selects = (selector: unknown) => Object.entries(obj(selector, 'selector')).every(([key, value]) => labels[key] === value);
      expect(stsSpec.replicas).toBe(3);
      expect(selects(obj(stsSpec.selector, 'selector').matchLabels)).toBe(true);
      const services = byKind('Service');
      const headless = services.find((service) => obj(service.metadata, 'm').name === stsSpec.serviceName);
      expect(headless, 'serviceName is a Service of the manifests').toBeDefined();
      expect(obj(headless!.spec, 'spec').clusterIP).toBe('None');
      expect(obj(headless!.spec, 'spec').publishNotReadyAddresses, 'peers reach a pod that restores a partition').toBe(true);
      const advertised = String(
        list(container.env, 'env')
          .map((entry) => obj(entry, 'env'))
          .find((entry) => entry.name === 'ADVERTISED_URL')?.value,
      );
      expect(advertised).toContain(`.${String(stsSpec.serviceName)}.`);
      for (const service of services)
        expect(selects(obj(service.spec, 'spec').selector), `${String(obj(service.metadata, 'm').name)} selects the pods`).toBe(true);
      const client = services.filter((service) => obj(service.spec, 'spec').clusterIP !== 'None');
      expect(client).toHaveLength(1);
      const [pdb] = byKind('PodDisruptionBudget');
      expect(obj(pdb!.spec, 'spec').maxUnavailable).toBe(1);
      expect(selects(obj(obj(pdb!.spec, 'spec').selector, 'selector').matchLabels)).toBe(true);
      // One claim per pod, mounted at DATA_DIR.
      const claims = list(stsSpec.volumeClaimTemplates, 'volumeClaimTemplates').map((claim) => obj(claim, 'claim'));
      expect(claims).toHaveLength(1);
      const claimName = obj(claims[0]!.metadata, 'metadata').name;
      const dataDir = configMaps.get('gateway-config')!.DATA_DIR ?? dockerfile().env.DATA_DIR;
      const mounts = list(container.volumeMounts, 'volumeMounts').map((mount) => obj(mount, 'mount'));
      expect(mounts.find((mount) => mount.name === claimName)?.mountPath).toBe(dataDir);
      expect(quantity(obj(obj(obj(claims[0]!.spec, 'spec').resources, 'r').requests, 'requests').storage)).toBeGreaterThanOrEqual(4 * 2 ** 30);
      expect(String(obj(sts.metadata, 'm').name)).toBe('gateway');
      // Every other volume mount is declared by the pod.
      const podVolumes = list(pod.volumes ?? [], 'volumes').map((volume) => obj(volume, 'volume').name);
      for (const mount of mounts.filter((m) => m.name !== claimName)) expect(podVolumes).toContain(mount.name);
    });

    it('runs as the image user, not root, on a read-only root filesystem, and stops within its grace period', () => {
      const { pod, container } = k8s();
      const [uid, gid] = dockerfile().one('USER').split(':').map(Number);
      const podSecurity = obj(pod.securityContext, 'securityContext');
      expect(podSecurity.runAsNonRoot).toBe(true);
      expect(podSecurity.runAsUser).toBe(uid);
      expect(podSecurity.fsGroup, 'the volume is writable by the user').toBe(gid ?? uid);
      const security = obj(container.securityContext, 'container securityContext');
      expect(security.readOnlyRootFilesystem).toBe(true);
      expect(security.allowPrivilegeEscalation).toBe(false);
      expect(list(obj(security.capabilities, 'capabilities').drop, 'drop')).toEqual(['ALL']);
      // /tmp is the only other writable place.
      const mounts = list(container.volumeMounts, 'volumeMounts').map((mount) => String(obj(mount, 'mount').mountPath));
      expect(mounts).toContain('/tmp');
      // The stop (HTTP, the consumer leaving the group, the store) gets more than the default 30 s.
      expect(Number(pod.terminationGracePeriodSeconds)).toBe(terminationGraceSeconds());
      expect(terminationGraceSeconds()).toBeGreaterThan(30);
    });

    it('requests and limits resources sized from the benchmarks and the heap flags', () => {
      const { container, configMaps } = k8s();
      const resources = obj(container.resources, 'resources');
      const requests = obj(resources.requests, 'requests');
      const limits = obj(resources.limits, 'limits');
      const MiB = 2 ** 20;
      const { oldSpaceMb, semiSpaceMb } = heapFlags();
      const config = loadConfig({ ...dockerfile().env, ...configMaps.get('gateway-config')! } as Record<string, string>);
      // Above the V8 heap cap (old space plus three semi-spaces) and RocksDB's caches, so the
      // heap's own limit is reached before the container's.
      expect(quantity(limits.memory)).toBeGreaterThan((oldSpaceMb + 3 * semiSpaceMb + config.storeCacheMb + config.storeMemtableMb) * MiB);
      // At least the RSS a catch-up of 1M orders reaches (BENCHMARKS.md: 353 to 392 MB).
      expect(quantity(requests.memory)).toBeGreaterThanOrEqual(400e6);
      expect(quantity(requests.memory)).toBeLessThanOrEqual(quantity(limits.memory));
      expect(quantity(requests.cpu)).toBeGreaterThanOrEqual(1);
      expect(quantity(limits.cpu)).toBeGreaterThanOrEqual(quantity(requests.cpu));
    });
  });
});

/** The StatefulSet's terminationGracePeriodSeconds, which compose's stop_grace_period matches. */
function terminationGraceSeconds(): number {
  return Number(k8s().pod.terminationGracePeriodSeconds);
}
