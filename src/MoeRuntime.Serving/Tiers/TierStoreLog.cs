using Microsoft.Extensions.Logging;

namespace MoeRuntime.Serving.Tiers;

static partial class TierStoreLog
{
    [LoggerMessage(1, LogLevel.Debug, "Registered expert {Expert} in tier {Tier} ({HotBytes} hot bytes, {WarmBytes} warm bytes)")]
    public static partial void Registered(ILogger logger, ExpertKey expert, Tier tier, long hotBytes, long warmBytes);

    [LoggerMessage(2, LogLevel.Warning, "Fetching expert {Expert} failed")]
    public static partial void FetchFailed(ILogger logger, ExpertKey expert, Exception exception);

    [LoggerMessage(3, LogLevel.Warning, "Prefetch of expert {Expert} failed")]
    public static partial void PrefetchFailed(ILogger logger, ExpertKey expert, Exception exception);

    [LoggerMessage(4, LogLevel.Information, "Applying TierSet {TierSet} from {ChangedBy}: {Reason} ({Promotions} to bring hot, {WarmLoads} to bring warm)")]
    public static partial void Applying(ILogger logger, string tierSet, string changedBy, string reason, int promotions, int warmLoads);

    [LoggerMessage(5, LogLevel.Information, "Applied TierSet {TierSet}")]
    public static partial void Applied(ILogger logger, string tierSet);

    [LoggerMessage(6, LogLevel.Error, "Expert {Expert} does not match the checkpoint's manifest at registration (tensor {Tensor} in {File}); kept cold and re-read on every fetch until it does")]
    public static partial void CorruptAtRegistration(ILogger logger, ExpertKey expert, string tensor, string file);
}
