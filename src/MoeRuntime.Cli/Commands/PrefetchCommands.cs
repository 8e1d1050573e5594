using System.CommandLine;
using System.Globalization;
using MoeRuntime.Client;
using MoeRuntime.Grains;

namespace MoeRuntime.Cli.Commands;

/// <summary><c>moe prefetch</c> and <c>moe prefetch set</c>: the prefetch controller's settings and latest decision, and changing them by hand.</summary>
static class PrefetchCommands
{
    public static Command Prefetch()
    {
        var model = ModelName();
        var command = new Command("prefetch", "The prefetch settings (lookahead, per-layer thresholds) and the prefetch controller's latest decision") { model, Set() };
        ClusterEndpoint endpoint = command.AddClusterOptions();
        command.SetAction(async (result, ct) =>
        {
            await using MoeClusterConnection connection = await endpoint.ConnectAsync(result, ct);
            PrefetchControlStatus status = await connection.Client.GetGrain<IPrefetchControllerGrain>(result.GetValue(model)!).GetStatusAsync();
            string mode = !status.Enabled ? "disabled" : status.DryRun ? "dry run" : "enabled";
            Console.WriteLine($"prefetch controller: {mode}, every {status.IntervalSeconds:0.#} s, {status.Ticks} intervals run");
            Print("settings", status.Settings);
            if (status.Proposed is { } proposed) Print("proposed", proposed);
            if (status.UnreachableRanks.Length > 0) Console.WriteLine($"  ranks not read in the last interval: {string.Join(", ", status.UnreachableRanks)}");
            if (status.LastDecision is { } d)
            {
                Console.WriteLine($"last decision: {d.Controller} at {d.At:u}, {d.Outcome}{(d.Version is { } v ? $" as v{v}" : "")}");
                Console.WriteLine($"  change: {d.Change}");
                Console.WriteLine($"  reason: {d.Reason}");
                Console.WriteLine("  inputs: " + string.Join("  ", d.Inputs.OrderBy(i => i.Key, StringComparer.Ordinal).Select(i => string.Create(CultureInfo.InvariantCulture, $"{i.Key}={i.Value:0.###}"))));
            }
            else Console.WriteLine("last decision: none yet");
            return 0;
        });
        return command;
    }

    static Command Set()
    {
        var model = ModelName();
        var lookahead = new Option<int?>("--lookahead") { Description = "Layers ahead to prefetch; 0 turns prefetching off" };
        var thresholds = new Option<string[]>("--threshold")
        {
            Description = "A layer's confidence threshold as LAYER=X (0 hints every predicted expert); repeat for more layers",
            AllowMultipleArgumentsPerToken = true,
        };
        var reason = new Option<string>("--reason") { Description = "Why, for the audit trail", DefaultValueFactory = _ => "set by hand" };
        var command = new Command("set", "Change the prefetch settings; the controller tunes on from them") { model, lookahead, thresholds, reason };
        ClusterEndpoint endpoint = command.AddClusterOptions();
        command.SetAction(async (result, ct) =>
        {
            var byLayer = new Dictionary<int, double>();
            foreach (string text in result.GetValue(thresholds) ?? [])
            {
                string[] parts = text.Split('=', 2);
                if (parts.Length != 2 || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int layer)
                    || !double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out double value))
                {
                    Console.Error.WriteLine($"--threshold '{text}' is not LAYER=X, for example 2=0.3");
                    return 2;
                }
                byLayer[layer] = value;
            }
            int? newLookahead = result.GetValue(lookahead);
            if (newLookahead is null && byLayer.Count == 0)
            {
                Console.Error.WriteLine("nothing to set: give --lookahead and/or --threshold");
                return 2;
            }
            await using MoeClusterConnection connection = await endpoint.ConnectAsync(result, ct);
            PrefetchSettingsView view = await connection.Client.GetGrain<IPrefetchControllerGrain>(result.GetValue(model)!)
                .SetAsync(new PrefetchSettingsChange { Lookahead = newLookahead, Thresholds = byLayer }, $"operator {Environment.UserName}", result.GetValue(reason)!);
            Print("settings", view);
            return 0;
        });
        return command;
    }

    static void Print(string what, PrefetchSettingsView view)
    {
        Console.WriteLine($"{what} v{view.Version} by {view.ChangedBy} at {view.ChangedAt:u}: {view.Reason}");
        Console.WriteLine($"  lookahead {view.Lookahead}; thresholds " +
            string.Join("  ", view.Thresholds.Select((t, layer) => string.Create(CultureInfo.InvariantCulture, $"L{layer}={t:0.00}"))));
    }

    static Option<string> ModelName() => new("--model-name") { Description = "Model whose prefetch settings to show or change", DefaultValueFactory = _ => "default" };
}
