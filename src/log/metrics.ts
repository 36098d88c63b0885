import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Prometheus metrics of one process, served at GET /metrics. */
export class Metrics {
  readonly registry = new Registry();
  readonly httpRequests = new Counter({
    name: 'gantry_http_requests_total',
    help: 'HTTP requests by dialect and status class',
    labelNames: ['dialect', 'code'] as const,
    registers: [this.registry],
  });
  readonly httpDuration = new Histogram({
    name: 'gantry_http_request_seconds',
    help: 'HTTP request latency',
    labelNames: ['dialect'] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [this.registry],
  });

  readonly reconcileSteps = new Counter({
    name: 'gantry_reconcile_steps_total',
    help: 'Reconciler steps by kind (none = observation only)',
    labelNames: ['step'] as const,
    registers: [this.registry],
  });
  readonly hostSweeps = new Counter({
    name: 'gantry_host_sweeps_total',
    help: 'Hosts whose workloads the sweep compared with their instances (swept), or whose agent did not answer (failed)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly billingPasses = new Histogram({
    name: 'gantry_billing_pass_seconds',
    help: 'Billing passes (every open meter settled, balances checked) by outcome, and how long each took',
    labelNames: ['outcome'] as const,
    buckets: [0.01, 0.1, 1, 5, 15, 30, 60, 120],
    registers: [this.registry],
  });
  readonly instanceTransitions = new Counter({
    name: 'gantry_instance_transitions_total',
    help: 'Observed instance status changes by new status',
    labelNames: ['to'] as const,
    registers: [this.registry],
  });

  readonly serverlessRequests = new Counter({
    name: 'gantry_serverless_requests_total',
    help: 'Proxied serverless requests by outcome (ok; CALLER_LEFT: the caller left before it was sent; or the error code)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly serverlessQueueWait = new Histogram({
    name: 'gantry_serverless_queue_wait_seconds',
    help: 'Time a proxied request waited for a worker',
    buckets: [0.001, 0.01, 0.1, 0.5, 1, 5, 15, 60],
    registers: [this.registry],
  });
  readonly serverlessRoutes = new Counter({
    name: 'gantry_serverless_routes_total',
    help: '/route/ answers: with a worker, or without (none ready)',
    labelNames: ['worker'] as const,
    registers: [this.registry],
  });
  readonly modelUploadBodies = new Gauge({
    name: 'gantry_model_upload_bodies',
    help: 'Large trained-model definition-part and vocabulary bodies being read (held: within modelUploadConcurrency) or waiting for their turn',
    labelNames: ['state'] as const,
    registers: [this.registry],
  });

  constructor(opts: { defaults?: boolean } = {}) {
    if (opts.defaults !== false) collectDefaultMetrics({ register: this.registry });
  }
}
