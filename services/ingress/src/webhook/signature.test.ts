import { signatureHeader, verifySignature } from './signature.ts';

// The test vector of shared/reference/meta-platform.md §1b (computed with Python's hmac and openssl).
const body = Buffer.from('{"object":"page","entry":[{"id":"111","time":1700000000000,"messaging":[{"sender":{"id":"222"},"recipient":{"id":"111"},"timestamp":1700000000000,"message":{"mid":"m_abc","text":"hi"}}]}]}');
const vector = 'sha256=73d0cb4b059dde4d52209725bad4dadb8468534b198acc817403fc6fe355697c';

describe('webhook signature', () => {
  it('accepts the reference vector', () => {
    expect(body.length).toBe(188);
    expect(signatureHeader(body, 'test_app_secret')).toBe(vector);
    expect(verifySignature(body, vector, ['test_app_secret'])).toBe('valid');
  });

  it('accepts any of several secrets during a rotation, and upper-case hex', () => {
    expect(verifySignature(body, vector, ['new_secret', 'test_app_secret'])).toBe('valid');
    expect(verifySignature(body, vector.toUpperCase().replace('SHA256=', 'sha256='), ['test_app_secret'])).toBe('valid');
  });

  it('names what is wrong: missing, malformed, or not matching', () => {
    expect(verifySignature(body, undefined, ['test_app_secret'])).toBe('missing');
    expect(verifySignature(body, '', ['test_app_secret'])).toBe('missing');
    expect(verifySignature(body, 'sha1=bf472404a82ea66089874a4c787d8a1190febf91', ['test_app_secret'])).toBe('malformed');
    expect(verifySignature(body, 'sha256=xyz', ['test_app_secret'])).toBe('malformed');
    expect(verifySignature(body, vector, ['another_secret'])).toBe('mismatch');
  });

  it('checks the exact bytes: re-serialized JSON or one changed byte does not match', () => {
    const reserialized = Buffer.from(JSON.stringify(JSON.parse(body.toString()), null, 1));
    expect(verifySignature(reserialized, vector, ['test_app_secret'])).toBe('mismatch');
    const tampered = Buffer.from(body);
    tampered[body.length - 5] = 'x'.charCodeAt(0);
    expect(verifySignature(tampered, vector, ['test_app_secret'])).toBe('mismatch');
  });
});
