using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using MoeRuntime.Client;
using MoeRuntime.Control.Prefetch;
using MoeRuntime.Grains;
using MoeRuntime.Telemetry.Aggregation;

namespace MoeRuntime.Cli.Commands;

/// <summary><c>moe prefetch</c> and <c>moe prefetch set</c>: the prefetch controller's settings and latest decision, and changing them by hand.</summary>
static class PrefetchCommands
{
    public static Command Prefetch()
    {
        var model = ModelName();
        var window = new Option<string>("--window")
        {
            Description = "Window of the measured pre-gating accuracy (the cluster aggregator's: 20s, 1m, 5m, 1h)", DefaultValueFactory = _ => "5m",
        };
        var write = new Option<string?>("--write-accuracy")
        {
            Description = "Also write the measured pre-gating accuracy to this file, for moe replay --prefetch-accuracy-file",
        };
        var command = new Command("prefetch",
            "The prefetch settings (lookahead, per-layer thresholds), the prefetch controller's latest decision and the measured pre-gating precision and recall per layer")
        {
            model, window, write, Set(),
        };
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

            string w = result.GetValue(window)!;
            IReadOnlyList<PregatingAccuracy> measured = Pregating(await connection.Client.GetGrain<IClusterAggregatorGrain>(0).GetViewAsync(w));
            PrintPregating(Console.Out, measured, w);
            if (result.GetValue(write) is { } path)
            {
                if (measured.Count == 0)
                {
                    Console.Error.WriteLine($"--write-accuracy: no pre-gating was scored in the last {w}; nothing written to {path}");
                    return 1;
                }
                PregatingAccuracyFile.Write(path, measured, $"moe prefetch, model {result.GetValue(model)}, cluster window {w}, at {DateTimeOffset.UtcNow:u}");
                Console.WriteLine($"  written to {path}");
            }
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

    /// <summary>The pre-gating entries of a cluster view (its JSON: <c>prefetch.pregating</c>); none when the view has none.</summary>
    internal static IReadOnlyList<PregatingAccuracy> Pregating(byte[] viewJson)
    {
        using JsonDocument view = JsonDocument.Parse(viewJson);
        if (!view.RootElement.TryGetProperty("prefetch", out JsonElement prefetch) || !prefetch.TryGetProperty("pregating", out JsonElement entries)
            || entries.ValueKind != JsonValueKind.Array)
            return [];
        return entries.Deserialize<PregatingAccuracy[]>(new JsonSerializerOptions(JsonSerializerDefaults.Web)) ?? [];
    }

    /// <summary>One line per layer and lookahead: precision, recall and the counts behind them.</summary>
    internal static void PrintPregating(TextWriter output, IReadOnlyList<PregatingAccuracy> measured, string window)
    {
        if (measured.Count == 0)
        {
            output.WriteLine($"pre-gating accuracy ({window}): nothing scored (prefetching off, or no step ran)");
            return;
        }
        output.WriteLine($"pre-gating accuracy ({window}), expert slots per step predicted for a layer from lookahead layers before it:");
        foreach (PregatingAccuracy m in measured)
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  layer {m.Layer} lookahead {m.Lookahead}: precision {m.Precision:P1}  recall {m.Recall:P1}  ({m.Hits} hits, {m.Predicted} predicted, {m.Actual} chosen)"));
    }

    static void Print(string what, PrefetchSettingsView view)
    {
        Console.WriteLine($"{what} v{view.Version} by {view.ChangedBy} at {view.ChangedAt:u}: {view.Reason}");
        Console.WriteLine($"  lookahead {view.Lookahead}; thresholds " +
            string.Join("  ", view.Thresholds.Select((t, layer) => string.Create(CultureInfo.InvariantCulture, $"L{layer}={t:0.00}"))));
    }

    static Option<string> ModelName() => new("--model-name") { Description = "Model whose prefetch settings to show or change", DefaultValueFactory = _ => "default" };
}
