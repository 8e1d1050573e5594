using MoeRuntime.Grains;
using Orleans.Core.Internal;
using StackExchange.Redis;

namespace MoeRuntime.Integration.Tests;

/// <summary>
/// Three silo processes on Redis: a client process prints exactly what the single-process reference prints, and what
/// operators set through the client is kept in Redis.
/// </summary>
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

    [Fact]
    public async Task TheServedAndTheLocalCommandPrintTheSameTokenIdsAndLogprobsAsJson()
    {
        string[] options = ["--prompt", "Token ids", "--temperature", "0", "--max-tokens", "12", "--seed", "7", "--json", "--logprobs", "3", "--no-bos"];
        MoeCli.Outcome served = await MoeCli.RunAsync(cluster.LogDirectory, CommandLimit,
            ["generate", "--clustering", "redis", "--redis", cluster.Redis, .. options]);
        MoeCli.Outcome local = await MoeCli.RunAsync(cluster.LogDirectory, CommandLimit,
            ["generate", "--local", "--model", cluster.ModelDirectory, .. options]);
        Assert.True(served.ExitCode == 0, $"served generate exited with {served.ExitCode}\n{served.StderrTail}\n{cluster.Diagnostics()}");
        Assert.True(local.ExitCode == 0, $"local generate exited with {local.ExitCode}\n{local.StderrTail}");

        using var s = System.Text.Json.JsonDocument.Parse(served.Stdout);
        using var l = System.Text.Json.JsonDocument.Parse(local.Stdout);
        static int[] Ids(System.Text.Json.JsonElement e, string name) => [.. e.GetProperty(name).EnumerateArray().Select(x => x.GetInt32())];
        Assert.Equal("cluster", s.RootElement.GetProperty("source").GetString());
        // --no-bos: the prompt's ids are its UTF-8 bytes only.
        Assert.Equal(System.Text.Encoding.UTF8.GetBytes("Token ids").Select(b => (int)b), Ids(l.RootElement, "prompt_token_ids"));
        Assert.Equal(Ids(l.RootElement, "prompt_token_ids"), Ids(s.RootElement, "prompt_token_ids"));
        Assert.Equal(Ids(l.RootElement, "token_ids"), Ids(s.RootElement, "token_ids"));
        Assert.Equal(12, Ids(s.RootElement, "token_ids").Length);
        Assert.Equal(l.RootElement.GetProperty("text").GetString(), s.RootElement.GetProperty("text").GetString());
        var servedTokens = s.RootElement.GetProperty("tokens").EnumerateArray().ToArray();
        var localTokens = l.RootElement.GetProperty("tokens").EnumerateArray().ToArray();
        for (int i = 0; i < localTokens.Length; i++)
        {
            Assert.Equal(localTokens[i].GetProperty("logprob").GetDouble(), servedTokens[i].GetProperty("logprob").GetDouble(), 4);
            Assert.Equal(
                localTokens[i].GetProperty("top_logprobs").EnumerateArray().Select(t => t.GetProperty("id").GetInt32()),
                servedTokens[i].GetProperty("top_logprobs").EnumerateArray().Select(t => t.GetProperty("id").GetInt32()));
        }
    }

    [Fact]
    public async Task OperatorSettingsSetWithTheClientAreKeptInRedisAcrossAControllerReactivation()
    {
        const string expert = "default/2/5";
        string[] onRedis = ["--clustering", "redis", "--redis", cluster.Redis];
        await RunAsync(["control", "pin", expert, "warm", "--reason", "kept in redis", .. onRedis]);
        await RunAsync(["control", "dry-run", "on", .. onRedis]);
        ITierControllerGrain controller = cluster.Connection.Client.GetGrain<ITierControllerGrain>(ProcessCluster.ModelName);
        try
        {
            await using (ConnectionMultiplexer store = await ConnectionMultiplexer.ConnectAsync(cluster.Redis))
            {
                IServer server = store.GetServers().Single();
                string[] keys = [.. server.Keys(pattern: "*tiercontroller*").Select(k => k.ToString())];
                Assert.True(keys.Length == 1, $"keys of the controllers' state in Redis: [{string.Join(", ", server.Keys().Select(k => k.ToString()))}]");
            }
            Assert.True((await controller.TickAsync()).Ticks > 0);
            await controller.AsReference<IGrainManagementExtension>().DeactivateOnIdle();
            // A new activation has run no interval (its timer starts when a silo next asks, within 30 s).
            ControllerStatus resumed = null!;
            await Eventually.UntilAsync("the controller grain is reactivated", CommandLimit,
                async () => (resumed = await controller.GetStatusAsync()).Ticks == 0, cluster.Diagnostics);
            Assert.True(resumed.DryRun);
            ExpertPin pin = Assert.Single(resumed.Pins);
            Assert.Equal((expert, "warm", "kept in redis"), (pin.Expert, pin.Tier, pin.Reason));
        }
        finally
        {
            await RunAsync(["control", "dry-run", "off", .. onRedis]);
            await RunAsync(["control", "unpin", expert, .. onRedis]);
        }
        Assert.Empty((await controller.GetStatusAsync()).Pins);
    }

    [Fact]
    public async Task ThePlacementMapIsKeptInRedisAcrossAReactivation()
    {
        const string expert = "default/1/1";
        IExpertPlacementGrain placement = cluster.Connection.Client.GetGrain<IExpertPlacementGrain>(ProcessCluster.ModelName);
        PlacementMapView written = await placement.ApplyAsync(new PlacementMapUpdate
        {
            Replicas = new() { [expert] = [0, 2] },
            ChangedBy = "test",
            Reason = "a replica kept in redis",
        });
        try
        {
            await using (ConnectionMultiplexer store = await ConnectionMultiplexer.ConnectAsync(cluster.Redis))
            {
                IServer server = store.GetServers().Single();
                string[] keys = [.. server.Keys(pattern: "*placement*").Select(k => k.ToString())];
                Assert.True(keys.Length == 1, $"keys in Redis: [{string.Join(", ", server.Keys().Select(k => k.ToString()))}]");
            }
            await placement.AsReference<IGrainManagementExtension>().DeactivateOnIdle();
            // A new activation keeps only the stored version in its history.
            PlacementMapView[] history = [];
            await Eventually.UntilAsync("the placement grain is reactivated", CommandLimit,
                async () => (history = await placement.GetHistoryAsync(10)).Length == 1, cluster.Diagnostics);
            PlacementMapView resumed = history[0];
            Assert.Equal((written.Version, "a replica kept in redis"), (resumed.Version, resumed.Reason));
            Assert.Equal([0, 2], resumed.Replicas[expert]);
        }
        finally
        {
            await placement.ApplyAsync(new PlacementMapUpdate { Replicas = new() { [expert] = [] }, ChangedBy = "test", Reason = "back to the default" });
        }
    }

    [Fact]
    public async Task MoeControlCanaryStartsAndShowsAPlacementTrialForTheCanaryRoutersOnly()
    {
        const string expert = "default/2/5";
        string[] onRedis = ["--clustering", "redis", "--redis", cluster.Redis];
        MoeCli.Outcome malformed = await MoeCli.RunAsync(cluster.LogDirectory, CommandLimit,
            ["control", "canary", "start", "--placement", $"{expert}=x", "--reason", "a malformed plan", .. onRedis]);
        Assert.NotEqual(0, malformed.ExitCode);
        Assert.Contains($"--placement '{expert}=x' is not", malformed.Stdout + malformed.StderrTail, StringComparison.Ordinal);

        IExpertPlacementGrain placement = cluster.Connection.Client.GetGrain<IExpertPlacementGrain>(ProcessCluster.ModelName);
        long before = (await placement.GetAsync()).Version;
        MoeCli.Outcome started = await MoeCli.RunAsync(cluster.LogDirectory, CommandLimit,
            ["control", "canary", "start", "--placement", $"{expert}=0,1", "--metric", "itl_p95_s", "--reason", "a placement plan from the command line", .. onRedis]);
        Assert.True(started.ExitCode == 0, $"canary start exited with {started.ExitCode}\n{started.StderrTail}\n{cluster.Diagnostics()}");
        PlacementMapView trialMap = await placement.GetAsync();
        // The trial is shown as it started: kind, the map versions it replaced and wrote, the plan, canary against control.
        Assert.Contains("under trial: started", started.Stdout, StringComparison.Ordinal);
        Assert.Contains("canary rank(s) 2 vs 0,1", started.Stdout, StringComparison.Ordinal);
        Assert.Contains($"change (placement, map v{before} -> v{trialMap.Version}; only the canary ranks' routers use it): {expert}=0,1", started.Stdout, StringComparison.Ordinal);
        Assert.Equal([2], trialMap.TrialRanks);

        // Cancelled by hand (or, if the machine is slow, ended by itself: nothing to judge without requests); either way rolled back.
        await MoeCli.RunAsync(cluster.LogDirectory, CommandLimit, ["control", "canary", "rollback", "--reason", "the test is done", .. onRedis]);
        MoeCli.Outcome shown = await MoeCli.RunAsync(cluster.LogDirectory, CommandLimit, ["control", "canary", .. onRedis]);
        Assert.True(shown.ExitCode == 0, $"canary exited with {shown.ExitCode}\n{shown.StderrTail}");
        Assert.Contains("no trial under way", shown.Stdout, StringComparison.Ordinal);
        Assert.Matches(@"#\d+ rolled back: started .*\(a placement plan from the command line\)", shown.Stdout);
        PlacementMapView after = await placement.GetAsync();
        Assert.Equal("canary:rollback", after.ChangedBy);
        Assert.False(after.Replicas.ContainsKey(expert), $"{expert} still has replicas {string.Join(",", after.Replicas.GetValueOrDefault(expert, []))}");
    }

    async Task RunAsync(string[] arguments)
    {
        MoeCli.Outcome outcome = await MoeCli.RunAsync(cluster.LogDirectory, CommandLimit, arguments);
        Assert.True(outcome.ExitCode == 0, $"moe {string.Join(' ', arguments)} exited with {outcome.ExitCode}\n{outcome.StderrTail}\n{cluster.Diagnostics()}");
    }
}
