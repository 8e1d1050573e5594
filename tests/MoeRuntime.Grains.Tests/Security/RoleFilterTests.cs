using MoeRuntime.Security;

namespace MoeRuntime.Grains.Tests.Security;

/// <summary>A cluster whose callers without proof are clients, as every caller through a TLS gateway is.</summary>
public sealed class ClientCallerFixture() : ClusterFixture(1)
{
    protected override MoeRole ClientRole => MoeRole.Client;
}

/// <summary>A cluster whose callers without proof are operators (the development default).</summary>
public sealed class OperatorCallerFixture() : ClusterFixture(1)
{
    protected override MoeRole ClientRole => MoeRole.Operator;
}

/// <summary>The role filter on an in-process cluster: what a client may call, and what it may not.</summary>
public sealed class ClientRoleTests(ClientCallerFixture fixture) : IClassFixture<ClientCallerFixture>
{
    static TensorPayload NaNRow => new(new byte[64 * sizeof(float)].Select((_, i) => i % 4 == 3 ? (byte)0x7f : (byte)0xff).ToArray(), 1, 64);

    [Fact]
    public async Task AClientGeneratesAndStreamsThroughTheRouter()
    {
        IRouterGrain router = fixture.Client.GetGrain<IRouterGrain>(ClusterFixture.ModelName);
        Assert.NotNull(await router.GetStatusAsync());
        var request = new GenerateRequest { Prompt = "The experts", Sampling = SamplingParameters.Greedy(4) with { StopTokenIds = [] } };
        Assert.Equal(4, (await router.GenerateAsync(request)).TokenIds.Length);
        int tokens = 0;
        await foreach (TokenChunk chunk in router.StreamAsync(request)) tokens++;
        Assert.Equal(4, tokens);
    }

    public static TheoryData<string, string> Refused => new()
    {
        { "ITierSetGrain.GetAsync", "operator" },
        { "ITierSetGrain.UpdateAsync", "operator" },
        { "ITierControllerGrain.SetDryRunAsync", "operator" },
        { "ITierControllerGrain.PinAsync", "operator" },
        { "IExpertPlacementGrain.ApplyAsync", "operator" },
        { "ILoadBalancerGrain.BalanceAsync", "operator" },
        { "IPrefetchControllerGrain.SetAsync", "operator" },
        { "IExpertGrain.ComputeAsync", "internal" },
        { "IShardAggregatorGrain.ReportAsync", "internal" },
        { "IShardAggregatorGrain.ReportDigestsAsync", "internal" },
        { "IControlDecisionLogGrain.RecordAsync", "internal" },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public async Task AClientCallingAnythingElseIsRefusedWithTheMethodAndTheRoleItLacks(string method, string role)
    {
        IClusterClient c = fixture.Client;
        string model = ClusterFixture.ModelName;
        Task call = method switch
        {
            "ITierSetGrain.GetAsync" => c.GetGrain<ITierSetGrain>($"{model}/0").GetAsync(),
            "ITierSetGrain.UpdateAsync" => c.GetGrain<ITierSetGrain>($"{model}/0").UpdateAsync(new TierSetUpdate { HotBudgetBytes = 1L << 40, ChangedBy = "controller:latency", Reason = "mine now" }),
            "ITierControllerGrain.SetDryRunAsync" => c.GetGrain<ITierControllerGrain>(model).SetDryRunAsync(true),
            "ITierControllerGrain.PinAsync" => c.GetGrain<ITierControllerGrain>(model).PinAsync($"{model}/0/0", "hot", "operator:alice", "pin"),
            "IExpertPlacementGrain.ApplyAsync" => c.GetGrain<IExpertPlacementGrain>(model).ApplyAsync(new PlacementMapUpdate { ChangedBy = "x", Reason = "y", Changes = [] }),
            "ILoadBalancerGrain.BalanceAsync" => c.GetGrain<ILoadBalancerGrain>(model).BalanceAsync(false),
            "IPrefetchControllerGrain.SetAsync" => c.GetGrain<IPrefetchControllerGrain>(model).SetAsync(new PrefetchSettingsChange(), "x", "y"),
            "IExpertGrain.ComputeAsync" => c.GetGrain<IExpertGrain>($"{model}/0/0").ComputeAsync(NaNRow, null),
            "IShardAggregatorGrain.ReportAsync" => c.GetGrain<IShardAggregatorGrain>(0).ReportAsync([1, 2, 3]),
            "IShardAggregatorGrain.ReportDigestsAsync" => c.GetGrain<IShardAggregatorGrain>(0).ReportDigestsAsync("<img src=x onerror=alert(1)>", [1, 2, 3]),
            "IControlDecisionLogGrain.RecordAsync" => c.GetGrain<IControlDecisionLogGrain>(model).RecordAsync([]),
            _ => throw new ArgumentException(method),
        };
        MoePermissionDeniedException denied = await Assert.ThrowsAsync<MoePermissionDeniedException>(() => call);
        Assert.Equal(method, denied.Method);
        Assert.Equal(role, denied.RequiredRole);
        Assert.Equal("client", denied.CallerRole);
        Assert.Contains(method, denied.Message);
    }

    [Fact]
    public async Task AClientsNaNRowNeverReachesTheExpert()
    {
        await Assert.ThrowsAsync<MoePermissionDeniedException>(() => fixture.Client.GetGrain<IExpertGrain>($"{ClusterFixture.ModelName}/1/1").ComputeAsync(NaNRow, null));
        // The expert still serves the router's calls: a generation over every layer succeeds.
        var request = new GenerateRequest { Prompt = "The experts", Sampling = SamplingParameters.Greedy(2) with { StopTokenIds = [] } };
        Assert.Equal(2, (await fixture.Client.GetGrain<IRouterGrain>(ClusterFixture.ModelName).GenerateAsync(request)).TokenIds.Length);
    }
}

/// <summary>An operator writes TierSets under the identity the silo established, not the name it typed.</summary>
public sealed class OperatorRoleTests(OperatorCallerFixture fixture) : IClassFixture<OperatorCallerFixture>
{
    [Fact]
    public async Task AnOperatorsTierSetChangeIsRecordedUnderItsIdentityNotTheTypedName()
    {
        ITierSetGrain tierSet = fixture.Client.GetGrain<ITierSetGrain>($"{ClusterFixture.ModelName}/0");
        TierSetView view = await tierSet.UpdateAsync(new TierSetUpdate
        {
            Tiers = new() { [$"{ClusterFixture.ModelName}/0/1"] = "hot" },
            ChangedBy = "controller:latency",
            Reason = "warm up expert 1",
        });
        Assert.Equal("anonymous", view.ChangedBy);
        Assert.Equal("warm up expert 1", view.Reason);
    }

    [Fact]
    public async Task AnOperatorMayNotComputeOrReport()
    {
        MoePermissionDeniedException denied = await Assert.ThrowsAsync<MoePermissionDeniedException>(
            () => fixture.Client.GetGrain<IShardAggregatorGrain>(0).ReportAsync([1]));
        Assert.Equal(("internal", "operator"), (denied.RequiredRole, denied.CallerRole));
    }
}
