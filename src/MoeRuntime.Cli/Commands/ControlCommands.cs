using System.CommandLine;
using MoeRuntime.Client;
using MoeRuntime.Grains;
using MoeRuntime.Serving.Tiers;

namespace MoeRuntime.Cli.Commands;

/// <summary><c>moe control ...</c>: the tier controllers' status and decisions, operator pins, dry run, and one interval on demand.</summary>
static class ControlCommands
{
    public static Command Create() =>
        new("control", "The tier controllers: status, decisions, pins, dry run") { Status(), Decisions(), Pin(), Unpin(), DryRun(), Tick(), CanaryCommands.Create() };

    static Command Status() => Controller("status", "What the controllers are doing: per rank hot allowance, bytes against budgets, $ per 1k tokens; pins",
        (controller, _) => controller.GetStatusAsync());

    static Command Tick() => Controller("tick", "Run one control interval now and show the status after it", (controller, _) => controller.TickAsync());

    static Command DryRun()
    {
        var state = new Argument<string>("on|off") { Description = "on: only propose; off: write admitted decisions" };
        state.AcceptOnlyFromAmong("on", "off");
        return Controller("dry-run", "Switch dry run on or off (kept in the controllers' storage until switched again)",
            (controller, result) => controller.SetDryRunAsync(result.GetValue(state) == "on"), state);
    }

    static Command Pin()
    {
        var expert = new Argument<string>("expert") { Description = "Expert key model/layer/expert" };
        var tier = new Argument<string>("tier") { Description = "hot, warm or cold" };
        tier.Validators.Add(result =>
        {
            string? text = result.GetValueOrDefault<string>();
            if (!TierNames.TryParse(text, out _)) result.AddError(TierNames.ProblemWith(text));
        });
        var reason = ReasonOption();
        return Controller("pin", "Pin an expert to a tier on every rank that holds it; controllers then never move it",
            (controller, result) => controller.PinAsync(result.GetValue(expert)!, result.GetValue(tier)!, Environment.UserName, result.GetValue(reason)!),
            expert, tier, reason);
    }

    static Command Unpin()
    {
        var expert = new Argument<string>("expert") { Description = "Expert key model/layer/expert" };
        var reason = ReasonOption();
        return Controller("unpin", "Release a pinned expert to the controllers",
            (controller, result) => controller.PinAsync(result.GetValue(expert)!, null, Environment.UserName, result.GetValue(reason)!),
            expert, reason);
    }

    static Command Decisions()
    {
        var model = ModelName();
        var max = new Option<int>("--max") { Description = "Most decisions to show, newest first", DefaultValueFactory = _ => 20 };
        var controller = new Option<string?>("--controller") { Description = "Only this controller's: latency, cost, prefetch, balancer or operator" };
        var command = new Command("decisions", "The controllers' decisions, newest first: time, controller, rank, outcome, change, reason, inputs") { model, max, controller };
        ClusterEndpoint endpoint = command.AddClusterOptions();
        command.SetAction(async (result, ct) =>
        {
            await using MoeClusterConnection connection = await endpoint.ConnectAsync(result, ct);
            ControlDecisionRecord[] decisions = await connection.Client.GetGrain<IControlDecisionLogGrain>(result.GetValue(model)!)
                .GetDecisionsAsync(result.GetValue(max), result.GetValue(controller));
            foreach (ControlDecisionRecord d in decisions)
            {
                string version = d.Version is { } v ? $" v{v}" : "";
                Console.WriteLine($"#{d.Sequence} {d.At:u} {d.Controller}{(d.Rank is { } r ? $" rank {r}" : "")} {d.Outcome}{version}: {d.Change}");
                Console.WriteLine($"    {d.Reason}");
                if (d.Inputs.Count > 0) Console.WriteLine($"    {string.Join("  ", d.Inputs.Select(i => $"{i.Key}={i.Value:G4}"))}");
            }
            if (decisions.Length == 0) Console.WriteLine("no decisions recorded");
            return 0;
        });
        return command;
    }

    /// <summary>A command that calls the model's controller grain and prints the status it returns.</summary>
    static Command Controller(string name, string description, Func<ITierControllerGrain, ParseResult, Task<ControllerStatus>> call, params Symbol[] symbols)
    {
        var model = ModelName();
        var command = new Command(name, description) { model };
        foreach (Symbol symbol in symbols)
        {
            if (symbol is Argument argument) command.Arguments.Add(argument);
            else if (symbol is Option option) command.Options.Add(option);
        }
        ClusterEndpoint endpoint = command.AddClusterOptions();
        command.SetAction(async (result, ct) =>
        {
            await using MoeClusterConnection connection = await endpoint.ConnectAsync(result, ct);
            Print(await call(connection.Client.GetGrain<ITierControllerGrain>(result.GetValue(model)!), result));
            return 0;
        });
        return command;
    }

    static void Print(ControllerStatus s)
    {
        string state = !s.Enabled ? "disabled" : s.Running ? "running" : "not started";
        Console.WriteLine($"controllers of '{s.Model}': {state}{(s.DryRun ? ", dry run" : "")}, every {s.Interval.TotalSeconds:G4} s, " +
            $"{s.Ticks} intervals, last {(s.LastTickAt is { } at ? at.ToString("u") : "never")}" +
            (s.DollarsPerThousandTokens is { } p ? $", ${p:G3} per 1k tokens" : ""));
        if (s.LastError is not null) Console.WriteLine($"  last error: {s.LastError}");
        if (s.StaleTelemetryRanks.Length > 0)
            Console.WriteLine($"  telemetry stale on rank(s) {string.Join(", ", s.StaleTelemetryRanks)}: the controllers decide without their latency and tokens");
        Console.WriteLine(s.Sampling.Version == 0
            ? "  telemetry sampling as configured"
            : $"  telemetry sampling at {s.Sampling.Ratio:P0} of configured (v{s.Sampling.Version} by {s.Sampling.ChangedBy} at {s.Sampling.At:u}: {s.Sampling.Reason})");
        var table = new TextTable("rank", "TierSet", "hot allowance MB", "hot MB", "hot limit MB", "hot budget MB", "warm MB", "warm budget MB", "hit ratio", "$/1k tokens");
        foreach (RankControlStatus r in s.Ranks)
            table.Add(r.Rank.ToString(), $"v{r.TierSetVersion}", r.HotAllowanceBytes is { } a ? Mb(a) : "-", Mb(r.HotAssignedBytes), Mb(r.HotLimitBytes), Mb(r.HotBudgetBytes),
                Mb(r.WarmAssignedBytes), Mb(r.WarmBudgetBytes), r.HitRatio is { } h ? h.ToString("P1") : "-",
                r.DollarsPerThousandTokens is { } d ? d.ToString("G3") : "-");
        if (s.Ranks.Length > 0) table.WriteTo(Console.Out);
        foreach (ExpertPin pin in s.Pins) Console.WriteLine($"  pinned {pin.Expert} {pin.Tier} by {pin.By} at {pin.At:u}: {pin.Reason}");
    }

    static string Mb(long bytes) => (bytes / 1e6).ToString("F1");

    static Option<string> ReasonOption() => new("--reason") { Description = "Why; kept with the pin and the TierSet version", DefaultValueFactory = _ => "operator pin" };

    static Option<string> ModelName() => new("--model-name") { Description = "Model whose controllers to address", DefaultValueFactory = _ => "default" };
}
