import preset from '../../jest.preset.js';
export default { ...preset, displayName: 'fernet', rootDir: import.meta.dirname };
