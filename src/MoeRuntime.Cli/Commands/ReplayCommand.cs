using System.CommandLine;
using System.Globalization;
using MoeRuntime.Control.Prefetch;
using MoeRuntime.Control.Replay;
using MoeRuntime.Traces;

namespace MoeRuntime.Cli.Commands;

/// <summary>
/// <c>moe replay</c>: runs tier policies over a recorded routing trace offline and prints, per policy,
/// hit rate, bytes moved and modelled stall (and, with <c>--prefetch</c>, how prefetching fared).
/// </summary>
static class ReplayCommand
{
    public static Command Create()
    {
        var trace = new Option<string>("--trace") { Description = "Routing trace (JSON lines, see docs/routing-traces.md)", Required = true };
        var capacity = new Option<int[]>("--capacity")
        {
            Description = "Hot experts per layer; several values print one table each",
            AllowMultipleArgumentsPerToken = true,
        };
        var hotBytes = new Option<long?>("--hot-bytes") { Description = "Total hot budget instead of --capacity, split evenly across layers (needs the expert size)" };
        var expertBytes = new Option<long?>("--expert-bytes") { Description = "Hot bytes of one expert (default: the trace header's expert_bytes)" };
        var fetchMs = new Option<double>("--fetch-ms") { Description = "Modelled stall of one demand fetch, in milliseconds", DefaultValueFactory = _ => 2.0 };
        var prefetch = new Option<bool>("--prefetch") { Description = "Model pre-gating: after each layer, prefetch the next layer's predicted experts" };
        var accuracy = new Option<double>("--prefetch-accuracy") { Description = "Share of the next layer's experts the prediction gets right", DefaultValueFactory = _ => 0.8 };
        var accuracyFile = new Option<string?>("--prefetch-accuracy-file")
        {
            Description = "Measured pre-gating precision and recall per layer (written by moe prefetch --write-accuracy or moe generate --local --pregating-accuracy); implies --prefetch and replaces --prefetch-accuracy for the layers it lists",
        };
        var seed = new Option<int>("--seed") { Description = "Seed of the prefetch predictions", DefaultValueFactory = _ => 1 };
        var interval = new Option<int>("--interval-steps") { Description = "Steps per control interval (the controllers' policy plans at every interval end)", DefaultValueFactory = _ => 1 };
        var halfLife = new Option<double?>("--demand-half-life") { Description = "Controllers' policy: intervals after which an interval's uses weigh half in an expert's demand" };
        var hysteresis = new Option<double?>("--hysteresis") { Description = "Controllers' policy: how much more per byte a promoted expert must be worth than the one it displaces (0.05 = 5 %)" };
        var maxChanges = new Option<int?>("--max-changes") { Description = "Controllers' policy: most tier moves per layer and interval (at least 3)" };
        var transient = new Option<int?>("--transient-slots") { Description = "Controllers' policy: hot slots per layer kept out of the controller's budget for transient copies" };
        var noYield = new Option<bool>("--no-transient-yield")
        {
            Description = "Controllers' policy: turn the transient-yield rule off (experts stay assigned hot even when a slot of transient copies earns more)",
        };
        var yieldWeight = new Option<double?>("--transient-yield-weight")
        {
            Description = "Controllers' policy: how many times what a slot of transient copies earns an assigned expert's demand must beat",
        };
        var policies = new Option<string[]>("--policy")
        {
            Description = $"Policies to compare: {string.Join(", ", ReplayPolicies.Known)} (default: all)",
            AllowMultipleArgumentsPerToken = true,
        };
        var command = new Command("replay", "Replay a routing trace against tier policies (LRU, LFU, the controllers', Belady's optimum)")
        {
            trace, capacity, hotBytes, expertBytes, fetchMs, prefetch, accuracy, accuracyFile, seed, interval, halfLife, hysteresis, maxChanges, transient, noYield, yieldWeight, policies,
        };
        command.SetAction(result =>
        {
            string path = result.GetValue(trace)!;
            ReplayTrace loaded;
            try
            {
                loaded = ReplayTrace.Load(path);
            }
            catch (RoutingTraceFormatException e)
            {
                throw new ArgumentException($"{path}: {e.Message}", e);
            }
            catch (IOException e)
            {
                throw new ArgumentException($"{path}: {e.Message}", e);
            }
            long bytes = result.GetValue(expertBytes) ?? loaded.ExpertBytes ?? 0;
            int[] capacities = Capacities(result.GetValue(capacity), result.GetValue(hotBytes), bytes, loaded);
            string[] names = result.GetValue(policies) is { Length: > 0 } chosen ? chosen : [.. ReplayPolicies.Known];
            var options = new ReplayOptions
            {
                CapacityPerLayer = capacities[0],
                ExpertBytes = bytes,
                FetchMilliseconds = result.GetValue(fetchMs),
                Prefetch = result.GetValue(prefetch) || result.GetValue(accuracyFile) is not null,
                PrefetchAccuracy = result.GetValue(accuracy),
                PrefetchMeasured = result.GetValue(accuracyFile) is { } file ? PregatingAccuracyFile.Read(file) : null,
                Seed = result.GetValue(seed),
                IntervalSteps = result.GetValue(interval),
            };
            var controller = new ControllerReplayOptions();
            if (result.GetValue(halfLife) is { } h) controller = controller with { Latency = controller.Latency with { DemandHalfLifeIntervals = h } };
            if (result.GetValue(hysteresis) is { } y) controller = controller with { Guardrails = controller.Guardrails with { HysteresisRatio = y } };
            if (result.GetValue(maxChanges) is { } m) controller = controller with { Guardrails = controller.Guardrails with { MaxChangesPerInterval = m } };
            if (result.GetValue(transient) is { } t) controller = controller with { TransientSlots = t };
            if (result.GetValue(yieldWeight) is { } w) controller = controller with { Latency = controller.Latency with { TransientYieldWeight = w } };
            if (result.GetValue(noYield)) controller = controller with { Latency = controller.Latency with { TransientYield = false } };
            Run(Console.Out, path, loaded, capacities, names, options, controller);
            return 0;
        });
        return command;
    }

