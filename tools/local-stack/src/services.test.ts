import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { POSTGRES_IMAGE } from './docker.ts';
import { KAFKA_IMAGE, KAFKA_VERSION } from './kafka.ts';
import { findRepoRoot } from './paths.ts';
import { DEV_SECRETS, nodeOptionsFor, processEnvironment, SERVICES, sharedEnvironment, SIMULATOR, withPortOffset } from './services.ts';

const rootDir = findRepoRoot();
/** CONTRACTS.md, "Configuration every deployment sets". */
const CONTRACT_VARIABLES = [
  'KAFKA_BROKERS',
  'DATABASE_URL',
  'META_APP_ID',
  'META_APP_SECRET',
  'META_VERIFY_TOKEN',
  'GRAPH_API_BASE_URL',
  'GRAPH_API_VERSION',
  'FACEBOOK_DIALOG_URL',
  'TOKEN_ENCRYPTION_KEYS',
  'API_KEYS',
];
/** What the local stack gives every service (its dev defaults); deployments must set the same. */
const localVariables = Object.keys(sharedEnvironment({ kafkaBrokers: ['k:1'], databaseUrl: 'postgres://x' })).filter((name) => name !== 'NODE_ENV');

describe('the local stack environment', () => {
  it('gives every service all of CONTRACTS.md variables, pointing Meta at the simulator', () => {
    const shared = sharedEnvironment({ kafkaBrokers: ['127.0.0.1:9092'], databaseUrl: 'postgres://u:p@127.0.0.1:55432/postgres' });
    for (const name of CONTRACT_VARIABLES) expect(shared[name]).toBeTruthy();
    expect(shared['GRAPH_API_BASE_URL']).toBe('http://127.0.0.1:3900');
    expect(shared['FACEBOOK_DIALOG_URL']).toBe('http://127.0.0.1:3900/{version}/dialog/oauth');
    expect(shared['API_KEYS']).toBe('acme:dev-key');
    // A Fernet key is 32 bytes in URL-safe base64.
    expect(Buffer.from(DEV_SECRETS.TOKEN_ENCRYPTION_KEYS, 'base64url')).toHaveLength(32);
  });

  it('lets the simulator deliver webhooks to ingress, and gives each process its own port', () => {
    const { simulator, services } = withPortOffset(10_000);
    const ingress = services.find((service) => service.name === 'ingress');
    const shared = sharedEnvironment({ kafkaBrokers: ['k:1'], databaseUrl: 'postgres://x', simulatorPort: simulator.port });
    const simulatorEnv = processEnvironment(simulator, shared, { ingressPort: ingress?.port ?? 0 });
    expect(simulatorEnv['WEBHOOK_URL']).toBe('http://127.0.0.1:13001/webhooks/messenger');
    expect(simulatorEnv['PORT']).toBe('13900');
    expect(shared['GRAPH_API_BASE_URL']).toBe('http://127.0.0.1:13900');
    const ports = [simulator, ...services].map((definition) => definition.port);
    expect(new Set(ports).size).toBe(ports.length);
  });
});

type ComposeService = { image?: string; command?: string[]; environment?: Record<string, unknown>; ports?: string[] };

