import { encodeMetaJson, signMetaPayload, signMetaPayloadSha1 } from './signature.ts';

// Test vector from shared/reference/meta-platform.md §1b (computed with Python's hmac and openssl).
const VECTOR_SECRET = 'test_app_secret';
const VECTOR_BODY =
  '{"object":"page","entry":[{"id":"111","time":1700000000000,"messaging":[{"sender":{"id":"222"},"recipient":{"id":"111"},"timestamp":1700000000000,"message":{"mid":"m_abc","text":"hi"}}]}]}';

describe('signMetaPayload', () => {
  it('matches the reference test vector', () => {
    expect(Buffer.byteLength(VECTOR_BODY)).toBe(188);
    expect(signMetaPayload(VECTOR_BODY, VECTOR_SECRET)).toBe('sha256=73d0cb4b059dde4d52209725bad4dadb8468534b198acc817403fc6fe355697c');
    expect(signMetaPayloadSha1(VECTOR_BODY, VECTOR_SECRET)).toBe('sha1=bf472404a82ea66089874a4c787d8a1190febf91');
  });

  it('signs bytes and strings alike and changes with one byte of the body', () => {
    expect(signMetaPayload(Buffer.from(VECTOR_BODY), VECTOR_SECRET)).toBe(signMetaPayload(VECTOR_BODY, VECTOR_SECRET));
    expect(signMetaPayload(VECTOR_BODY.replace('hi', 'ho'), VECTOR_SECRET)).not.toBe(signMetaPayload(VECTOR_BODY, VECTOR_SECRET));
  });
});

describe('encodeMetaJson', () => {
  it('reproduces the vector body byte for byte from its object', () => {
    expect(encodeMetaJson(JSON.parse(VECTOR_BODY))).toBe(VECTOR_BODY);
  });

  it('escapes non-ASCII as lowercase \\uXXXX (astral characters as surrogate pairs) and / as \\/', () => {
    const body = encodeMetaJson({ text: 'Grüße ❤️ 😀', url: 'https://cdn/x.png' });
    expect(body).toBe('{"text":"Gr\\u00fc\\u00dfe \\u2764\\ufe0f \\ud83d\\ude00","url":"https:\\/\\/cdn\\/x.png"}');
    expect(/^[\x20-\x7e]*$/.test(body)).toBe(true);
    expect(JSON.parse(body)).toEqual({ text: 'Grüße ❤️ 😀', url: 'https://cdn/x.png' });
  });

  it('can leave slashes alone', () => {
    expect(encodeMetaJson({ u: 'a/b' }, { escapeSlashes: false })).toBe('{"u":"a/b"}');
  });
});
