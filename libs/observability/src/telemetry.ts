import { NodeSDK } from '@opentelemetry/sdk-node';

export type Telemetry = { shutdown(): Promise<void> };

/**
 * Starts OpenTelemetry tracing for the process. Spans are exported over OTLP when
 * `OTEL_EXPORTER_OTLP_ENDPOINT` is set (the SDK reads the standard OTEL_* variables); without it,
 * tracing still propagates context across HTTP and Kafka hops but exports nothing.
 */
export function startTelemetry(service: string, env: NodeJS.ProcessEnv = process.env): Telemetry {
  const exporting = Boolean(env['OTEL_EXPORTER_OTLP_ENDPOINT'] || env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']);
  const sdk = new NodeSDK({
    serviceName: service,
    // Only export when a collector is configured; otherwise keep spans in-process.
    ...(exporting ? {} : { traceExporter: undefined, spanProcessors: [] }),
    instrumentations: [],
  });
  sdk.start();
  return { shutdown: () => sdk.shutdown() };
}
