import preset from '../../jest.preset.js';
export default { ...preset, displayName: 'conversation-projection', rootDir: import.meta.dirname };
