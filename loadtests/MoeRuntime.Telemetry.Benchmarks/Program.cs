using BenchmarkDotNet.Running;

namespace MoeRuntime.Telemetry.Benchmarks;

/// <summary>Entry point: BenchmarkDotNet's switcher, e.g. <c>-- --filter * --job short --inProcess</c>.</summary>
public static class Program
{
    /// <summary>Runs the benchmarks named by the arguments.</summary>
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
