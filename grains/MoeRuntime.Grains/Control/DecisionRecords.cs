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

    public static string Outcome(DecisionOutcome outcome) => outcome switch
    {
        DecisionOutcome.Applied => "applied",
        DecisionOutcome.Proposed => "proposed",
        _ => "refused",
    };

    /// <summary>A balancing: its numbers (imbalance before and after, threshold, ranks), its changes in one line, and the placement map version.</summary>
    public static ControlDecisionRecord From(BalanceDecision decision) => new()
    {
        At = decision.At,
        Controller = decision.Controller,
        Rank = null,
        Inputs = new Dictionary<string, double>
        {
            ["imbalance_before"] = decision.ImbalanceBefore,
            ["imbalance_after"] = decision.ImbalanceAfter,
            ["threshold"] = decision.Inputs.Threshold,
            ["live_ranks"] = decision.Inputs.LiveRanks.Length,
            ["changes"] = decision.Changes.Length,
        },
        Change = decision.Changes.Length == 0 ? "no replica change" : string.Join("; ", decision.Changes),
        Reason = decision.Reason,
        Outcome = decision.Applied ? "applied" : decision.DryRun && decision.Changes.Length > 0 ? "proposed" : "refused",
        Version = decision.Applied ? decision.MapVersion : null,
    };
}
