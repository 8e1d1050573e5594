using MoeRuntime.LoadTests;
using System.Reflection;
using static TorchSharp.torch;

namespace MoeRuntime.Benchmarks;

/// <summary>What the numbers were measured on: without it a table cannot be compared with another.</summary>
static class MachineInfo
{
    public static string Describe(BenchOptions options, SamplingPlan plan)
    {
        string torchSharp = typeof(TorchSharp.torch).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
            ?? typeof(TorchSharp.torch).Assembly.GetName().Version?.ToString() ?? "unknown";
        var table = new MarkdownTable("item", "value");
        table.Add("CPU", CpuModel());
        table.Add("logical cores", Environment.ProcessorCount.ToString());
        table.Add("torch threads", get_num_threads().ToString());
        table.Add("TorchSharp", torchSharp.Split('+')[0]);
        table.Add("libtorch", __version__);
        table.Add(".NET", Environment.Version.ToString());
        table.Add("sampling", $"{(options.Quick ? "quick" : "full")}: {plan.WarmupOps} warm-up ops, {plan.Samples} samples per case, " +
            $"~{plan.SampleMilliseconds} ms per sample; spread is p10 – p90 over samples");
        return "### Machine\n\n" + table.Render();
    }

    static string CpuModel()
    {
        const string path = "/proc/cpuinfo";
        if (!File.Exists(path)) return "unknown";
        string? line = File.ReadLines(path).FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
        return line?[(line.IndexOf(':') + 1)..].Trim() ?? "unknown";
    }
}
