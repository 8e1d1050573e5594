using MoeRuntime.Control.Loop;
using MoeRuntime.Control.Planning;

namespace MoeRuntime.Grains.Control;

/// <summary>Decisions of the pure controllers and of the balancer as the decision log keeps them.</summary>
public static class DecisionRecords
{
    /// <param name="version">The TierSet version the decision's moves were written into; null when nothing was written.</param>
    public static ControlDecisionRecord From(ControlDecision decision, long? version) => new()
    {
        At = decision.At,
        Controller = decision.Controller,
        Rank = decision.Rank,
        Inputs = decision.Inputs.ToDictionary(),
        Change = decision.Change,
        Reason = decision.Reason,
        Outcome = Outcome(decision.Outcome),
        Version = decision.Outcome == DecisionOutcome.Applied ? version : null,
    };

    /// <summary>A loop's record: the version is kept only for an applied decision.</summary>
    public static ControlDecisionRecord From(ControlRecord record) => From(record.Decision, record.Version);

    /// <summary>An operator's change (a pin, the dry-run switch), applied as it is recorded.</summary>
    public static ControlRecord Operator(DateTimeOffset at, string change, string reason, int? rank, long? version) =>
        new(new ControlDecision(at, "operator", rank, new Dictionary<string, double>(), change, reason, DecisionOutcome.Applied), version);

    /// <summary>
    /// The <c>action</c> label of <c>moe_control_decisions_total</c>: a canary trial's step (start, judge, promote, roll
    /// back) read from the canary's own change text, else the decision's outcome (applied, proposed, refused).
    /// </summary>
    public static string Action(ControlDecisionRecord decision)
    {
        ArgumentNullException.ThrowIfNull(decision);
        if (decision.Controller == "canary" && decision.Outcome == "applied")
        {
            string change = decision.Change;
            if (change.Contains(" started", StringComparison.Ordinal)) return "canary_start";
            if (change.Contains(" interval ", StringComparison.Ordinal)) return "canary_judge";
            if (change.Contains(" promoted", StringComparison.Ordinal)) return "canary_promote";
            if (change.Contains(" rolled back", StringComparison.Ordinal)) return "canary_rollback";
        }
        return decision.Outcome is "applied" or "proposed" ? decision.Outcome : "refused";
    }

    public static string Outcome(DecisionOutcome outcome) => outcome switch
    {
        DecisionOutcome.Applied => "applied",
        DecisionOutcome.Proposed => "proposed",
        _ => "refused",
    };

    /// <summary>A balancing: its numbers (imbalance before and after, threshold, ranks), its changes in one line, and the placement map version.</summary>
    public static ControlRecord From(BalanceDecision decision) => new(new ControlDecision(
        decision.At,
        decision.Controller,
        null,
        new Dictionary<string, double>
        {
            ["imbalance_before"] = decision.ImbalanceBefore,
            ["imbalance_after"] = decision.ImbalanceAfter,
            ["threshold"] = decision.Inputs.Threshold,
            ["live_ranks"] = decision.Inputs.LiveRanks.Length,
            ["changes"] = decision.Changes.Length,
        },
        decision.Changes.Length == 0 ? "no replica change" : string.Join("; ", decision.Changes),
        decision.Reason,
        decision.Applied ? DecisionOutcome.Applied : decision.DryRun && decision.Changes.Length > 0 ? DecisionOutcome.Proposed : DecisionOutcome.Refused),
        decision.Applied ? decision.MapVersion : null);
}
