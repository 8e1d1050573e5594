using Microsoft.Extensions.Logging;

namespace MoeRuntime.Model.Generation;

static partial class BatcherLog
{
    [LoggerMessage(1, LogLevel.Error, "The batching loop failed unexpectedly (fault {Fault} in a row); failed {Sequences} running requests, restarting in {Delay}")]
    public static partial void LoopFaulted(ILogger logger, int fault, int sequences, TimeSpan delay, Exception exception);

    [LoggerMessage(2, LogLevel.Information, "The batching loop restarted after {Restarts} restarts; {Queued} requests waiting")]
    public static partial void LoopRestarted(ILogger logger, long restarts, int queued);
}
