using MoeRuntime.Control.Loop;
using MoeRuntime.Serving.Tiers;

namespace MoeRuntime.Grains.Control;

/// <summary>How the tier controllers write operators' pins into a rank's TierSet.</summary>
static class PinWrites
{
    /// <summary>
    /// Writes a pin. A pin to hot also lifts the rank's hot limit back to its ceiling: the pin must fit the budget the
    /// operator or the configuration set, not the limit the latency controller keeps (which it lowers again next interval).
    /// </summary>
    public static Task<TierSetView> WriteAsync(ITierSetGrain tierSet, ExpertPin pin, string what, TierControlState state) => tierSet.UpdateAsync(new TierSetUpdate
    {
        Tiers = new() { [pin.Expert] = pin.Tier },
        HotBudgetBytes = pin.Tier == "hot" && state.HotCeilingBytes > state.View.HotBudgetBytes ? state.HotCeilingBytes : null,
        ChangedBy = pin.By.StartsWith("operator:", StringComparison.Ordinal) ? pin.By : $"operator:{pin.By}",
        Reason = $"{pin.Expert} {what} to {pin.Tier}: {pin.Reason}",
    });

    /// <summary>Brings <paramref name="pin"/>'s expert to its tier on this rank; whether the rank holds the expert, and the version written (null when it sat there already).</summary>
    public static async Task<(bool Holds, long? Version)> ApplyAsync(ITierSetGrain tierSet, ExpertPin pin)
    {
        TierControlState state = await tierSet.GetControlStateAsync();
        if (state.Experts.FirstOrDefault(e => e.Expert == pin.Expert) is not { } expert) return (false, null);
        return (true, expert.Tier == pin.Tier ? null : (await WriteAsync(tierSet, pin, "pinned", state)).Version);
    }

    /// <summary>
    /// Reads the rank for the loop after bringing pinned experts that sit elsewhere (registered after the pin, or moved by
    /// hand) to their pin; each such write is recorded as the operator's.
    /// </summary>
    public static async Task<RankReading> ReadKeepingPinsAsync(ITierSetGrain tierSet, int rank, IReadOnlyDictionary<ExpertKey, ExpertPin> pins, TimeProvider time)
    {
        TierControlState state = await tierSet.GetControlStateAsync();
        var pinned = new List<ControlRecord>();
        foreach (ExpertControlState expert in state.Experts)
        {
            if (!pins.TryGetValue(ExpertKey.Parse(expert.Expert), out ExpertPin? pin) || pin.Tier == expert.Tier) continue;
            TierSetView view = await WriteAsync(tierSet, pin, "kept pinned", state);
            pinned.Add(DecisionRecords.Operator(time.GetUtcNow(), $"{pin.Expert} {expert.Tier}→{pin.Tier}", $"pinned by {pin.By}: {pin.Reason}", rank, view.Version));
        }
        return TierControlViews.Reading(pinned.Count > 0 ? await tierSet.GetControlStateAsync() : state, pinned);
    }
}