describe('docker-compose.yml agrees with the local stack', () => {
  const compose = parse(readFileSync(path.join(rootDir, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, ComposeService> };

  it('runs the same Kafka and PostgreSQL versions', () => {
    expect(compose.services['kafka']?.image).toBe(KAFKA_IMAGE);
    expect(compose.services['postgres']?.image).toBe(POSTGRES_IMAGE);
  });

  it.each(SERVICES.map((service) => [service.name, service] as const))('runs %s on its port with every variable', (name, service) => {
    const entry = compose.services[name];
    expect(entry?.environment?.['SERVICE']).toBe(name);
    expect(String(entry?.environment?.['PORT'])).toBe(String(service.port));
    expect(entry?.ports).toContain(`${service.port}:${service.port}`);
    for (const variable of localVariables) expect(Object.keys(entry?.environment ?? {})).toContain(variable);
    expect(entry?.environment?.['NODE_OPTIONS']).toBe(nodeOptionsFor(service).join(' '));
  });

  it('runs the simulator from its own entrypoint, delivering webhooks to ingress', () => {
    const simulator = compose.services[SIMULATOR.name];
    expect(simulator?.command).toEqual(['node', SIMULATOR.entry]);
    expect(simulator?.ports).toContain(`${SIMULATOR.port}:${SIMULATOR.port}`);
    expect(simulator?.environment?.['WEBHOOK_URL']).toBe('http://ingress:3001/webhooks/messenger');
  });
});

type Manifest = { kind: string; metadata: { name: string }; spec: Record<string, unknown> };
type Container = {
  env?: { name: string; value?: string }[];
  envFrom?: ({ configMapRef?: { name: string }; secretRef?: { name: string } })[];
  ports?: { containerPort: number }[];
  readinessProbe?: { httpGet?: { path: string } };
  livenessProbe?: { httpGet?: { path: string } };
  resources?: { requests?: unknown; limits?: unknown };
};

describe('deploy/ (Kubernetes) agrees with the local stack', () => {
  const deployDir = path.join(rootDir, 'deploy');
  const files = readdirSync(deployDir).filter((name) => name.endsWith('.yaml') && name !== 'kustomization.yaml');
  const manifests: Manifest[] = files.flatMap((file) =>
    parseAllDocuments(readFileSync(path.join(deployDir, file), 'utf8')).map((document) => document.toJS() as Manifest),
  );
  const find = (kind: string, name: string) => manifests.find((manifest) => manifest.kind === kind && manifest.metadata.name === name);

  it('lists every manifest in kustomization.yaml', () => {
    const kustomization = parse(readFileSync(path.join(deployDir, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
    expect([...kustomization.resources].sort()).toEqual([...files].sort());
  });

  it('sets every CONTRACTS.md variable, and the ones the services add, in the ConfigMap or the Secret', () => {
    const config = find('ConfigMap', 'parley-config') as unknown as { data: Record<string, string> };
    const secret = find('Secret', 'parley-secrets') as unknown as { stringData: Record<string, string> };
    const names = new Set([...Object.keys(config.data), ...Object.keys(secret.stringData)]);
    for (const variable of [...CONTRACT_VARIABLES, ...localVariables]) expect(names).toContain(variable);
    // Nothing secret in the ConfigMap.
    for (const secretName of Object.keys(DEV_SECRETS).filter((name) => name !== 'META_APP_ID')) expect(Object.keys(config.data)).not.toContain(secretName);
  });

  it.each(SERVICES.map((service) => [service.name, service] as const))('deploys %s with its port, probes, resources and configuration', (name, service) => {
    const deployment = find('Deployment', name);
    const container = (deployment?.spec as { template: { spec: { containers: Container[] } } }).template.spec.containers[0];
    expect(container?.env).toEqual(
      expect.arrayContaining([
        { name: 'SERVICE', value: name },
        { name: 'PORT', value: String(service.port) },
        { name: 'NODE_OPTIONS', value: nodeOptionsFor(service).join(' ') },
      ]),
    );
    expect(container?.ports?.[0]?.containerPort).toBe(service.port);
    expect(container?.readinessProbe?.httpGet?.path).toBe('/readyz');
    expect(container?.livenessProbe?.httpGet?.path).toBe('/healthz');
    expect(container?.resources?.requests).toBeDefined();
    expect(container?.resources?.limits).toBeDefined();
    expect(container?.envFrom).toEqual([{ configMapRef: { name: 'parley-config' } }, { secretRef: { name: 'parley-secrets' } }]);
    const k8sService = find('Service', name) as unknown as { spec: { ports: { port: number }[] } };
    expect(k8sService.spec.ports[0]?.port).toBe(service.port);
  });
});

describe('the Kafka version', () => {
  it('is the same in the Maven pom the local broker is fetched with', () => {
    const pom = readFileSync(path.join(rootDir, 'tools', 'local-stack', 'kafka', 'pom.xml'), 'utf8');
    expect(pom).toContain(`<artifactId>kafka_2.13</artifactId>\n      <version>${KAFKA_VERSION}</version>`);
  });
});
