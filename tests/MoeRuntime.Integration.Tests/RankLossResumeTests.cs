using System.Diagnostics;
using MoeRuntime.Grains;
using MoeRuntime.Model.Sampling;
using Xunit.Abstractions;

namespace MoeRuntime.Integration.Tests;

/// <summary>
/// Losing the rank whose router serves a client's streams loses no request: three silo processes and Redis, streaming
/// load through a client that knows every gateway, the router's rank killed (SIGKILL) or stopped (SIGTERM) mid-run.
/// Every stream resumes on a surviving rank and ends with exactly the tokens of an uninterrupted reference run, for
/// greedy and for seeded sampling.
/// </summary>
public abstract class RankLossResumeTests(ProcessCluster cluster, ITestOutputHelper output)
{
    protected ProcessCluster Cluster => cluster;

    const int Answer = 160;
    /// <summary>Tokens every stream has before the rank goes: the loss lands mid-stream.</summary>
    const int BeforeLoss = 6;
    static readonly TimeSpan StartLimit = TimeSpan.FromSeconds(120);
    static readonly TimeSpan EndLimit = TimeSpan.FromSeconds(240);
    static readonly string[] GreedyPrompts = ["The rank goes down", "Experts, retried elsewhere", "0123456789", "Streams keep flowing", "Resume me", "Tokens, once each"];
    static readonly string[] SampledPrompts = ["Seeded and resumed", "Same seed, same position"];
    static readonly SamplingParameters Sampled = new() { Temperature = 0.8, TopP = 0.9, Seed = 20261207, MaxTokens = Answer, StopTokenIds = [] };

    protected abstract void Lose(int rank);
    protected abstract string How { get; }

    protected async Task LosingTheRoutersRankLosesNoStream()
    {
        IReadOnlyList<int>[] greedy = ReferenceAnswers.Greedy(cluster.ModelDirectory, GreedyPrompts, Answer);
        IReadOnlyList<int>[] sampled = ReferenceAnswers.Generate(cluster.ModelDirectory, SampledPrompts, new SamplingOptions
        {
            Temperature = Sampled.Temperature, TopP = Sampled.TopP, Seed = Sampled.Seed, MaxTokens = Answer, StopTokenIds = [],
        });
        IReadOnlyList<int>[] expected = [.. greedy, .. sampled];
        IClusterClient client = cluster.Connection.Client;
        // The client sends a model's router calls through one gateway: that rank's router serves every stream here.
        int victim = (await client.GetGrain<IRouterGrain>(ProcessCluster.ModelName).GetStatusAsync()).Rank;
        output.WriteLine($"the streams' router runs on rank {victim}");

        using var abandon = new CancellationTokenSource(StartLimit + EndLimit);
        StreamedRequest[] streams =
        [
            .. GreedyPrompts.Select(p => StreamedRequest.StartResuming(client, ProcessCluster.ModelName, p,
                SamplingParameters.Greedy(Answer) with { StopTokenIds = [] }, abandon.Token)),
            .. SampledPrompts.Select(p => StreamedRequest.StartResuming(client, ProcessCluster.ModelName, p, Sampled, abandon.Token)),
        ];
        try
        {
            await Eventually.UntilAsync($"every stream has {BeforeLoss} tokens", StartLimit,
                () => Task.FromResult(streams.All(s => s.Tokens.Count >= BeforeLoss || s.Ended.IsCompleted)), cluster.Diagnostics);
            Assert.All(streams, s => Assert.True(s.Error is null && s.Tokens.Count < Answer, $"before the loss: {s}"));

            Lose(victim);
            var lost = Stopwatch.StartNew();
            try
            {
                await Task.WhenAll(streams.Select(s => s.Ended)).WaitAsync(EndLimit);
            }
            catch (TimeoutException)
            {
                Assert.Fail($"streams still open {EndLimit.TotalSeconds:F0} s after rank {victim} was {How}:\n" +
                    string.Join('\n', streams.Select(s => (s.Ended.IsCompleted ? "ended " : "HUNG ") + s)) + "\n" + cluster.Diagnostics());
            }
            output.WriteLine($"every stream ended {lost.Elapsed.TotalSeconds:F1} s after rank {victim} was {How}");
        }
        finally
        {
            abandon.Cancel();
        }

        foreach (StreamedRequest stream in streams) output.WriteLine(stream.ToString());
        for (int i = 0; i < streams.Length; i++)
        {
            Assert.True(streams[i].Error is null, $"a stream failed after rank {victim} was {How}: {streams[i]}\n{cluster.Diagnostics()}");
            Assert.Equal(expected[i], streams[i].Tokens);
        }
        Assert.True(streams.Sum(s => s.Resumes) > 0, "no stream resumed, so the test lost the wrong rank");
    }
}

/// <summary>SIGKILL: the rank answers nothing more; its streams notice within the client's stall timeout and resume.</summary>
public sealed class RankKillResumeTests(ProcessCluster cluster, ITestOutputHelper output)
    : RankLossResumeTests(cluster, output), IClassFixture<ProcessCluster>
{
    protected override void Lose(int rank) => Cluster.Kill(rank);
    protected override string How => "killed";

    [Fact]
    public Task KillingTheRoutersRankLosesNoStream() => LosingTheRoutersRankLosesNoStream();
}

/// <summary>A cluster whose ranks drain for 3 s when stopped: long streams are still running when the drain ends.</summary>
public sealed class ShortDrainProcessCluster : ProcessCluster
{
    protected override string[] ExtraSiloArguments => ["--Moe:DrainTimeout=00:00:03"];
}

/// <summary>SIGTERM: the drain fails the streams it could not finish with ShuttingDown, and they resume elsewhere.</summary>
public sealed class RankStopResumeTests(ShortDrainProcessCluster cluster, ITestOutputHelper output)
    : RankLossResumeTests(cluster, output), IClassFixture<ShortDrainProcessCluster>
{
    protected override void Lose(int rank) => Cluster.Terminate(rank);
    protected override string How => "stopped";

    [Fact]
    public Task StoppingTheRoutersRankLosesNoStream() => LosingTheRoutersRankLosesNoStream();
}
