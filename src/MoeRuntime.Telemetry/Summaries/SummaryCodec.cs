using System.Buffers;
using System.Text;
using MessagePack;
using MoeRuntime.Telemetry.Catalogue;
using MoeRuntime.Telemetry.Collection;
using MoeRuntime.Telemetry.Sketches;

namespace MoeRuntime.Telemetry.Summaries;

/// <summary>
/// Writes and reads <see cref="RankSummary"/> as MessagePack, field by field, with an explicit schema
/// version first. No resolver, no type names on the wire: the decoder reads exactly the shapes of
/// the schema, treats its input as untrusted, and turns every defect into a
/// <see cref="SummaryFormatException"/>.
/// </summary>
/// <remarks>
/// Schema 1 is one array: version, rank id, model, sequence, interval start and end (UTC ticks),
/// sample-every-N, counters, gauges, sketches, six matrices (expert hits, expert compute ns, layer
/// compute ns, tier hits, tier misses, tier fetch ns) and the routing digests. A series is
/// [metric name, [label values], value]; a sketch is [name, [labels], α, min value, max value, zero
/// count, underflow, overflow, sum, min, max, first bucket offset, [bucket counts]]; a matrix is
/// [rows, columns, [cells]]; the digests are one flat array of (request hash, layer, position, digest).
/// </remarks>
public static class SummaryCodec
{
    /// <summary>The schema this codec writes and the only one it reads.</summary>
    public const int SchemaVersion = 1;

    private const int FieldCount = 17;
    private const int SketchFieldCount = 13;
    private const int DigestFieldCount = 4;

