using System.CommandLine;
using MoeRuntime.Client;
using MoeRuntime.Grains;

namespace MoeRuntime.Cli.Commands;

/// <summary>
/// <c>moe control canary ...</c>: the canary trial under way and the recent verdicts; start a trial of a TierSet change,
/// prefetch settings or a placement plan, judge an interval now, or end a trial by hand (promote, or roll back to cancel it).
/// </summary>
static class CanaryCommands
{
    public static Command Create()
    {
        var command = Canary("canary", "The canary trial under way and recent verdicts (subcommands start, tick, promote, rollback)", (canary, _) => canary.GetStatusAsync());
        command.Subcommands.Add(Start());
        command.Subcommands.Add(Canary("tick", "Judge one interval of the trial now and show the status after it", (canary, _) => canary.TickAsync()));
        command.Subcommands.Add(End("promote", "End the trial now by writing its change on every rank", promote: true));
        command.Subcommands.Add(End("rollback", "End the trial now by restoring the canary ranks' previous tiers, prefetch settings or placements (cancels it)", promote: false));
        return command;
    }

    static Command Start()
    {
        var set = new Option<string[]>("--set") { Description = "An expert's tier under trial, model/layer/expert=hot|warm|cold (repeatable)", AllowMultipleArgumentsPerToken = true };
        var hotBudget = new Option<long?>("--hot-budget-bytes") { Description = "A new hot budget for the canary ranks" };
        var metric = new Option<string[]>("--metric") { Description = "A metric the change targets: itl_p95_s, ttft_p95_s, hit_ratio, stall_s_per_1k_calls, usd_per_1k_tokens (repeatable; default the first four)" };
        var lookahead = new Option<int?>("--prefetch-lookahead") { Description = "Prefetch settings under trial instead of tiers: layers ahead to prefetch on the canary ranks (0: off)" };
        var threshold = new Option<string[]>("--prefetch-threshold")
        {
            Description = "Prefetch settings under trial: a layer's confidence threshold on the canary ranks as LAYER=X (repeatable)",
            AllowMultipleArgumentsPerToken = true,
        };
        var placement = new Option<string[]>("--placement")
        {
            Description = "A placement plan under trial instead of tiers: model/layer/expert=RANK[,RANK...] or =default (repeatable); only the canary ranks' routers use it",
            AllowMultipleArgumentsPerToken = true,
        };
        var reason = new Option<string>("--reason") { Description = "Why; kept with the trial and the TierSet versions", Required = true };
        placement.Validators.Add(result =>
        {
            foreach (string pair in result.GetValueOrDefault<string[]>() ?? [])
                if (Placement(pair) is null) result.AddError($"--placement '{pair}' is not model/layer/expert=RANK[,RANK...] or model/layer/expert=default");
        });
        set.Validators.Add(result =>
        {
            foreach (string pair in result.GetValueOrDefault<string[]>() ?? [])
                if (pair.Split('=') is not [{ Length: > 0 }, { Length: > 0 }]) result.AddError($"--set '{pair}' is not model/layer/expert=tier");
        });
        threshold.Validators.Add(result =>
        {
            foreach (string text in result.GetValueOrDefault<string[]>() ?? [])
                if (Threshold(text) is null) result.AddError($"--prefetch-threshold '{text}' is not LAYER=X, for example 2=0.3");
        });
        return Canary("start", "Try a TierSet change, prefetch settings or a placement plan on the canary ranks first; promoted or rolled back by the noise rule",
            (canary, result) =>
            {
                Dictionary<int, double> thresholds = (result.GetValue(threshold) ?? []).Select(t => Threshold(t)!.Value).ToDictionary(t => t.Key, t => t.Value);
                int? ahead = result.GetValue(lookahead);
                return canary.StartAsync(new CanaryRequest
                {
                    Tiers = (result.GetValue(set) ?? []).Select(p => p.Split('=')).ToDictionary(p => p[0], p => p[1]),
                    HotBudgetBytes = result.GetValue(hotBudget),
                    Prefetch = ahead is null && thresholds.Count == 0 ? null : new PrefetchSettingsChange { Lookahead = ahead, Thresholds = thresholds },
                    Placement = (result.GetValue(placement) ?? []).Select(p => Placement(p)!.Value).ToDictionary(p => p.Key, p => p.Value),
                    Metrics = result.GetValue(metric) ?? [],
                    By = Environment.UserName,
                    Reason = result.GetValue(reason)!,
                });
            }, set, hotBudget, lookahead, threshold, placement, metric, reason);
    }

