export { GantryApiError, GantryClient, type ClientOptions, type CreateInstanceBody, type InstanceState, type Row } from './client.js';
