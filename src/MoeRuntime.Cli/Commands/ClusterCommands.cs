using System.CommandLine;
using MoeRuntime.Client;
using MoeRuntime.Grains;
using MoeRuntime.Serving.Tiers;

namespace MoeRuntime.Cli.Commands;

/// <summary><c>moe cluster</c>, <c>moe models</c> and <c>moe tiers</c>: what operators ask a running cluster.</summary>
static class ClusterCommands
{
    public static Command Cluster()
    {
        var command = new Command("cluster", "Ranks of the cluster, their state, and which rank owns each expert");
        ClusterEndpoint endpoint = command.AddClusterOptions();
        command.SetAction(async (result, ct) =>
        {
            await using MoeClusterConnection connection = await endpoint.ConnectAsync(result, ct);
            IClusterGrain cluster = connection.Client.GetGrain<IClusterGrain>(0);
            RankInfo[] ranks = await cluster.GetRanksAsync();
            Console.WriteLine("rank  status    silo                              model");
            foreach (RankInfo rank in ranks)
                Console.WriteLine($"{rank.Rank,4}  {rank.Status,-8}  {rank.Silo,-32}  {rank.Model}");
            string? model = ranks.Select(r => r.Model).FirstOrDefault(m => m is not null);
            if (model is null) return 0;
            Dictionary<string, int> owners = await cluster.GetOwnershipAsync(model);
            Console.WriteLine($"\nexpert owners of '{model}' (layer: rank of each expert)");
            foreach (var layer in owners.GroupBy(o => o.Key.Split('/')[1]).OrderBy(g => int.Parse(g.Key)))
                Console.WriteLine($"  layer {layer.Key,2}: {string.Join(" ", layer.OrderBy(o => int.Parse(o.Key.Split('/')[2])).Select(o => o.Value))}");
            return 0;
        });
        return command;
    }

    public static Command Models()
    {
        var command = new Command("models", "Models the cluster serves");
        ClusterEndpoint endpoint = command.AddClusterOptions();
        command.SetAction(async (result, ct) =>
        {
            await using MoeClusterConnection connection = await endpoint.ConnectAsync(result, ct);
            foreach (var model in (await connection.Client.GetGrain<IClusterGrain>(0).GetRanksAsync()).GroupBy(r => r.Model))
                Console.WriteLine($"{model.Key}  (ranks {string.Join(", ", model.Select(r => r.Rank))})");
            return 0;
        });
        return command;
    }

    public static Command Tiers()
    {
        var command = new Command("tiers", "Each rank's TierSet: version, budgets, and where every expert lives") { TierSet() };
        ClusterEndpoint endpoint = command.AddClusterOptions();
        command.SetAction(async (result, ct) =>
        {
            await using MoeClusterConnection connection = await endpoint.ConnectAsync(result, ct);
            foreach (RankInfo rank in await connection.Client.GetGrain<IClusterGrain>(0).GetRanksAsync())
            {
                if (rank.Model is null || rank.Rank < 0) continue;
                ITierSetGrain tierSet = connection.Client.GetGrain<ITierSetGrain>($"{rank.Model}/{rank.Rank}");
                TierSetView view = await tierSet.GetAsync();
                TierStoreStats stats = await tierSet.GetStoreStatsAsync();
                Console.WriteLine($"rank {view.Rank}  {view.Model}  v{view.Version} by {view.ChangedBy} at {view.ChangedAt:u}: {view.Reason}");
                Console.WriteLine($"  hot  {view.HotBytesUsed / 1e6,8:F1} of {view.HotBudgetBytes / 1e6:F1} MB");
                Console.WriteLine($"  warm {view.WarmBytesUsed / 1e6,8:F1} of {view.WarmBudgetBytes / 1e6:F1} MB");
                long misses = stats.MissesFromWarm + stats.MissesFromCold;
                Console.WriteLine($"  hits {stats.Hits}, misses {stats.MissesFromWarm} from warm ({Mean(stats.FetchSecondsFromWarm, stats.MissesFromWarm)} ms each) " +
                    $"and {stats.MissesFromCold} from cold ({Mean(stats.FetchSecondsFromCold, stats.MissesFromCold)} ms each), hit rate {stats.Hits / (double)Math.Max(1, stats.Hits + misses):P1}");
                Console.WriteLine($"  evictions {stats.ForcedEvictions} forced, {stats.PlannedEvictions} planned; prefetches {stats.PrefetchIssued} issued, " +
                    $"{stats.PrefetchUsed} used, {stats.PrefetchWasted} wasted; integrity failures {stats.IntegrityFailures}");
                foreach (var tier in view.Tiers.GroupBy(t => t.Value).OrderBy(g => g.Key))
                    Console.WriteLine($"  {tier.Key,-5} {string.Join(" ", tier.Select(t => t.Key).Order())}");
            }
            return 0;
        });
        return command;
    }

    static string Mean(double seconds, long count) => count == 0 ? "-" : (seconds * 1000 / count).ToString("F2");

    static Command TierSet()
    {
        var rank = new Option<int>("--rank") { Description = "Rank whose TierSet changes", Required = true };
        var model = new Option<string>("--model-name") { DefaultValueFactory = _ => "default" };
        var experts = new Option<string[]>("--expert") { Description = "Expert key model/layer/expert (repeatable)", Required = true, AllowMultipleArgumentsPerToken = true };
        var tier = new Option<string>("--tier") { Description = "hot, warm or cold", Required = true };
        tier.Validators.Add(result =>
        {
            string? text = result.GetValueOrDefault<string>();
            if (!TierNames.TryParse(text, out _)) result.AddError(TierNames.ProblemWith(text));
        });
        var reason = new Option<string>("--reason") { Description = "Why; kept with the version", Required = true };
        var command = new Command("set", "Move experts of one rank to a tier (a new TierSet version)") { rank, model, experts, tier, reason };
        ClusterEndpoint endpoint = command.AddClusterOptions();
        command.SetAction(async (result, ct) =>
        {
            await using MoeClusterConnection connection = await endpoint.ConnectAsync(result, ct);
            TierSetView view = await connection.Client.GetGrain<ITierSetGrain>($"{result.GetValue(model)}/{result.GetValue(rank)}").UpdateAsync(new TierSetUpdate
            {
                Tiers = result.GetValue(experts)!.ToDictionary(e => e, _ => result.GetValue(tier)!),
                ChangedBy = $"moe tiers set ({Environment.UserName})",
                Reason = result.GetValue(reason)!,
            });
            Console.WriteLine($"rank {view.Rank} TierSet is now v{view.Version}");
            return 0;
        });
        return command;
    }
}