    /// <summary>Encodes a summary.</summary>
    /// <exception cref="SummaryFormatException">The summary exceeds a limit the decoder enforces (sections, <see cref="SummaryCodecLimits.MaxBytes"/>).</exception>
    public static byte[] Encode(RankSummary summary, SummaryCodecLimits? limits = null)
    {
        limits ??= SummaryCodecLimits.Default;
        // Refuse on the rank, loudly, what every aggregator would refuse.
        if (Math.Max(summary.Counters.Count, summary.Gauges.Count) > limits.MaxSeries
            || summary.Sketches.Count > limits.MaxSketches
            || summary.RoutingDigests.Count > limits.MaxDigests)
            throw new SummaryFormatException("The summary has more series, sketches or digests than the codec's limits allow.", SummaryProblem.Oversized);
        var buffer = new ArrayBufferWriter<byte>(4096);
        var writer = new MessagePackWriter(buffer);
        writer.WriteArrayHeader(FieldCount);
        writer.Write(SchemaVersion);
        writer.Write(summary.RankId);
        writer.Write(summary.Model);
        writer.Write(summary.Sequence);
        writer.Write(summary.IntervalStart.UtcTicks);
        writer.Write(summary.IntervalEnd.UtcTicks);
        writer.Write(summary.SampleEveryNTokens);

        writer.WriteArrayHeader(summary.Counters.Count);
        foreach (var c in summary.Counters) WriteScalar(ref writer, c.Metric, c.Labels, c.Delta);
        writer.WriteArrayHeader(summary.Gauges.Count);
        foreach (var g in summary.Gauges) WriteScalar(ref writer, g.Metric, g.Labels, g.Value);
        writer.WriteArrayHeader(summary.Sketches.Count);
        foreach (var s in summary.Sketches) WriteSketch(ref writer, s);

        WriteMatrix(ref writer, summary.ExpertHits);
        WriteMatrix(ref writer, summary.ExpertComputeNanoseconds);
        WriteMatrix(ref writer, summary.LayerComputeNanoseconds);
        WriteMatrix(ref writer, summary.TierHits);
        WriteMatrix(ref writer, summary.TierMisses);
        WriteMatrix(ref writer, summary.TierFetchNanoseconds);

        writer.WriteArrayHeader(summary.RoutingDigests.Count * DigestFieldCount);
        foreach (var d in summary.RoutingDigests)
        {
            writer.Write(d.RequestHash);
            writer.Write(d.Layer);
            writer.Write(d.TokenPosition);
            writer.Write(d.Digest);
        }
        writer.Flush();

        if (buffer.WrittenCount > limits.MaxBytes)
            throw new SummaryFormatException($"The summary encodes to {buffer.WrittenCount} bytes; the limit is {limits.MaxBytes}.", SummaryProblem.Oversized);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Decodes untrusted bytes into a summary.</summary>
    /// <exception cref="SummaryFormatException">Anything wrong with the bytes: the only exception for bad input.</exception>
    public static RankSummary Decode(ReadOnlyMemory<byte> bytes, SummaryCodecLimits? limits = null)
    {
        limits ??= SummaryCodecLimits.Default;
        if (bytes.Length > limits.MaxBytes)
            throw new SummaryFormatException($"The summary has {bytes.Length} bytes; the limit is {limits.MaxBytes}.", SummaryProblem.Oversized);
        try
        {
            var reader = new MessagePackReader(bytes);
            var summary = new Decoder(limits).Read(ref reader);
            if (!reader.End) throw new SummaryFormatException("Trailing bytes after the summary.");
            return summary;
        }
        catch (MessagePackSerializationException e)
        {
            throw new SummaryFormatException($"Malformed summary: {e.Message}", e);
        }
        catch (EndOfStreamException e)
        {
            throw new SummaryFormatException("Truncated summary.", e);
        }
        catch (OverflowException e)
        {
            throw new SummaryFormatException($"A number in the summary is out of range: {e.Message}", e);
        }
    }

    private static void WriteScalar(ref MessagePackWriter writer, MetricDefinition metric, IReadOnlyList<string> labels, double value)
    {
        writer.WriteArrayHeader(3);
        writer.Write(metric.Name);
        WriteLabels(ref writer, labels);
        writer.Write(value);
    }

    private static void WriteSketch(ref MessagePackWriter writer, SketchDelta delta)
    {
        var sketch = delta.Sketch;
        var buckets = sketch.Buckets;
        var first = buckets.IndexOfAnyExcept(0L);
        var used = first < 0 ? ReadOnlySpan<long>.Empty : buckets[first..(buckets.LastIndexOfAnyExcept(0L) + 1)];

        writer.WriteArrayHeader(SketchFieldCount);
        writer.Write(delta.Metric.Name);
        WriteLabels(ref writer, delta.Labels);
        writer.Write(sketch.Layout.RelativeAccuracy);
        writer.Write(sketch.Layout.MinValue);
        writer.Write(sketch.Layout.MaxValue);
        writer.Write(sketch.ZeroCount);
        writer.Write(sketch.UnderflowCount);
        writer.Write(sketch.OverflowCount);
        writer.Write(sketch.Sum);
        writer.Write(sketch.Min);
        writer.Write(sketch.Max);
        writer.Write(Math.Max(first, 0));
        writer.WriteArrayHeader(used.Length);
        foreach (var count in used) writer.Write(count);
    }

    private static void WriteLabels(ref MessagePackWriter writer, IReadOnlyList<string> labels)
    {
        writer.WriteArrayHeader(labels.Count);
        foreach (var label in labels) writer.Write(label);
    }

    private static void WriteMatrix(ref MessagePackWriter writer, CountMatrix matrix)
    {
        writer.WriteArrayHeader(3);
        writer.Write(matrix.Rows);
        writer.Write(matrix.Columns);
        writer.WriteArrayHeader(matrix.Cells.Length);
        foreach (var cell in matrix.Cells) writer.Write(cell);
    }

    /// <summary>Reads schema 1, checking every length against the limits and the bytes left before allocating.</summary>
    private sealed class Decoder(SummaryCodecLimits limits)
    {
        public RankSummary Read(ref MessagePackReader reader)
        {
            if (reader.NextMessagePackType != MessagePackType.Array) throw Fail("A summary is an array.");
            var fields = reader.ReadArrayHeader();
            if (fields < 1 || reader.NextMessagePackType != MessagePackType.Integer) throw Fail("The summary does not start with a schema version.");
            var version = reader.ReadInt64();
            if (version != SchemaVersion) throw new SummaryFormatException($"Unsupported summary schema version {version}; this codec reads {SchemaVersion}.", SummaryProblem.Version);
            if (fields != FieldCount) throw Fail($"Schema {SchemaVersion} has {FieldCount} fields, not {fields}.");

            var rankId = ReadString(ref reader, "rank id");
            var model = ReadString(ref reader, "model");
            var sequence = ReadNonNegative(ref reader, "sequence");
            var start = ReadTimestamp(ref reader);
            var end = ReadTimestamp(ref reader);
            if (end < start) throw Fail("The interval ends before it starts.");
            var sampleEvery = reader.ReadInt32();
            if (sampleEvery < 1) throw Fail("Sample-every-N must be at least 1.");

            var counters = ReadScalars(ref reader, MetricKind.Counter, (m, l, v) => new CounterDelta(m, l, v));
            var gauges = ReadScalars(ref reader, MetricKind.Gauge, (m, l, v) => new GaugeValue(m, l, v));
            var sketches = ReadSketches(ref reader);

            var expertHits = ReadMatrix(ref reader, "expert hits");
            var (layers, experts) = (expertHits.Rows, expertHits.Columns);
            if (layers < 1 || experts < 1) throw Fail("The expert matrix is empty.");
            var expertCompute = ReadMatrix(ref reader, "expert compute", layers, experts);
            var layerCompute = ReadMatrix(ref reader, "layer compute", 1, layers);
            var tierHits = ReadMatrix(ref reader, "tier hits", StorageTiers.Count, layers);
            var tierMisses = ReadMatrix(ref reader, "tier misses", StorageTiers.Count, layers);
            var tierFetch = ReadMatrix(ref reader, "tier fetch", StorageTiers.Count, layers);
            var digests = ReadDigests(ref reader, layers);

            return new RankSummary
            {
                RankId = rankId,
                Model = model,
                Sequence = sequence,
                IntervalStart = start,
                IntervalEnd = end,
                SampleEveryNTokens = sampleEvery,
                Counters = counters,
                Gauges = gauges,
                Sketches = sketches,
                ExpertHits = expertHits,
                ExpertComputeNanoseconds = expertCompute,
                LayerComputeNanoseconds = layerCompute,
                TierHits = tierHits,
                TierMisses = tierMisses,
                TierFetchNanoseconds = tierFetch,
                RoutingDigests = digests,
            };
        }

        private List<T> ReadScalars<T>(ref MessagePackReader reader, MetricKind kind, Func<MetricDefinition, string[], double, T> create)
        {
            var count = ReadArrayLength(ref reader, limits.MaxSeries, minBytesPerItem: 4, $"{kind} series");
            var items = new List<T>(count);
            for (var i = 0; i < count; i++)
            {
                if (reader.ReadArrayHeader() != 3) throw Fail($"A {kind} series has 3 fields.");
                var (metric, labels) = ReadSeries(ref reader, kind);
                var value = reader.ReadDouble();
                if (!double.IsFinite(value)) throw Fail($"{metric.Name} has a value that is not finite.");
                if (kind == MetricKind.Counter && value < 0) throw Fail($"Counter {metric.Name} went down.");
                items.Add(create(metric, labels, value));
            }
            return items;
        }

        private List<SketchDelta> ReadSketches(ref MessagePackReader reader)
        {
            var count = ReadArrayLength(ref reader, limits.MaxSketches, minBytesPerItem: 16, "sketches");
            var items = new List<SketchDelta>(count);
            for (var i = 0; i < count; i++)
            {
                if (reader.ReadArrayHeader() != SketchFieldCount) throw Fail($"A sketch has {SketchFieldCount} fields.");
                var (metric, labels) = ReadSeries(ref reader, MetricKind.Histogram);
                var layout = ReadLayout(ref reader, metric);
                var zero = ReadNonNegative(ref reader, "zero count");
                var underflow = ReadNonNegative(ref reader, "underflow count");
                var overflow = ReadNonNegative(ref reader, "overflow count");
                var sum = reader.ReadDouble();
                var min = reader.ReadDouble();
                var max = reader.ReadDouble();
                if (double.IsNaN(sum) || double.IsNaN(min) || double.IsNaN(max)) throw Fail($"{metric.Name}: sum, min or max is NaN.");
                var first = reader.ReadInt32();
                if ((uint)first > (uint)layout.BucketCount) throw Fail($"{metric.Name}: bucket offset {first} is outside the layout.");
                var length = ReadArrayLength(ref reader, layout.BucketCount - first, minBytesPerItem: 1, "sketch buckets");
                var counts = new long[length];
                for (var b = 0; b < length; b++) counts[b] = ReadNonNegative(ref reader, "bucket count");

                var sketch = RelativeErrorSketch.FromParts(layout, zero, underflow, overflow, sum, min, max, first, counts);
                if (double.IsFinite(min) && double.IsFinite(max) && min > max) throw Fail($"{metric.Name}: min exceeds max.");
                items.Add(new SketchDelta(metric, labels, sketch));
            }
            return items;
        }

        private SketchLayout ReadLayout(ref MessagePackReader reader, MetricDefinition metric)
        {
            var alpha = reader.ReadDouble();
            var min = reader.ReadDouble();
            var max = reader.ReadDouble();
            foreach (var layout in limits.SketchLayouts)
            {
                if (layout.RelativeAccuracy.Equals(alpha) && layout.MinValue.Equals(min) && layout.MaxValue.Equals(max)) return layout;
            }
            throw Fail($"{metric.Name}: sketch layout α={alpha} over [{min}, {max}] is not one this decoder accepts.");
        }

        private (MetricDefinition Metric, string[] Labels) ReadSeries(ref MessagePackReader reader, MetricKind kind)
        {
            var name = ReadString(ref reader, "metric name");
            if (!MoeMetrics.TryGet(name, out var metric)) throw Fail($"Unknown metric '{name}'.");
            if (metric.Kind != kind) throw Fail($"{name} is a {metric.Kind}, found among {kind} series.");
            if (metric.Source is not (MetricSource.Series or MetricSource.Computed)) throw Fail($"{name} is not reported as a series by ranks.");
            var count = ReadArrayLength(ref reader, metric.Labels.Count, minBytesPerItem: 1, "labels");
            if (count != metric.Labels.Count) throw Fail($"{name} has {metric.Labels.Count} labels, not {count}.");
            var labels = new string[count];
            for (var i = 0; i < count; i++)
            {
                labels[i] = ReadString(ref reader, "label value");
                if (!metric.Labels[i].Accepts(labels[i])) throw Fail($"{name}: '{labels[i]}' is not a value of label {metric.Labels[i].Name}.");
            }
            return (metric, labels);
        }

        private CountMatrix ReadMatrix(ref MessagePackReader reader, string what, int? rows = null, int? columns = null)
        {
            if (reader.ReadArrayHeader() != 3) throw Fail($"The {what} matrix has 3 fields.");
            var r = reader.ReadInt32();
            var c = reader.ReadInt32();
            if (r < 0 || c < 0 || (long)r * c > limits.MaxMatrixCells) throw new SummaryFormatException($"The {what} matrix is {r} × {c}, over the limit.", SummaryProblem.Oversized);
            if (rows is { } expectedRows && r != expectedRows || columns is { } expectedColumns && c != expectedColumns)
                throw Fail($"The {what} matrix is {r} × {c}, not {rows} × {columns}.");
            var length = ReadArrayLength(ref reader, r * c, minBytesPerItem: 1, $"{what} cells");
            if (length != r * c) throw Fail($"The {what} matrix has {length} cells, not {r * c}.");
            var cells = new long[length];
            for (var i = 0; i < length; i++) cells[i] = ReadNonNegative(ref reader, $"{what} cell");
            return new CountMatrix(r, c, cells);
        }

        private List<RoutingDigestRecord> ReadDigests(ref MessagePackReader reader, int layers)
        {
            var fields = ReadArrayLength(ref reader, limits.MaxDigests * DigestFieldCount, minBytesPerItem: 1, "digest fields");
            if (fields % DigestFieldCount != 0) throw Fail("Routing digests come in fours.");
            var digests = new List<RoutingDigestRecord>(fields / DigestFieldCount);
            for (var i = 0; i < fields; i += DigestFieldCount)
            {
                var request = reader.ReadUInt64();
                var layer = reader.ReadInt32();
                var position = reader.ReadInt32();
                var digest = reader.ReadUInt64();
                if ((uint)layer >= (uint)layers || position < 0) throw Fail($"Routing digest at layer {layer}, position {position} is out of range.");
                digests.Add(new RoutingDigestRecord(request, layer, position, digest));
            }
            return digests;
        }

        private int ReadArrayLength(ref MessagePackReader reader, int max, int minBytesPerItem, string what)
        {
            var length = reader.ReadArrayHeader();
            if (length > max) throw new SummaryFormatException($"{length} {what}; the limit is {max}.", SummaryProblem.Oversized);
            var left = reader.Sequence.Length - reader.Consumed;
            if ((long)length * minBytesPerItem > left) throw Fail($"{length} {what} cannot fit in the {left} bytes left.");
            return length;
        }

        private string ReadString(ref MessagePackReader reader, string what)
        {
            var bytes = reader.ReadStringSequence() ?? throw Fail($"The {what} is nil.");
            if (bytes.Length == 0 || bytes.Length > limits.MaxStringBytes)
                throw new SummaryFormatException($"The {what} has {bytes.Length} bytes; 1 … {limits.MaxStringBytes} allowed.",
                    bytes.Length == 0 ? SummaryProblem.Malformed : SummaryProblem.Oversized);
            return Encoding.UTF8.GetString(bytes);
        }

        private static long ReadNonNegative(ref MessagePackReader reader, string what)
        {
            var value = reader.ReadInt64();
            return value >= 0 ? value : throw Fail($"The {what} is negative.");
        }

        private static DateTimeOffset ReadTimestamp(ref MessagePackReader reader)
        {
            var ticks = reader.ReadInt64();
            if (ticks < DateTimeOffset.MinValue.UtcTicks || ticks > DateTimeOffset.MaxValue.UtcTicks) throw Fail("A timestamp is out of range.");
            return new DateTimeOffset(ticks, TimeSpan.Zero);
        }

        private static SummaryFormatException Fail(string message) => new(message);
    }
}
