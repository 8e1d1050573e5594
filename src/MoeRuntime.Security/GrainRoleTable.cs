using System.Collections.Frozen;

namespace MoeRuntime.Security;

/// <summary>
/// The role every grain interface method needs, keyed by the interface's type name and the method's name. A method
/// missing from the table needs <see cref="MoeRole.Internal"/> (fail closed); a test checks that every method of every
/// grain interface is listed, so a new method cannot slip through unclassified.
/// </summary>
public static class GrainRoleTable
{
    /// <summary>Orleans' own extension that carries <c>IAsyncEnumerable</c> results (a router's token stream) to clients.</summary>
    public const string AsyncEnumerableExtension = "IAsyncEnumerableGrainExtension";
    /// <summary>Orleans' manifest provider, which a client asks for the cluster's grain types when it connects.</summary>
    public const string ClusterManifestSystemTarget = "IClusterManifestSystemTarget";
    /// <summary>Orleans' extension through which a caller cancels a call it made (a <c>CancellationToken</c> argument).</summary>
    public const string CallCancellationExtension = "IGrainCallCancellationExtension";

    static readonly FrozenDictionary<string, FrozenDictionary<string, MoeRole>> Table = new Dictionary<string, FrozenDictionary<string, MoeRole>>
    {
        ["IRouterGrain"] = Methods(MoeRole.Client, "GenerateAsync", "StreamAsync", "GetStatusAsync"),
        // Stream polls of a router's StreamAsync: the enumerator belongs to the caller that started the stream.
        [AsyncEnumerableExtension] = Methods(MoeRole.Client, "StartEnumeration", "MoveNext", "DisposeAsync"),
        // What every Orleans client calls on its gateway: the cluster's type manifest, and cancelling its own calls.
        [ClusterManifestSystemTarget] = Methods(MoeRole.Client, "GetClusterManifest", "GetClusterManifestUpdate"),
        [CallCancellationExtension] = Methods(MoeRole.Client, "CancelRequestAsync"),
        // Deactivating or migrating a grain (its state is kept; it re-activates on the next call): an operator's restart.
        ["IGrainManagementExtension"] = Methods(MoeRole.Operator, "DeactivateOnIdle", "MigrateOnIdle"),
        ["IClusterGrain"] = Merge(Methods(MoeRole.Client, "GetRanksAsync"), Methods(MoeRole.Operator, "GetOwnershipAsync")),
        ["IExpertGrain"] = Merge(Methods(MoeRole.Internal, "ComputeAsync", "PrefetchAsync"), Methods(MoeRole.Operator, "GetInfoAsync")),
        ["IRankExpertsGrain"] = Methods(MoeRole.Internal, "ComputeAsync"),
        ["IRouterDemandGrain"] = Methods(MoeRole.Internal, "GetRowsAsync"),
        ["IExpertPlacementGrain"] = Methods(MoeRole.Operator, "GetAsync", "GetIfChangedAsync", "ApplyAsync", "GetHistoryAsync"),
        ["ILoadBalancerGrain"] = Methods(MoeRole.Operator, "BalanceAsync", "GetDecisionsAsync"),
        ["IPrefetchStatsGrain"] = Methods(MoeRole.Operator, "GetAsync"),
        ["IPrefetchControllerGrain"] = Merge(Methods(MoeRole.Internal, "SetRankOverrideAsync"),
            Methods(MoeRole.Operator, "GetSettingsAsync", "GetRankSettingsAsync", "GetStatusAsync", "TickAsync", "SetAsync")),
        ["ITierControllerGrain"] = Merge(Methods(MoeRole.Internal, "StartAsync"),
            Methods(MoeRole.Operator, "TickAsync", "GetStatusAsync", "SetDryRunAsync", "PinAsync", "GetSamplingAsync")),
        ["ITierSetGrain"] = Methods(MoeRole.Operator, "GetAsync", "UpdateAsync", "GetHistoryAsync", "GetStoreStatsAsync", "GetControlStateAsync"),
        ["IShardAggregatorGrain"] = Merge(Methods(MoeRole.Internal, "ReportAsync", "ReportDigestsAsync"), Methods(MoeRole.Operator, "GetRankViewAsync")),
        ["IClusterAggregatorGrain"] = Merge(Methods(MoeRole.Internal, "ReportShardAsync"), Methods(MoeRole.Operator, "GetViewAsync")),
        ["ICanaryGrain"] = Merge(Methods(MoeRole.Internal, "SubmitPlanAsync", "SubmitPlacementAsync"),
            Methods(MoeRole.Operator, "StartAsync", "TickAsync", "GetStatusAsync", "EndAsync", "GetHeldRanksAsync")),
        ["IControlDecisionLogGrain"] = Merge(Methods(MoeRole.Internal, "RecordAsync"), Methods(MoeRole.Operator, "GetDecisionsAsync")),
    }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>Every (interface, method) the table lists, with its role.</summary>
    public static IEnumerable<(string Interface, string Method, MoeRole Role)> Entries =>
        Table.SelectMany(i => i.Value.Select(m => (i.Key, m.Key, m.Value)));

    /// <summary>
    /// The role a call needs. Anything not listed (Orleans' own system interfaces, a method added without a row here)
    /// needs <see cref="MoeRole.Internal"/>.
    /// </summary>
    public static MoeRole Required(string interfaceName, string methodName) =>
        Table.TryGetValue(interfaceName, out FrozenDictionary<string, MoeRole>? methods) && methods.TryGetValue(methodName, out MoeRole role)
            ? role
            : MoeRole.Internal;

    /// <summary>Whether the table lists the method (for the completeness test).</summary>
    public static bool Lists(string interfaceName, string methodName) =>
        Table.TryGetValue(interfaceName, out FrozenDictionary<string, MoeRole>? methods) && methods.ContainsKey(methodName);

    /// <summary>An interface's name as the table keys it: the type's name without a generic arity suffix.</summary>
    public static string InterfaceName(Type? type)
    {
        string name = type?.Name ?? "";
        int tick = name.IndexOf('`', StringComparison.Ordinal);
        return tick < 0 ? name : name[..tick];
    }

    static FrozenDictionary<string, MoeRole> Methods(MoeRole role, params string[] names) =>
        names.ToFrozenDictionary(n => n, _ => role, StringComparer.Ordinal);

    static FrozenDictionary<string, MoeRole> Merge(FrozenDictionary<string, MoeRole> a, FrozenDictionary<string, MoeRole> b) =>
        a.Concat(b).ToFrozenDictionary(StringComparer.Ordinal);
}
