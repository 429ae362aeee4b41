import preset from '../../jest.preset.js';
export default { ...preset, displayName: 'rules', rootDir: import.meta.dirname };
