/**
 * A Prometheus metric whose samples are computed when scraped (from Postgres or Redis) instead of counted
 * in this process. prom-client's registry renders any object with name, help, type and an async get();
 * its own Counter and Histogram classes can only be incremented, which does not fit values read elsewhere.
 */
import type { Metric, Registry } from 'prom-client';

export interface Sample {
  labels?: Record<string, string | number>;
  value: number;
  /** For histograms: "_bucket", "_sum" or "_count" after the metric name. */
  suffix?: '_bucket' | '_sum' | '_count';
}

export class SnapshotMetric {
  readonly aggregator = 'sum';

  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'gauge' | 'histogram',
    private readonly samples: () => Promise<Sample[]>,
  ) {}

  async get() {
    const samples = await this.samples();
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values: samples.map((s) => ({
        labels: s.labels ?? {},
        value: s.value,
        ...(s.suffix ? { metricName: `${this.name}${s.suffix}` } : {}),
      })),
    };
  }

  registerIn(registry: Registry): this {
    // The registry's type admits only its own classes, though it only ever calls get() and reads name.
    registry.registerMetric(this as unknown as Metric);
    return this;
  }
}
