/** Package entry: embed Gantry in a program (tests and benchmarks do). */
export { startGantry, openStore, type RunningGantry, type UpOptions } from './up.js';
export { loadConfig, workloadBaseEnv } from '../config/load.js';
export { buildApp } from '../api/app.js';
