import preset from '../../jest.preset.js';
export default { ...preset, displayName: 'local-stack', rootDir: import.meta.dirname };
