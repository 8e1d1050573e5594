using Microsoft.Extensions.Logging;

namespace MoeRuntime.Control.Loop;

static partial class TierControlLog
{
    [LoggerMessage(1, LogLevel.Warning, "Tier controllers of {Model}: interval {Tick} failed")]
    public static partial void IntervalFailed(ILogger logger, string model, long tick, Exception exception);

    [LoggerMessage(2, LogLevel.Warning, "Tier controllers of {Model}: rank {Rank} skipped this interval")]
    public static partial void RankSkipped(ILogger logger, string model, int rank, Exception exception);

    [LoggerMessage(3, LogLevel.Information, "Tier controller {Controller} of {Model} rank {Rank}: not written ({Reason}); next interval plans afresh")]
    public static partial void NotWritten(ILogger logger, string controller, string model, int rank, string reason);

    [LoggerMessage(4, LogLevel.Information, "Tier controllers of {Model}: demand half-life {From} → {To} intervals ({Reason})")]
    public static partial void DemandHalfLifeSwitched(ILogger logger, string model, double from, double to, string reason);
}
