using BenchmarkDotNet.Running;
using MoeRuntime.Telemetry.Benchmarks.Scale;

namespace MoeRuntime.Telemetry.Benchmarks;

/// <summary>
/// Entry point: BenchmarkDotNet's switcher, e.g. <c>-- --filter * --job short --inProcess</c>; or
/// <c>-- --scale [intervals] [ranks...]</c> for the aggregation hierarchy at 10, 100, 1,000 and 10,000 ranks (or the
/// counts given) and the shards' memory after a simulated hour at 1,000 ranks, which keeps thousands of stateful
/// ranks and shards across intervals and so runs as a plain timed loop; <c>-- --scale-hour [ranks] [--previous]</c> for the hour alone
/// (<c>--previous</c>: with the dense per-rank windows shards kept before, for comparison).
/// </summary>
public static class Program
{
    /// <summary>Runs the benchmarks named by the arguments.</summary>
    public static void Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "--scale")
            ScaleRun.Run(args.Length > 1 ? int.Parse(args[1]) : 15, args.Skip(2).Select(int.Parse).ToArray());
        else if (args.Length > 0 && args[0] == "--scale-hour")
            ScaleRun.Hour(args.Length > 1 ? int.Parse(args[1]) : 1000, args.Contains("--previous"));
        else
            BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
    }
}
