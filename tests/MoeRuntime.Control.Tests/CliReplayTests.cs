using System.Diagnostics;
using System.Reflection;
using MoeRuntime.Control.Tests.Traces;
using MoeRuntime.Traces;

namespace MoeRuntime.Control.Tests;

/// <summary>The <c>moe replay</c> and <c>moe trace convert</c> commands, run as the built program.</summary>
public class CliReplayTests
{
    static readonly string Cli = typeof(CliReplayTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "MoeCliDll").Value!;

    static async Task<(int Exit, string Stdout, string Stderr)> Moe(params string[] arguments)
    {
        Assert.True(File.Exists(Cli), $"{Cli} is not built");
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.ArgumentList.Add(Cli);
        foreach (string a in arguments) start.ArgumentList.Add(a);
        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync(), stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout, await stderr);
    }

    static async Task<string> SmallTrace(TraceFiles files)
    {
        string path = files.Path("small.jsonl");
        var random = new Random(5);
        await using var writer = RoutingTraceWriter.Create(path, TraceFiles.Header(layers: 2, experts: 6, expertBytes: 1 << 20));
        for (int step = 0; step < 300; step++)
            for (int layer = 0; layer < 2; layer++)
            {
                int a = random.Next(3), b = 3 + random.Next(3);
                writer.Write(step, 7UL, layer, [step], 2, [a, b], [0.6f, 0.4f]);
            }
        return path;
    }

    [Fact]
    public async Task Replay_prints_one_row_per_policy_with_prefetch_columns()
    {
        using var files = new TraceFiles();
        string trace = await SmallTrace(files);
        var (exit, stdout, stderr) = await Moe("replay", "--trace", trace, "--capacity", "2", "4", "--prefetch", "--fetch-ms", "5");
        Assert.True(exit == 0, stderr);
        Assert.Contains("300 steps", stdout);
        Assert.Contains("| policy      | hit rate | vs Belady | misses | bytes moved |", stdout);
        Assert.Contains("prefetch hit rate", stdout);
        Assert.Contains("hot capacity 2 of 6 experts per layer", stdout);
        Assert.Contains("hot capacity 4 of 6 experts per layer", stdout);
        foreach (string policy in new[] { "| LRU ", "| LFU ", "| Decayed LFU ", "| Controller ", "| Belady " })
            Assert.Equal(2, stdout.Split('\n').Count(l => l.StartsWith(policy)));
        Assert.Contains("| Belady      |", stdout);
        Assert.Contains("controller: latency controller + guardrails per layer", stdout);
        Assert.Contains("transient-yield rule on, weight 1.25", stdout);
        Assert.Contains("Belady bounds demand caching only", stdout);
        Assert.Contains("0.0 pt", stdout);
    }

    [Fact]
    public async Task Replay_at_the_runtimes_interval_needs_no_note_about_prefetching_plans()
    {
        using var files = new TraceFiles();
        string trace = await SmallTrace(files);
        var (exit, stdout, stderr) = await Moe("replay", "--trace", trace, "--capacity", "2", "--interval-steps", "32");
        Assert.True(exit == 0, stderr);
        Assert.Contains("interval 32 steps", stdout);
        Assert.DoesNotContain("Belady bounds demand caching only", stdout);
    }

    [Fact]
    public async Task Replay_turns_a_byte_budget_into_experts_per_layer()
    {
        using var files = new TraceFiles();
        string trace = await SmallTrace(files);
        var (exit, stdout, stderr) = await Moe("replay", "--trace", trace, "--hot-bytes", (6L << 20).ToString(), "--policy", "lru", "belady");
        Assert.True(exit == 0, stderr);
        Assert.Contains("hot capacity 3 of 6 experts per layer (6.0 MiB in all)", stdout);
        Assert.DoesNotContain("| LFU", stdout);
    }

    [Fact]
    public async Task A_malformed_trace_fails_with_its_line_and_no_stack_trace()
    {
        using var files = new TraceFiles();
        string trace = files.Write("bad.jsonl", """
            {"format":"moe-routing-trace","version":1,"layers":2,"experts":4,"top_k":2}
            {"step":0,"request":"r","layer":0,"positions":[0],"experts":[[0,9]]}
            """);
        var (exit, _, stderr) = await Moe("replay", "--trace", trace);
        Assert.Equal(2, exit);
        Assert.Contains("line 2", stderr);
        Assert.DoesNotContain("   at ", stderr);
    }

    [Fact]
    public async Task Trace_convert_writes_a_trace_replay_can_read()
    {
        using var files = new TraceFiles();
        string input = files.Write("ext.jsonl", string.Join('\n', Enumerable.Range(0, 40).SelectMany(t => new[]
        {
            $$"""{"token_idx":{{t}},"layer":0,"topk_ids":[{{t % 4}},{{(t + 1) % 4}}],"gating_probs":[0.25,0.25,0.25,0.25]}""",
            $$"""{"token_idx":{{t}},"layer":1,"topk_ids":[{{t % 3}},3],"gating_probs":[0.25,0.25,0.25,0.25]}""",
        })));
        string output = files.Path("converted.jsonl");
        var (exit, _, stderr) = await Moe("trace", "convert", "--from", input, "--to", output, "--model-name", "ext", "--expert-bytes", "1000");
        Assert.True(exit == 0, stderr);
        Assert.Contains("40 steps", stderr);
        (exit, string stdout, stderr) = await Moe("replay", "--trace", output, "--capacity", "2");
        Assert.True(exit == 0, stderr);
        Assert.Contains("model 'ext', 2 layers x 4 experts, top-2; 40 steps", stdout);
    }
}