    /// <summary>The per-layer precision/recall a replay uses, in words: measured where the file has the layer, else the assumed accuracy.</summary>
    static string Measured(IReadOnlyList<Telemetry.Aggregation.PregatingAccuracy> measured, int layers, double assumed) =>
        string.Join(", ", Enumerable.Range(1, Math.Max(0, layers - 1)).Select(layer =>
            measured.FirstOrDefault(m => m.Layer == layer && m.Lookahead == 1 && m.Actual > 0) is { } m
                ? string.Create(CultureInfo.InvariantCulture, $"L{layer} precision {m.Precision:P1} recall {m.Recall:P1}")
                : string.Create(CultureInfo.InvariantCulture, $"L{layer} assumed {assumed:P0}")));

    static int[] Capacities(int[]? capacity, long? hotBytes, long expertBytes, ReplayTrace trace)
    {
        if (capacity is { Length: > 0 } && hotBytes is not null) throw new ArgumentException("give --capacity or --hot-bytes, not both");
        if (hotBytes is { } budget)
        {
            if (expertBytes <= 0) throw new ArgumentException("--hot-bytes needs the expert size: the trace header has no expert_bytes, pass --expert-bytes");
            long perLayer = budget / trace.Layers / expertBytes;
            if (perLayer < 1) throw new ArgumentException($"--hot-bytes {budget} holds less than one expert per layer ({trace.Layers} layers x {expertBytes} bytes)");
            return [(int)Math.Min(perLayer, trace.Experts)];
        }
        // Default: half of each layer's experts hot, the regime where policies differ most.
        return capacity is { Length: > 0 } ? capacity : [Math.Max(1, trace.Experts / 2)];
    }

