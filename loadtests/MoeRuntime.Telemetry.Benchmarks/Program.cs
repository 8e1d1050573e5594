using BenchmarkDotNet.Running;
using MoeRuntime.Telemetry.Benchmarks.Scale;

namespace MoeRuntime.Telemetry.Benchmarks;

/// <summary>
/// Entry point: BenchmarkDotNet's switcher, e.g. <c>-- --filter * --job short --inProcess</c>; or
/// <c>-- --scale [intervals]</c> for the aggregation hierarchy at 10, 100 and 1,000 ranks, which keeps
/// thousands of stateful ranks and shards across intervals and so runs as a plain timed loop.
/// </summary>
public static class Program
{
    /// <summary>Runs the benchmarks named by the arguments.</summary>
    public static void Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "--scale")
            ScaleRun.Run(args.Length > 1 ? int.Parse(args[1]) : 15);
        else
            BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
    }
}
