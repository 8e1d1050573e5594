using System.Reflection;
using MoeRuntime.Grains.Security;
using MoeRuntime.Security;

namespace MoeRuntime.Grains.Tests.Security;

/// <summary>The role table covers every grain method, and gives clients the router alone.</summary>
public sealed class GrainRoleTableTests
{
    static IEnumerable<Type> GrainInterfaces() =>
        typeof(IRouterGrain).Assembly.GetTypes().Where(t => t.IsInterface && typeof(IAddressable).IsAssignableFrom(t) && t.Namespace == typeof(IRouterGrain).Namespace);

    static IEnumerable<(string Interface, string Method)> Methods(Type type) =>
        type.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly).Select(m => (RoleCallFilter.InterfaceName(type), m.Name));

    /// <summary>Orleans' internal interfaces that clients call, found by name (they are not public).</summary>
    static IEnumerable<Type> OrleansInternal(string name)
    {
        Type[] found = typeof(IClusterClient).Assembly.GetTypes().Where(t => t.IsInterface && t.Name == name).ToArray();
        Assert.True(found.Length == 1, $"Orleans has {found.Length} interfaces named {name}");
        return found;
    }

    [Fact]
    public void EveryMethodOfEveryGrainInterfaceIsInTheTable()
    {
        List<Type> interfaces = GrainInterfaces().ToList();
        Assert.True(interfaces.Count >= 12, $"found only {interfaces.Count} grain interfaces");
        Assert.Empty(interfaces.SelectMany(Methods).Where(m => !GrainRoleTable.Lists(m.Interface, m.Method)).Select(m => $"{m.Interface}.{m.Method} has no role"));
    }

    [Fact]
    public void EveryRowOfTheTableNamesAMethodThatExists()
    {
        var existing = GrainInterfaces().SelectMany(Methods)
            .Concat(Methods(typeof(Orleans.Runtime.IAsyncEnumerableGrainExtension)))
            .Concat(Methods(typeof(Orleans.Core.Internal.IGrainManagementExtension)))
            .Concat(OrleansInternal("IClusterManifestSystemTarget").SelectMany(Methods))
            .Concat(OrleansInternal("IGrainCallCancellationExtension").SelectMany(Methods))
            .ToHashSet();
        Assert.Empty(GrainRoleTable.Entries.Where(e => !existing.Contains((e.Interface, e.Method))).Select(e => $"{e.Interface}.{e.Method} does not exist"));
    }

    [Fact]
    public void ClientsReachOnlyTheRouterTheirStreamsTheRankListAndWhatOrleansClientsNeed()
    {
        var client = GrainRoleTable.Entries.Where(e => e.Role == MoeRole.Client).Select(e => $"{e.Interface}.{e.Method}").Order().ToArray();
        Assert.Equal(
        [
            "IAsyncEnumerableGrainExtension.DisposeAsync", "IAsyncEnumerableGrainExtension.MoveNext", "IAsyncEnumerableGrainExtension.StartEnumeration",
            "IClusterGrain.GetRanksAsync", "IClusterManifestSystemTarget.GetClusterManifest", "IClusterManifestSystemTarget.GetClusterManifestUpdate",
            "IGrainCallCancellationExtension.CancelRequestAsync", "IRouterGrain.GenerateAsync", "IRouterGrain.GetStatusAsync", "IRouterGrain.StreamAsync",
        ], client);
    }

    [Theory]
    [InlineData("IExpertGrain", "ComputeAsync", MoeRole.Internal)]
    [InlineData("IExpertGrain", "PrefetchAsync", MoeRole.Internal)]
    [InlineData("IShardAggregatorGrain", "ReportAsync", MoeRole.Internal)]
    [InlineData("IShardAggregatorGrain", "ReportDigestsAsync", MoeRole.Internal)]
    [InlineData("IClusterAggregatorGrain", "ReportShardAsync", MoeRole.Internal)]
    [InlineData("IControlDecisionLogGrain", "RecordAsync", MoeRole.Internal)]
    [InlineData("ITierSetGrain", "UpdateAsync", MoeRole.Operator)]
    [InlineData("ITierControllerGrain", "SetDryRunAsync", MoeRole.Operator)]
    [InlineData("ITierControllerGrain", "PinAsync", MoeRole.Operator)]
    [InlineData("IExpertPlacementGrain", "ApplyAsync", MoeRole.Operator)]
    [InlineData("ILoadBalancerGrain", "BalanceAsync", MoeRole.Operator)]
    [InlineData("IPrefetchControllerGrain", "SetAsync", MoeRole.Operator)]
    [InlineData("ICanaryGrain", "StartAsync", MoeRole.Operator)]
    [InlineData("ICanaryGrain", "EndAsync", MoeRole.Operator)]
    [InlineData("ICanaryGrain", "SubmitPlanAsync", MoeRole.Internal)]
    [InlineData("ICanaryGrain", "SubmitPlacementAsync", MoeRole.Internal)]
    [InlineData("IRouterDemandGrain", "GetRowsAsync", MoeRole.Internal)]
    [InlineData("IPrefetchControllerGrain", "SetRankOverrideAsync", MoeRole.Internal)]
    [InlineData("IPrefetchControllerGrain", "GetRankSettingsAsync", MoeRole.Operator)]
    [InlineData("IGrainManagementExtension", "DeactivateOnIdle", MoeRole.Operator)]
    [InlineData("IMembershipService", "AnythingOrleansUses", MoeRole.Internal)]
    [InlineData("ITierSetGrain", "SomeMethodAddedLater", MoeRole.Internal)]
    public void MethodsNeedTheirRole(string @interface, string method, MoeRole role) => Assert.Equal(role, GrainRoleTable.Required(@interface, method));

    [Theory]
    [InlineData(MoeRole.Internal, MoeRole.Internal, true)]
    [InlineData(MoeRole.Internal, MoeRole.Client, true)]
    [InlineData(MoeRole.Operator, MoeRole.Operator, true)]
    [InlineData(MoeRole.Operator, MoeRole.Client, true)]
    [InlineData(MoeRole.Operator, MoeRole.Internal, false)]
    [InlineData(MoeRole.Client, MoeRole.Operator, false)]
    [InlineData(MoeRole.Client, MoeRole.Client, true)]
    [InlineData(MoeRole.None, MoeRole.Client, false)]
    [InlineData(MoeRole.Internal, MoeRole.None, false)]
    public void RolesPassWhatTheyShould(MoeRole caller, MoeRole required, bool allowed) => Assert.Equal(allowed, MoeRoles.Allows(caller, required));
}
