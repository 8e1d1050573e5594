namespace MoeRuntime.Grains;

/// <summary>
/// Balances one model's expert load over the ranks (keyed by model name): reads the measured load per expert
/// and the placement map, asks the balancer for a plan, and applies it unless it is a dry run. Every call
/// is recorded as a decision, applied or not.
/// </summary>
public interface ILoadBalancerGrain : IGrainWithStringKey
{
    /// <summary>Plans and, unless <paramref name="dryRun"/>, applies a rebalancing; a dry run only proposes.</summary>
    Task<BalanceDecision> BalanceAsync(bool dryRun);

    /// <summary>The newest decisions first.</summary>
    Task<BalanceDecision[]> GetDecisionsAsync(int maxDecisions);
}

/// <summary>One balancing decision: when, by which controller, from which inputs, what changed, and why.</summary>
[GenerateSerializer, Immutable, Alias("moe.BalanceDecision")]
public sealed record BalanceDecision
{
    [Id(0)] public DateTimeOffset At { get; init; }
    [Id(1)] public string Controller { get; init; } = "balancer";
    [Id(2)] public bool DryRun { get; init; }
    /// <summary>True when the plan was written to the placement map.</summary>
    [Id(3)] public bool Applied { get; init; }
    [Id(4)] public required string Reason { get; init; }
    [Id(5)] public required BalanceDecisionInputs Inputs { get; init; }
    /// <summary>Each replica change in words; empty when the plan keeps the map.</summary>
    [Id(6)] public string[] Changes { get; init; } = [];
    [Id(7)] public Dictionary<int, double> RankLoadAfter { get; init; } = [];
    /// <summary>Per layer, the busiest rank's load over the mean, weighted by the layers' loads (1 = every layer balanced).</summary>
    [Id(8)] public double ImbalanceBefore { get; init; }
    /// <summary>Predicted: an expert's load split evenly over its replicas.</summary>
    [Id(9)] public double ImbalanceAfter { get; init; }
    /// <summary>The placement map's version after the decision (unchanged by a dry run).</summary>
    [Id(10)] public long MapVersion { get; init; }
    /// <summary>
    /// Rows routers sent to experts with no replica on the router's own rank since the previous balancing, under the map
    /// before (0 when locality is off: router demand is then not read).
    /// </summary>
    [Id(11)] public double RemoteRowsBefore { get; init; }
    /// <summary>The same, predicted under the plan.</summary>
    [Id(12)] public double RemoteRowsAfter { get; init; }
    /// <summary>The canary trial the plan became (<c>Moe:Control:Canary:PlacementTrials</c>); null when written directly or not at all.</summary>
    [Id(13)] public long? CanaryTrial { get; init; }
}

/// <summary>The numbers a balancing decision was made from.</summary>
[GenerateSerializer, Immutable, Alias("moe.BalanceInputs")]
public sealed record BalanceDecisionInputs
{
    /// <summary>Telemetry window the expert load was read from (1m, 5m, 1h).</summary>
    [Id(0)] public required string Window { get; init; }
    [Id(1)] public int[] LiveRanks { get; init; } = [];
    /// <summary>Tokens per expert key over the window, for experts that had any.</summary>
    [Id(2)] public Dictionary<string, long> ExpertLoad { get; init; } = [];
    [Id(3)] public Dictionary<int, double> RankLoad { get; init; } = [];
    [Id(4)] public double Threshold { get; init; }
    [Id(5)] public int SlotsPerRank { get; init; }
    [Id(6)] public int MaxChanges { get; init; }
    [Id(7)] public long MapVersion { get; init; }
    /// <summary>Locality's experts per layer and router rank (0 = off).</summary>
    [Id(8)] public int LocalExpertsPerLayer { get; init; }
    /// <summary>Rows each router rank sent per expert key since the previous balancing (empty when locality is off).</summary>
    [Id(9)] public Dictionary<int, Dictionary<string, long>> RouterRows { get; init; } = [];
}
