using MoeRuntime.Grains.Control;

namespace MoeRuntime.Grains.Tests;

/// <summary>The <c>action</c> label of <c>moe_control_decisions_total</c>: bounded whatever a decision's text says.</summary>
public sealed class DecisionActionTests
{
    static ControlDecisionRecord Decision(string controller, string change, string outcome = "applied") =>
        new() { Controller = controller, Change = change, Reason = "r", Outcome = outcome };

    [Theory]
    [InlineData("canary", "canary trial 3 started: default/0/1 cold", "applied", "canary_start")]
    [InlineData("canary", "canary trial 3 interval 2: continue", "applied", "canary_judge")]
    [InlineData("canary", "canary trial 3 interval 4: roll back", "applied", "canary_judge")]
    [InlineData("canary", "canary trial 3 promoted: default/0/1 hot", "applied", "canary_promote")]
    [InlineData("canary", "canary trial 3 rolled back: default/0/1 warm", "applied", "canary_rollback")]
    [InlineData("canary", "canary trial 3 roll-back failed on this rank", "refused", "refused")]
    [InlineData("latency", "3 promotions", "applied", "applied")]
    [InlineData("cost", "2 demotions", "proposed", "proposed")]
    [InlineData("latency", "3 promotions", "refused", "refused")]
    [InlineData("prefetch", "lookahead 2 → 1", "something new", "refused")]
    public void EveryDecisionHasOneOfTheCataloguedActions(string controller, string change, string outcome, string action)
    {
        Assert.Equal(action, DecisionRecords.Action(Decision(controller, change, outcome)));
        Assert.Contains(action, MoeRuntime.Telemetry.Catalogue.MetricLabels.ControlAction.Values);
    }
}
