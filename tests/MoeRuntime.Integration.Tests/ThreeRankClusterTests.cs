using MoeRuntime.Grains;

namespace MoeRuntime.Integration.Tests;

/// <summary>A client process against three silo processes prints exactly what the single-process reference prints.</summary>
public sealed class ThreeRankClusterTests(ProcessCluster cluster) : IClassFixture<ProcessCluster>
{
    static readonly TimeSpan CommandLimit = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task AClientProcessPrintsTheReferenceAnswerUsingExpertsOnEveryRank()
    {
        string[] sampling = ["--prompt", "Experts on three ranks", "--temperature", "0", "--max-tokens", "32"];
        MoeCli.Outcome served = await MoeCli.RunAsync(cluster.LogDirectory, CommandLimit,
            ["generate", "--clustering", "redis", "--redis", cluster.Redis, .. sampling]);
        MoeCli.Outcome reference = await MoeCli.RunAsync(cluster.LogDirectory, CommandLimit,
            ["generate", "--local", "--model", cluster.ModelDirectory, .. sampling]);

        Assert.True(served.ExitCode == 0, $"served generate exited with {served.ExitCode}\n{served.StderrTail}\n{cluster.Diagnostics()}");
        Assert.True(reference.ExitCode == 0, $"local generate exited with {reference.ExitCode}\n{reference.StderrTail}");
        Assert.StartsWith("Experts on three ranks", reference.Stdout);
        Assert.Equal(reference.Stdout, served.Stdout);

        var ranksUsed = new HashSet<int>();
        for (int layer = 0; layer < 4; layer++)
            for (int expert = 0; expert < 8; expert++)
            {
                ExpertInfo info = await cluster.Connection.Client.GetGrain<IExpertGrain>($"{ProcessCluster.ModelName}/{layer}/{expert}").GetInfoAsync();
                if (info.Calls > 0) ranksUsed.Add(info.Rank);
            }
        Assert.Equal(new HashSet<int> { 0, 1, 2 }, ranksUsed);
    }
}
