import preset from '../../jest.preset.js';
export default { ...preset, displayName: 'outbound-sender', rootDir: import.meta.dirname };
