using MoeRuntime.Telemetry.Catalogue;
using MoeRuntime.Telemetry.Collection;
using MoeRuntime.Telemetry.Summaries;

namespace MoeRuntime.Telemetry.Tests;

public class SummaryCodecTests
{
    private static RankSummary BusySummary()
    {
        var clock = new ManualClock(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));
        var collector = new RankCollector(new RankCollectorOptions
        {
            RankId = "rank-3",
            Model = "tiny-moe",
            Layers = 4,
            Experts = 8,
            Costs = new CostRates { PromptUsdPer1kTokens = 0.0015, HotUsdPerGbHour = 1 },
            Clock = clock,
        });
        var random = new Random(5);
        collector.Counter(MoeMetrics.RequestsTotal, "stream", "success", "none").Add(17);
        collector.Counter(MoeMetrics.TokensTotal, "prompt").Add(4_321);
        collector.Gauge(MoeMetrics.TierMemoryBytes, "hot").Set(3.5e9);
        collector.Gauge(MoeMetrics.ActiveStreams, "stream").Set(4);
        var ttft = collector.Histogram(MoeMetrics.TimeToFirstTokenSeconds, "stream");
        var batch = collector.Histogram(MoeMetrics.BatchSize);
        for (var i = 0; i < 500; i++)
        {
            ttft.Record(Math.Exp(-3 + random.NextDouble() * 3));
            batch.Record(random.Next(1, 40));
            collector.RecordExpertHits(random.Next(4), random.Next(8));
            collector.RecordTierAccess(random.Next(4), (StorageTier)random.Next(3), random.Next(1_000_000));
            collector.RecordRoutingDigest((ulong)random.NextInt64(), random.Next(4), i, (ulong)random.NextInt64());
        }
        ttft.Record(0);
        collector.RecordExpertCompute(1, 2, 12_345);
        collector.RecordLayerCompute(3, 99_999);
        clock.Now = clock.Now.AddSeconds(1);
        return collector.CollectSummary();
    }

    [Fact]
    public void ARoundTripIsBitExact()
    {
        var summary = BusySummary();
        var bytes = SummaryCodec.Encode(summary);
        var decoded = SummaryCodec.Decode(bytes);

        Assert.Equal(bytes, SummaryCodec.Encode(decoded));
        Assert.Equal((summary.RankId, summary.Model, summary.Sequence), (decoded.RankId, decoded.Model, decoded.Sequence));
        Assert.Equal((summary.IntervalStart, summary.IntervalEnd), (decoded.IntervalStart, decoded.IntervalEnd));
        Assert.Equal(summary.Counters.Select(c => (c.Metric, string.Join(',', c.Labels), c.Delta)),
            decoded.Counters.Select(c => (c.Metric, string.Join(',', c.Labels), c.Delta)));
        Assert.Equal(summary.Gauges.Select(g => g.Value), decoded.Gauges.Select(g => g.Value));
        Assert.Equal(summary.RoutingDigests, decoded.RoutingDigests);
        Assert.True(summary.ExpertHits.Cells.SequenceEqual(decoded.ExpertHits.Cells));
        Assert.True(summary.TierFetchNanoseconds.Cells.SequenceEqual(decoded.TierFetchNanoseconds.Cells));
        foreach (var (original, copy) in summary.Sketches.Zip(decoded.Sketches))
        {
            Assert.True(original.Sketch.Buckets.SequenceEqual(copy.Sketch.Buckets));
            Assert.Equal((original.Sketch.Count, original.Sketch.ZeroCount, original.Sketch.Sum, original.Sketch.Min, original.Sketch.Max),
                (copy.Sketch.Count, copy.Sketch.ZeroCount, copy.Sketch.Sum, copy.Sketch.Min, copy.Sketch.Max));
            Assert.Equal(original.Sketch.Quantile(0.99), copy.Sketch.Quantile(0.99));
        }
        Assert.Equal(summary.Sketches.Count, decoded.Sketches.Count);
    }

    [Fact]
    public void AnotherSchemaVersionIsRefused()
    {
        var bytes = SummaryCodec.Encode(BusySummary());
        bytes[3] = 2; // array16 header (3 bytes), then the version as a positive fixint
        var error = Assert.Throws<SummaryFormatException>(() => SummaryCodec.Decode(bytes));
        Assert.Contains("version 2", error.Message);
        Assert.Equal(SummaryProblem.Version, error.Problem);
    }

    [Fact]
    public void OversizedInputIsRefusedBeforeReading()
    {
        var bytes = SummaryCodec.Encode(BusySummary());
        var limits = new SummaryCodecLimits { MaxBytes = bytes.Length - 1 };
        Assert.Equal(SummaryProblem.Oversized, Assert.Throws<SummaryFormatException>(() => SummaryCodec.Decode(bytes, limits)).Problem);
        Assert.Equal(SummaryProblem.Oversized, Assert.Throws<SummaryFormatException>(() => SummaryCodec.Encode(BusySummary(), limits)).Problem);
        Assert.Equal(SummaryProblem.Oversized,
            Assert.Throws<SummaryFormatException>(() => SummaryCodec.Encode(BusySummary(), new SummaryCodecLimits { MaxDigests = 10 })).Problem);
        // Past the byte limit, a section longer than its own limit is oversized too.
        Assert.Equal(SummaryProblem.Oversized,
            Assert.Throws<SummaryFormatException>(() => SummaryCodec.Decode(bytes, new SummaryCodecLimits { MaxDigests = 10 })).Problem);
    }

    [Fact]
    public void EveryTruncationIsRefused()
    {
        var bytes = SummaryCodec.Encode(BusySummary());
        for (var length = 0; length < bytes.Length; length++)
            Assert.Throws<SummaryFormatException>(() => SummaryCodec.Decode(bytes.AsMemory(0, length)));
    }

    [Fact]
    public void TrailingBytesAreRefused()
    {
        var bytes = SummaryCodec.Encode(BusySummary());
        Assert.Equal(SummaryProblem.Malformed, Assert.Throws<SummaryFormatException>(() => SummaryCodec.Decode(bytes.Append((byte)0xC0).ToArray())).Problem);
    }

    [Fact]
    public void AnInflatedArrayLengthIsRefusedWithoutAllocatingIt()
    {
        // [1, …] with the counters section claiming 2^31 − 1 entries.
        byte[] hostile = [0xDC, 0x00, 0x11, 0x01, 0xA1, (byte)'r', 0xA1, (byte)'m', 0x01, 0x00, 0x00, 0x01, 0xDD, 0x7F, 0xFF, 0xFF, 0xFF];
        var before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Throws<SummaryFormatException>(() => SummaryCodec.Decode(hostile));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20);
    }

    [Fact]
    public void UnknownMetricsAndLabelValuesAreRefused()
    {
        var summary = BusySummary();
        var bytes = SummaryCodec.Encode(summary);
        var text = System.Text.Encoding.ASCII.GetString(bytes);
        foreach (var (from, to) in new[] { ("moe_requests_total", "moe_requests_tota1"), ("stream", "strean") })
        {
            var at = text.IndexOf(from, StringComparison.Ordinal);
            var mutated = (byte[])bytes.Clone();
            System.Text.Encoding.ASCII.GetBytes(to).CopyTo(mutated, at);
            Assert.Throws<SummaryFormatException>(() => SummaryCodec.Decode(mutated));
        }
    }

    [Fact]
    public void FuzzedInputGivesOnlySummaryFormatExceptionOrASummary()
    {
        var random = new Random(20260301);
        var valid = SummaryCodec.Encode(BusySummary());
        var small = SummaryCodec.Encode(EmptySummary());
        var (accepted, refused) = (0, 0);

        for (var round = 0; round < 6_000; round++)
        {
            var input = (round % 6) switch
            {
                0 => RandomBytes(random),
                1 => FlipBits(random, random.Next(2) == 0 ? valid : small),
                2 => random.Next(2) == 0 ? valid[..random.Next(valid.Length)] : small[..random.Next(small.Length)],
                3 => InflateLength(random, random.Next(2) == 0 ? valid : small),
                4 => Splice(random, valid, small),
                _ => FlipBits(random, small),
            };
            try
            {
                SummaryCodec.Decode(input);
                accepted++;
            }
            catch (SummaryFormatException)
            {
                refused++;
            }
        }
        // Some mutations (a flipped bit in a digest or a count) are still valid summaries: the fuzzing reaches past the header.
        Assert.True(refused > 3_000 && accepted > 0, $"{refused} refused, {accepted} accepted");
    }

    private static RankSummary EmptySummary() => new RankCollector(new RankCollectorOptions
    {
        RankId = "r",
        Model = "m",
        Layers = 2,
        Experts = 2,
        Clock = new ManualClock(DateTimeOffset.UnixEpoch),
    }).CollectSummary();

    private static byte[] RandomBytes(Random random)
    {
        var bytes = new byte[random.Next(0, 256)];
        random.NextBytes(bytes);
        if (bytes.Length > 2 && random.Next(2) == 0) (bytes[0], bytes[1]) = (0xDC, 0x00); // look like a summary array
        return bytes;
    }

    private static byte[] FlipBits(Random random, byte[] source)
    {
        var bytes = (byte[])source.Clone();
        for (var flips = random.Next(1, 8); flips > 0; flips--)
            bytes[random.Next(bytes.Length)] ^= (byte)(1 << random.Next(8));
        return bytes;
    }

    // Overwrites a byte with a 32-bit length prefix (array, map, str, bin) claiming a huge length.
    private static byte[] InflateLength(Random random, byte[] source)
    {
        var bytes = (byte[])source.Clone();
        var at = random.Next(Math.Max(1, bytes.Length - 5));
        bytes[at] = new byte[] { 0xDD, 0xDF, 0xDB, 0xC6 }[random.Next(4)];
        for (var i = 1; i <= 4 && at + i < bytes.Length; i++) bytes[at + i] = i == 1 ? (byte)random.Next(0x01, 0x80) : (byte)0xFF;
        return bytes;
    }

    private static byte[] Splice(Random random, byte[] first, byte[] second)
    {
        var cut = random.Next(first.Length);
        return [.. first.AsSpan(0, cut), .. second.AsSpan(random.Next(second.Length))];
    }
}
