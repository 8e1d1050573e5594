using System.CommandLine;
using MoeRuntime.Client;
using MoeRuntime.Grains;

namespace MoeRuntime.Cli.Commands;

/// <summary><c>moe placement</c> and <c>moe placement balance</c>: where each expert's replicas are, and rebalancing them.</summary>
static class PlacementCommands
{
    public static Command Placement()
    {
        var model = ModelName();
        var command = new Command("placement", "The placement map: which ranks hold a replica of each expert, and its latest versions") { model, Balance() };
        ClusterEndpoint endpoint = command.AddClusterOptions();
        command.SetAction(async (result, ct) =>
        {
            await using MoeClusterConnection connection = await endpoint.ConnectAsync(result, ct);
            string name = result.GetValue(model)!;
            IExpertPlacementGrain map = connection.Client.GetGrain<IExpertPlacementGrain>(name);
            PlacementMapView view = await map.GetAsync();
            Dictionary<string, int> owners = await connection.Client.GetGrain<IClusterGrain>(0).GetOwnershipAsync(name);
            Console.WriteLine($"placement map of '{name}' v{view.Version} by {view.ChangedBy} at {view.ChangedAt:u}: {view.Reason}");
            Console.WriteLine("(layer: ranks of each expert's replicas; * marks an expert off its round-robin owner)");
            foreach (var layer in owners.GroupBy(o => o.Key.Split('/')[^2]).OrderBy(g => int.Parse(g.Key)))
                Console.WriteLine($"  layer {layer.Key,2}: " + string.Join(" ", layer.OrderBy(o => int.Parse(o.Key.Split('/')[^1]))
                    .Select(o => view.Replicas.TryGetValue(o.Key, out int[]? ranks) ? string.Join(",", ranks) + "*" : o.Value.ToString())));
            foreach (PlacementMapView version in (await map.GetHistoryAsync(5)).Skip(1))
                Console.WriteLine($"  earlier v{version.Version} by {version.ChangedBy} at {version.ChangedAt:u}: {version.Reason}");
            return 0;
        });
        return command;
    }

    static Command Balance()
    {
        var model = ModelName();
        var dryRun = new Option<bool>("--dry-run") { Description = "Only propose: print the plan, change nothing" };
        var command = new Command("balance", "Balance expert load over the ranks: replicate or move the hottest experts when it is uneven") { model, dryRun };
        ClusterEndpoint endpoint = command.AddClusterOptions();
        command.SetAction(async (result, ct) =>
        {
            await using MoeClusterConnection connection = await endpoint.ConnectAsync(result, ct);
            BalanceDecision decision = await connection.Client.GetGrain<ILoadBalancerGrain>(result.GetValue(model)!).BalanceAsync(result.GetValue(dryRun));
            string mode = decision.DryRun ? "proposed (dry run)" : decision.Applied ? $"applied as placement map v{decision.MapVersion}" : "nothing to change";
            Console.WriteLine($"{decision.Controller} at {decision.At:u}: {mode}");
            Console.WriteLine($"  {decision.Reason}");
            Console.WriteLine($"  load per rank over {decision.Inputs.Window}: {Loads(decision.Inputs.RankLoad)}  (max/mean per layer {decision.ImbalanceBefore:F2}, threshold {decision.Inputs.Threshold:F2})");
            if (decision.Changes.Length > 0)
                Console.WriteLine($"  predicted after:   {Loads(decision.RankLoadAfter)}  (max/mean per layer {decision.ImbalanceAfter:F2})");
            if (decision.Inputs.LocalExpertsPerLayer > 0)
                Console.WriteLine($"  locality, {decision.Inputs.LocalExpertsPerLayer} local experts per layer: remote rows {decision.RemoteRowsBefore:F0} -> {decision.RemoteRowsAfter:F0}");
            foreach (string change in decision.Changes) Console.WriteLine($"  - {change}");
            return 0;
        });
        return command;
    }

    static Option<string> ModelName() => new("--model-name") { Description = "Model whose placement to show or balance", DefaultValueFactory = _ => "default" };

    static string Loads(Dictionary<int, double> loads) => string.Join("  ", loads.OrderBy(l => l.Key).Select(l => $"rank {l.Key}: {l.Value:F0}"));
}
