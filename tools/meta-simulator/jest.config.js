import preset from '../../jest.preset.js';
export default { ...preset, displayName: 'meta-simulator', rootDir: import.meta.dirname };
