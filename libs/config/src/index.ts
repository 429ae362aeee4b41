export { ConfigError, loadConfig, loadConfigOrExit, env } from './config.ts';
