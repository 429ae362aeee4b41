import preset from '../../jest.preset.js';
export default { ...preset, displayName: 'graph-api', rootDir: import.meta.dirname };
