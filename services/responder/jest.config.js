import preset from '../../jest.preset.js';
export default { ...preset, displayName: 'responder', rootDir: import.meta.dirname };
