import { createHash } from 'node:crypto';
// Conformance with the Fernet spec's test vectors. The copies in src/vectors keep the repository
// self-contained; when shared/ sits beside the repository (as for developers and CI) the copies must
// equal the shared fixtures, and a missing shared folder is a failure, not a skip.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { FernetError, createKeyring, fernetDecrypt, fernetEncrypt } from './index.ts';
import type { FernetErrorReason } from './index.ts';

interface GenerateVector { token: string; now: string; iv: number[]; src: string; secret: string }
interface VerifyVector { token: string; now: string; ttl_sec: number; src: string; secret: string }
interface InvalidVector { desc: string; token: string; now: string; ttl_sec: number; secret: string }

const VECTOR_FILES = ['generate.json', 'verify.json', 'invalid.json'] as const;
const copiesDir = join(__dirname, 'vectors');

function findRepositoryRoot(): string {
  for (const start of [__dirname, process.cwd()]) {
    let dir = resolve(start);
    for (;;) {
      if (existsSync(join(dir, 'nx.json'))) return dir;
      const parent = dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
  }
  throw new Error(`No nx.json above ${__dirname} or ${process.cwd()}: cannot locate the repository root`);
}

const sharedDir = join(findRepositoryRoot(), '..', 'shared', 'fixtures', 'fernet');

function load<T>(dir: string, file: string): T[] {
  return JSON.parse(readFileSync(join(dir, file), 'utf8')) as T[];
}

// Why each invalid vector fails; a new vector without an entry here fails the suite on purpose.
const EXPECTED_REASON: Record<string, FernetErrorReason> = {
  'incorrect mac': 'bad_signature',
  'too short': 'invalid_token',
  'invalid base64': 'invalid_token',
  'payload size not multiple of block size': 'invalid_token',
  'payload padding error': 'bad_padding',
  'far-future TS (unacceptable clock skew)': 'future_timestamp',
  'expired TTL': 'expired',
  'incorrect IV (causes padding error)': 'bad_padding',
  'trailing characters after b64 padding': 'invalid_token',
  'invalid characters in b64': 'invalid_token',
  'invalid non-urlsafe characters in b64': 'invalid_token',
};

function rejectionReason(run: () => unknown): FernetErrorReason | 'accepted' {
  try {
    run();
    return 'accepted';
  } catch (error) {
    if (error instanceof FernetError) return error.reason;
    throw error;
  }
}

function describeVectors(label: string, dir: () => string): void {
  describe(`Fernet spec vectors (${label})`, () => {
    it('generate.json: encryption reproduces every token exactly', () => {
      const vectors = load<GenerateVector>(dir(), 'generate.json');
      expect(vectors.length).toBeGreaterThan(0);
      for (const v of vectors) {
        expect(fernetEncrypt(v.secret, v.src, { now: new Date(v.now), iv: Buffer.from(v.iv) })).toBe(v.token);
      }
    });

    it('verify.json: decryption within the TTL gives the source', () => {
      const vectors = load<VerifyVector>(dir(), 'verify.json');
      expect(vectors.length).toBeGreaterThan(0);
      for (const v of vectors) {
        const plaintext = fernetDecrypt(v.secret, v.token, { ttlSeconds: v.ttl_sec, now: new Date(v.now) });
        expect(plaintext.toString('utf8')).toBe(v.src);
        const ring = createKeyring([v.secret]);
        expect(ring.decrypt(v.token, { ttlSeconds: v.ttl_sec, now: new Date(v.now) }).toString('utf8')).toBe(v.src);
      }
    });

    it('invalid.json: every token is rejected, each for its documented reason', () => {
      const vectors = load<InvalidVector>(dir(), 'invalid.json');
      expect(vectors).toHaveLength(11);
      const reasons = vectors.map((v) => ({
        desc: v.desc,
        reason: rejectionReason(() => fernetDecrypt(v.secret, v.token, { ttlSeconds: v.ttl_sec, now: new Date(v.now) })),
      }));
      expect(reasons).toEqual(vectors.map((v) => ({ desc: v.desc, reason: EXPECTED_REASON[v.desc] ?? 'unmapped vector' })));
    });
  });
}

describeVectors('repository copies', () => copiesDir);

// The copies are the spec repository's files byte for byte (fernet/spec @ 0250c594, as in
// shared/fixtures/fernet). The hashes pin them, so a copy edited by mistake fails here even where
// shared/ is not beside the repository; where it is, the copies are also compared with it.
const SPEC_SHA256: Record<string, string> = {
  'generate.json': 'b4b18aec84cb721e72229c147c169eb8f76e47827a58914b7b3ffae644889844',
  'invalid.json': '96c0ee8e63611fb4772b03915bf0bae59830b5f00330a2820f335136e40066b7',
  'verify.json': '489184ab9c6965e15aca47993ec5b156f488e70ca780c5634239d5498ec5cf65',
};

describe('repository copies of the vectors', () => {
  it.each(VECTOR_FILES)('%s is the spec repository\'s file, unaltered', (file) => {
    const copy = readFileSync(join(copiesDir, file));
    expect(createHash('sha256').update(copy).digest('hex')).toBe(SPEC_SHA256[file]);
    if (existsSync(sharedDir)) expect(copy.equals(readFileSync(join(sharedDir, file)))).toBe(true);
  });
});
