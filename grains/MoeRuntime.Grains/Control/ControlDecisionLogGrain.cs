using Microsoft.Extensions.Logging;
using MoeRuntime.Grains.Hosting;
using MoeRuntime.Grains.Telemetry;

namespace MoeRuntime.Grains.Control;

/// <summary>
/// The decision log of one model: the newest <see cref="Capacity"/> decisions, each given the next sequence number,
/// kept in <see cref="ControlStorage"/> (Redis with <c>--clustering redis</c>) so that a restarted rank or cluster keeps its
/// audit trail. Each recording rewrites the stored log; a failed write is logged and the decisions stay in memory, to
/// be written with the next. Each decision recorded counts in <c>moe_control_decisions_total{controller, action}</c> on
/// the rank hosting the grain: the series Grafana's control-event annotations query.
/// </summary>
public sealed class ControlDecisionLogGrain(
    [PersistentState("decision-log", ControlStorage.Name)] IPersistentState<ControlDecisionLogState> saved,
    RankTelemetry telemetry, ILogger<ControlDecisionLogGrain> logger)
    : Grain, IControlDecisionLogGrain
{
    /// <summary>Decisions kept, in memory and in storage.</summary>
    public const int Capacity = 1000;

    List<ControlDecisionRecord> Decisions => saved.State.Decisions;

    public async Task RecordAsync(ControlDecisionRecord[] decisions)
    {
        ArgumentNullException.ThrowIfNull(decisions);
        if (decisions.Length == 0) return;
        long next = Math.Max(saved.State.Next, 1);
        foreach (ControlDecisionRecord decision in decisions)
        {
            Decisions.Add(decision with { Sequence = next++ });
            telemetry.Decided(decision.Controller, DecisionRecords.Action(decision));
        }
        saved.State.Next = next;
        if (Decisions.Count > Capacity) Decisions.RemoveRange(0, Decisions.Count - Capacity);
        try
        {
            await saved.WriteStateAsync();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogWarning(e, "Decision log of {Model}: {Decisions} decisions recorded but not stored; they are written with the next", this.GetPrimaryKeyString(), decisions.Length);
        }
    }

    public Task<ControlDecisionRecord[]> GetDecisionsAsync(int maxDecisions, string? controller)
    {
        int max = Math.Clamp(maxDecisions, 1, Capacity);
        var newest = new List<ControlDecisionRecord>(Math.Min(max, 256));
        for (int i = Decisions.Count - 1; i >= 0 && newest.Count < max; i--)
        {
            ControlDecisionRecord record = Decisions[i];
            if (controller is null || string.Equals(record.Controller, controller, StringComparison.OrdinalIgnoreCase)) newest.Add(record);
        }
        return Task.FromResult(newest.ToArray());
    }
}

/// <summary>What the decision log keeps in <see cref="ControlStorage"/>: its newest decisions, oldest first, and the next sequence number.</summary>
[GenerateSerializer, Alias("moe.ControlDecisionLogState")]
public sealed class ControlDecisionLogState
{
    [Id(0)] public List<ControlDecisionRecord> Decisions { get; set; } = [];
    [Id(1)] public long Next { get; set; } = 1;
}
