using MoeRuntime.Telemetry.Collection;
using MoeRuntime.Telemetry.Summaries;

namespace MoeRuntime.Telemetry.Tests.Aggregation;

/// <summary>A rank as the aggregation tests drive it: its own collector and clock, and summaries shipped the way the agent ships them.</summary>
internal sealed class SimulatedRank
{
    public const int Layers = 4;
    public const int Experts = 8;
    public static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public SimulatedRank(string rankId, DateTimeOffset? start = null)
    {
        Clock = new ManualClock(start ?? Start);
        Collector = new RankCollector(new RankCollectorOptions
        {
            RankId = rankId,
            Model = "tiny-moe",
            Layers = Layers,
            Experts = Experts,
            Clock = Clock,
        });
    }

    public ManualClock Clock { get; }
    public RankCollector Collector { get; }

    /// <summary>Moves the clock on and collects the interval, encoded and decoded as an aggregator receives it.</summary>
    public RankSummary Report(TimeSpan after)
    {
        Clock.Now += after;
        return Ship(Collector.CollectSummary());
    }

    /// <summary>Through the wire codec and back: what an aggregator actually merges.</summary>
    public static RankSummary Ship(RankSummary summary) => SummaryCodec.Decode(SummaryCodec.Encode(summary));
}