    /// <summary>Replays every capacity and policy and prints the tables.</summary>
    internal static void Run(TextWriter output, string path, ReplayTrace trace, int[] capacities, string[] names, ReplayOptions options, ControllerReplayOptions controller)
    {
        foreach (string name in names) _ = ReplayPolicies.Known.Contains(name.ToLowerInvariant()) ? 0 : throw new ArgumentException($"unknown policy '{name}'; known: {string.Join(", ", ReplayPolicies.Known)}");
        string[] available = names.Where(n => ReplayPolicies.Available.Contains(n.ToLowerInvariant())).ToArray();
        string[] missing = names.Except(available).ToArray();
        output.WriteLine($"trace {Path.GetFileName(path)}: model '{trace.Model}', {trace.Layers} layers x {trace.Experts} experts, top-{trace.TopK}; " +
            $"{trace.Steps} steps, {trace.TokenLayers} token-layers, {trace.Accesses} expert accesses (distinct experts per step and layer)");
        output.WriteLine($"expert {Bytes(options.ExpertBytes)}, demand fetch {options.FetchMilliseconds.ToString("0.###", CultureInfo.InvariantCulture)} ms" +
            (!options.Prefetch ? ", no prefetch"
                : options.PrefetchMeasured is { } measured ? $", prefetch of the next layer at the measured accuracy ({Measured(measured, trace.Layers, options.PrefetchAccuracy)}; seed {options.Seed})"
                : $", prefetch of the next layer at {options.PrefetchAccuracy:P0} accuracy (seed {options.Seed})") +
            $", interval {options.IntervalSteps} step{(options.IntervalSteps == 1 ? "" : "s")}");
        if (available.Any(n => n.Equals(ReplayPolicies.Controller, StringComparison.OrdinalIgnoreCase)))
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"controller: latency controller + guardrails per layer, demand half-life {controller.Latency.DemandHalfLifeIntervals:0.###} intervals, " +
                $"hysteresis {controller.Guardrails.HysteresisRatio:0.###}, at most {controller.Guardrails.MaxChangesPerInterval} moves per layer and interval, " +
                $"{controller.TransientSlots} hot slot(s) per layer kept for transient copies, " +
                $"transient-yield rule {(controller.Latency.TransientYield ? "on, weight " : "off")}{(controller.Latency.TransientYield ? controller.Latency.TransientYieldWeight : null):0.###}"));
        if (available.Any(n => n.Equals(ReplayPolicies.Controller, StringComparison.OrdinalIgnoreCase)) && options.IntervalSteps < 8)
            output.WriteLine($"note: plans every {options.IntervalSteps} step(s) fetch promotions before the next step needs them, as prefetches do; " +
                "Belady bounds demand caching only, and the runtime plans every few seconds (try --interval-steps 32)");
        foreach (int capacity in capacities)
        {
            ReplayOptions o = options with { CapacityPerLayer = capacity };
            var results = available.Select(n => ReplaySimulator.Replay(trace, ReplayPolicies.Create(n, controller), o)).ToList();
            double? bound = results.FirstOrDefault(r => r.Policy == "Belady")?.HitRate;
            output.WriteLine();
            int hot = Math.Min(capacity, trace.Experts);
            output.WriteLine($"hot capacity {hot} of {trace.Experts} experts per layer" +
                (options.ExpertBytes > 0 ? $" ({Bytes(hot * options.ExpertBytes * trace.Layers)} in all)" : ""));
            var columns = new List<string> { "policy", "hit rate", "vs Belady", "misses", "bytes moved", "stall" };
            if (options.Prefetch) columns.AddRange(["prefetches", "prefetch hit rate", "wasted"]);
            var table = new TextTable([.. columns]);
            foreach (ReplayResult r in results)
            {
                var cells = new List<string>
                {
                    r.Policy, Percent(r.HitRate), bound is { } b ? Points(r.HitRate - b) : "-", r.Misses.ToString(CultureInfo.InvariantCulture),
                    Bytes(r.BytesMoved), Milliseconds(r.StallMilliseconds),
                };
                if (options.Prefetch) cells.AddRange([r.PrefetchFetches.ToString(CultureInfo.InvariantCulture), Percent(r.PrefetchHitRate), Bytes(r.WastedBytes)]);
                table.Add([.. cells]);
            }
            table.WriteTo(output);
        }
        foreach (string name in missing)
            output.WriteLine($"\n{name}: not in this build (see ReplayPolicies)");
    }

    static string Percent(double value) => double.IsNaN(value) ? "-" : (value * 100).ToString("0.0", CultureInfo.InvariantCulture) + " %";
    static string Points(double delta) => (delta * 100).ToString("+0.0;-0.0;0.0", CultureInfo.InvariantCulture) + " pt";

    static string Milliseconds(double ms) => ms >= 1000
        ? (ms / 1000).ToString("0.00", CultureInfo.InvariantCulture) + " s"
        : ms.ToString("0.0", CultureInfo.InvariantCulture) + " ms";

    internal static string Bytes(long bytes) => bytes switch
    {
        0 => "0 B",
        >= 1L << 30 => (bytes / (double)(1L << 30)).ToString("0.00", CultureInfo.InvariantCulture) + " GiB",
        >= 1L << 20 => (bytes / (double)(1L << 20)).ToString("0.0", CultureInfo.InvariantCulture) + " MiB",
        >= 1L << 10 => (bytes / 1024.0).ToString("0.0", CultureInfo.InvariantCulture) + " KiB",
        _ => bytes.ToString(CultureInfo.InvariantCulture) + " B",
    };
}
