// Public API of @parley/fernet: Fernet tokens (spec-conformant, node:crypto only) and a key ring for rotation.
export { FernetError, createKeyring, fernetDecrypt, fernetEncrypt, generateFernetKey } from './fernet.ts';
export type { FernetDecryptOptions, FernetEncryptOptions, FernetErrorReason, FernetKeyring } from './fernet.ts';