    /// <summary><c>model/layer/expert=1,2</c> or <c>=default</c> (no replicas: the expert's default grain); null if malformed.</summary>
    internal static KeyValuePair<string, int[]>? Placement(string text)
    {
        if (text.Split('=') is not [{ Length: > 0 } expert, { Length: > 0 } ranks]) return null;
        if (ranks == "default") return new(expert, []);
        var parsed = new List<int>();
        foreach (string rank in ranks.Split(','))
        {
            if (!int.TryParse(rank, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int r)) return null;
            parsed.Add(r);
        }
        return new(expert, [.. parsed]);
    }

    static KeyValuePair<int, double>? Threshold(string text) =>
        text.Split('=', 2) is [var layer, var value]
            && int.TryParse(layer, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int l)
            && double.TryParse(value, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double v)
            ? new(l, v)
            : null;

    static Command End(string name, string description, bool promote)
    {
        var reason = new Option<string>("--reason") { Description = "Why; kept in the decision log", Required = true };
        return Canary(name, description, (canary, result) => canary.EndAsync(promote, Environment.UserName, result.GetValue(reason)!), reason);
    }

    static Command Canary(string name, string description, Func<ICanaryGrain, ParseResult, Task<CanaryStatus>> call, params Option[] options)
    {
        var model = new Option<string>("--model-name") { Description = "Model whose canary to address", DefaultValueFactory = _ => "default" };
        var command = new Command(name, description) { model };
        foreach (Option option in options) command.Options.Add(option);
        ClusterEndpoint endpoint = command.AddClusterOptions();
        command.SetAction(async (result, ct) =>
        {
            await using MoeClusterConnection connection = await endpoint.ConnectAsync(result, ct);
            Print(await call(connection.Client.GetGrain<ICanaryGrain>(result.GetValue(model)!), result));
            return 0;
        });
        return command;
    }

    static void Print(CanaryStatus s)
    {
        Console.WriteLine($"canary of '{s.Model}': {(s.Enabled ? "on" : "off")}, promoted after {s.Intervals} intervals, metrics judged from {s.MinIntervals}");
        if (s.Trial is { } trial) Print("under trial", trial);
        else Console.WriteLine("  no trial under way");
        foreach (CanaryTrialView ended in s.Recent) Print(ended.Verdict, ended);
    }

    static void Print(string state, CanaryTrialView t)
    {
        Console.WriteLine($"  #{t.Id} {state}: started {t.StartedAt:u} by {t.By} ({t.Reason}); canary rank(s) {string.Join(",", t.CanaryRanks)} vs {string.Join(",", t.ControlRanks)}; " +
            $"{t.Intervals} intervals{(t.EndedAt is { } at ? $", ended {at:u}" : "")}");
        if (t.Kind == "placement")
            Console.WriteLine($"    change ({t.Kind}, map v{string.Join(" -> v", t.PlacementVersions)}; only the canary ranks' routers use it): " +
                string.Join(", ", t.Placement.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}={(p.Value.Length == 0 ? "default" : string.Join(",", p.Value))}")));
        else if (t.Prefetch is { } p)
            Console.WriteLine($"    change ({t.Kind}): prefetch" + (p.Lookahead is { } l ? $" lookahead {l}" : "")
                + string.Concat(p.Thresholds.OrderBy(x => x.Key).Select(x => $", layer {x.Key} threshold {x.Value:0.###}")));
        else Console.WriteLine($"    change ({t.Kind}): {(t.Tiers.Count == 0 ? "no tier moves" : string.Join(", ", t.Tiers.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}={p.Value}")))}" +
            (t.HotBudgetBytes is { } b ? $"; hot budget {b} bytes" : "") + (t.HotLimitBytes is { } h ? $"; hot limit {h} bytes" : ""));
        Console.WriteLine($"    {t.Judgement}");
        if (t.Figures.Length == 0) return;
        var table = new TextTable("metric", "canary median", "control median", "control MAD", "threshold", "worse by", "n canary/control");
        foreach (CanaryMetricView f in t.Figures)
            table.Add(f.Metric, f.CanaryMedian.ToString("G4"), f.ControlMedian.ToString("G4"), f.ControlMad.ToString("G3"), f.Threshold.ToString("G3"), f.Harm.ToString("G3"),
                $"{f.CanaryIntervals}/{f.ControlSamples}");
        table.WriteTo(Console.Out);
    }
}
