import preset from '../../jest.preset.js';

export default { ...preset, displayName: 'ingress', rootDir: import.meta.dirname };
