using Microsoft.Extensions.Logging;
using static TorchSharp.torch;

namespace MoeRuntime.Grains.Hosting;

/// <summary>The libtorch thread counts a rank computes with, as configured and as libtorch reports them after applying.</summary>
/// <param name="IntraOpThreads">libtorch's intra-op threads (<c>torch.get_num_threads</c>).</param>
/// <param name="InterOpThreads">libtorch's inter-op threads (<c>torch.get_num_interop_threads</c>).</param>
/// <param name="Processors">The processors the process may use (<see cref="Environment.ProcessorCount"/>).</param>
public readonly record struct ComputeThreadCounts(int IntraOpThreads, int InterOpThreads, int Processors);

/// <summary>
/// Applies <see cref="ComputeOptions"/> to libtorch's process-wide thread pools. The intra-op count can be set at any time
/// (the last rank hosted by a process wins, as tests host several); the inter-op count only once per process and before
/// libtorch's inter-op pool starts (libtorch's own check would end the process from native code), so this applies it only
/// the first time one is asked for and keeps that value afterwards, saying so.
/// </summary>
public static partial class ComputeThreads
{
    static readonly Lock Gate = new();
    static int InterOpSet;

    /// <summary>
    /// Sets the configured pools (0 leaves libtorch's default), logs the counts libtorch then reports (the rank's
    /// start-up line that exports them) and returns them.
    /// </summary>
    public static ComputeThreadCounts Apply(ComputeOptions options, int rank, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        lock (Gate)
        {
            if (options.IntraOpThreads > 0) set_num_threads(options.IntraOpThreads);
            if (options.InterOpThreads > 0)
            {
                if (InterOpSet == 0)
                {
                    set_num_interop_threads(options.InterOpThreads);
                    InterOpSet = options.InterOpThreads;
                }
                else if (InterOpSet != options.InterOpThreads)
                {
                    LogInterOpAlreadySet(logger, options.InterOpThreads, InterOpSet);
                }
            }
            var counts = new ComputeThreadCounts(get_num_threads(), get_num_interop_threads(), Environment.ProcessorCount);
            LogThreads(logger, rank, counts.IntraOpThreads, options.IntraOpThreads, counts.InterOpThreads, options.InterOpThreads, counts.Processors);
            if (options.LoopCpuList() is { } loopCpus)
            {
                // Workers the pinned loop starts share its CPUs: more of them than CPUs would take turns on one core.
                if (loopCpus.Count < counts.IntraOpThreads)
                    LogLoopCpusTooFew(logger, rank, options.LoopCpus, loopCpus.Count, counts.IntraOpThreads);
                else
                    LogLoopPinned(logger, rank, options.LoopCpus);
            }
            return counts;
        }
    }

    [LoggerMessage(1904, LogLevel.Warning, "Moe:Compute:InterOpThreads {Requested} not applied: libtorch takes the inter-op threads once per process, and this process already runs {Current}")]
    static partial void LogInterOpAlreadySet(ILogger logger, int requested, int current);

    [LoggerMessage(1906, LogLevel.Warning, "Rank {Rank}'s batching loop is pinned to CPUs {LoopCpus} ({Count}) but libtorch runs {IntraOpThreads} intra-op threads: the workers the loop starts share its CPUs; set Moe:Compute:IntraOpThreads to at most {Count}, or give the loop more CPUs")]
    static partial void LogLoopCpusTooFew(ILogger logger, int rank, string loopCpus, int count, int intraOpThreads);

    [LoggerMessage(1907, LogLevel.Information, "Rank {Rank}'s batching loop runs on a thread of its own pinned to CPUs {LoopCpus} (Moe:Compute:LoopCpus)")]
    static partial void LogLoopPinned(ILogger logger, int rank, string loopCpus);

    [LoggerMessage(1905, LogLevel.Information, "Rank {Rank} computes with {IntraOpThreads} libtorch intra-op threads (Moe:Compute:IntraOpThreads {ConfiguredIntraOpThreads}, 0 = libtorch's default) and {InterOpThreads} inter-op threads (Moe:Compute:InterOpThreads {ConfiguredInterOpThreads}) on {Processors} processors")]
    static partial void LogThreads(ILogger logger, int rank, int intraOpThreads, int configuredIntraOpThreads, int interOpThreads, int configuredInterOpThreads, int processors);
}
