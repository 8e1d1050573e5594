using MoeRuntime.Benchmarks;
using static TorchSharp.torch;

BenchOptions options;
try
{
    options = BenchOptions.Parse(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine(e.Message);
    return 2;
}

// Set once before any tensor work: every case, ceiling included, then runs on the same thread pool.
set_num_threads(options.Threads);
SamplingPlan plan = options.Plan;
int[] expertBatches = [1, 8, 64, 256];
int[] decodeBatches = [1, 8, 32];

using var bench = new BenchModel();
var sections = new List<string> { MachineInfo.Describe(options, plan) };
sections.AddRange(KernelBenchmarks.Run(bench, expertBatches, plan));
sections.Add(DecodeBenchmarks.Run(bench, decodeBatches, plan));

string report = string.Join("\n", sections);
Console.WriteLine(report);
if (options.MarkdownPath is { } path) File.WriteAllText(path, report);
return 0;
