using MoeRuntime.Telemetry.Catalogue;
using MoeRuntime.Telemetry.Sketches;

namespace MoeRuntime.Telemetry.Summaries;

/// <summary>How much a counter series grew during a summary's interval.</summary>
/// <param name="Metric">The catalogue entry.</param>
/// <param name="Labels">Values of the metric's labels, in catalogue order (model and rank are the summary's).</param>
/// <param name="Delta">Increase over the interval (integral for recorded counters; dollars for cost estimates).</param>
public sealed record CounterDelta(MetricDefinition Metric, IReadOnlyList<string> Labels, double Delta);

/// <summary>A gauge series' value at the end of a summary's interval.</summary>
/// <param name="Metric">The catalogue entry.</param>
/// <param name="Labels">Values of the metric's labels, in catalogue order.</param>
/// <param name="Value">The last value set.</param>
public sealed record GaugeValue(MetricDefinition Metric, IReadOnlyList<string> Labels, double Value);

/// <summary>The values a distribution series received during a summary's interval.</summary>
/// <param name="Metric">The catalogue entry.</param>
/// <param name="Labels">Values of the metric's labels, in catalogue order.</param>
/// <param name="Sketch">Only this interval's values; merge deltas to widen the window.</param>
public sealed record SketchDelta(MetricDefinition Metric, IReadOnlyList<string> Labels, RelativeErrorSketch Sketch);
