import preset from '../../jest.preset.js';
export default { ...preset, displayName: 'auth-token', rootDir: import.meta.dirname };
