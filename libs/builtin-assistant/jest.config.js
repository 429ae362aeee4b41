import preset from '../../jest.preset.js';
export default { ...preset, displayName: 'builtin-assistant', rootDir: import.meta.dirname };
